//! The device authorization grant over HTTP (RFC 8628 §3.1–§3.5): ask for a
//! code, then poll the token endpoint as [`crate::poll::Poller`] says.

use devauth_proto::device::DeviceAuthorizationResponse;
use devauth_proto::grant::DEVICE_CODE_GRANT;
use devauth_proto::token::TokenResponse;

use crate::clock::{Clock, Sleeper};
use crate::http::{ClientAuth, Http, OAuthReply};
use crate::poll::{Outcome, Poller, Step};
use crate::{Error, discovery::Endpoints};

/// Asks the device authorization endpoint for a code (RFC 8628 §3.1), for
/// `resource` when given (RFC 8707: the token will be for that resource).
pub fn start(
    http: &Http,
    endpoints: &Endpoints,
    client: ClientAuth<'_>,
    scope: &str,
    resource: Option<&str>,
) -> Result<DeviceAuthorizationResponse, Error> {
    let url = endpoints
        .device_authorization
        .as_deref()
        .ok_or(Error::MissingEndpoint {
            what: "device authorization endpoint",
            flag: "--device-authorization-endpoint",
        })?;
    let mut form = Vec::new();
    if !scope.is_empty() {
        form.push(("scope", scope));
    }
    if let Some(r) = resource {
        form.push(("resource", r));
    }
    match http.post_oauth::<DeviceAuthorizationResponse>(url, client, &form)? {
        OAuthReply::Ok(resp) => {
            crate::discovery::check_url(&resp.verification_uri)?;
            if let Some(complete) = &resp.verification_uri_complete {
                crate::discovery::check_url(complete)?;
            }
            Ok(resp)
        }
        OAuthReply::Err(e) => Err(Error::oauth(e)),
    }
}

/// Something that wants to know how polling goes (the login screen).
pub trait PollObserver {
    /// Called before each wait with the time left until the code expires.
    fn waiting(&self, _wait: std::time::Duration, _left: std::time::Duration) {}
    /// Called after each poll: `true` when the server could not be reached
    /// or failed (the poller retries), `false` when it answered.
    fn reachable(&self, _reachable: bool) {}
}

impl PollObserver for () {}

/// What to poll with: the client, and the resource the code was asked for.
#[derive(Debug, Clone, Copy)]
pub struct PollFor<'a> {
    /// The client.
    pub client: ClientAuth<'a>,
    /// The resource (RFC 8707), sent again with each token request.
    pub resource: Option<&'a str>,
}

/// Polls the token endpoint until the code is approved, denied or expired.
pub fn poll(
    http: &Http,
    token_endpoint: &str,
    for_: PollFor<'_>,
    auth: &DeviceAuthorizationResponse,
    clock: &dyn Clock,
    sleeper: &dyn Sleeper,
    observer: &dyn PollObserver,
) -> Result<TokenResponse, Error> {
    let mut form = vec![
        ("grant_type", DEVICE_CODE_GRANT),
        ("device_code", auth.device_code.expose()),
    ];
    if let Some(r) = for_.resource {
        form.push(("resource", r));
    }
    poll_with(auth, clock, sleeper, observer, || {
        match http.post_oauth::<TokenResponse>(token_endpoint, for_.client, &form) {
            Ok(OAuthReply::Ok(t)) => Outcome::Token(Box::new(t)),
            Ok(OAuthReply::Err(e)) => Outcome::Refused(e),
            Err(e) => Outcome::Failed(e),
        }
    })
}

/// The polling loop over [`Poller`], with `attempt` making one poll in
/// whatever wire format the provider speaks (AWS SSO OIDC has its own).
pub fn poll_with(
    auth: &DeviceAuthorizationResponse,
    clock: &dyn Clock,
    sleeper: &dyn Sleeper,
    observer: &dyn PollObserver,
    mut attempt: impl FnMut() -> Outcome,
) -> Result<TokenResponse, Error> {
    let mut poller = Poller::new(auth.interval, auth.expires_in, clock.now());
    let mut step = poller.start(clock.now());
    loop {
        match step {
            Step::Wait(d) => {
                let left = poller.deadline() - clock.now();
                observer.waiting(d, left.try_into().unwrap_or_default());
                sleeper.sleep(d).map_err(|_| Error::Cancelled)?;
            }
            Step::Done(t) => return Ok(*t),
            Step::Stop(e) => return Err(e),
        }
        let outcome = attempt();
        observer.reachable(match &outcome {
            Outcome::Failed(e) => !e.is_transient(),
            Outcome::Refused(e) => !matches!(
                e.error,
                devauth_proto::ErrorCode::ServerError
                    | devauth_proto::ErrorCode::TemporarilyUnavailable
            ),
            Outcome::Token(_) => true,
        });
        if sleeper.is_cancelled() {
            return Err(Error::Cancelled);
        }
        step = poller.step(outcome, clock.now());
    }
}

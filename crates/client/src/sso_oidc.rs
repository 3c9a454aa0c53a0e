//! AWS IAM Identity Center and Builder ID logins through SSO OIDC
//! (`devauth login --provider aws`): the device grant in AWS's own wire
//! format.
//!
//! | call | `POST` | JSON body (camelCase) | answer |
//! |---|---|---|---|
//! | `RegisterClient` | `/client/register` | `clientName`, `clientType: public`, `scopes` | `clientId`, `clientSecret`, `clientSecretExpiresAt` |
//! | `StartDeviceAuthorization` | `/device_authorization` | `clientId`, `clientSecret`, `startUrl` | `deviceCode`, `userCode`, `verificationUri[Complete]`, `expiresIn`, `interval` |
//! | `CreateToken` | `/token` | `clientId`, `clientSecret`, `grantType`, `deviceCode` or `refreshToken` | `accessToken`, `expiresIn`, `refreshToken` |
//!
//! The service lives at `https://oidc.{region}.amazonaws.com`, or where the
//! AWS SDKs' `AWS_ENDPOINT_URL_SSO_OIDC` says. Errors come as HTTP 4xx/5xx
//! with the exception name in `x-amzn-ErrorType` (or `__type`) and, for the
//! OAuth ones, an `error` member holding the RFC 6749 code
//! (`authorization_pending`, `slow_down`, …); [`refusal`] turns either into
//! an [`ErrorResponse`], so polling runs through the same [`crate::poll`]
//! state machine as every other provider.
//!
//! A registration is valid for about 90 days and is reused until then:
//! [`RegistrationCache`] keeps it under `$DEVAUTH_HOME/aws/registrations/`
//! (0600, written atomically), keyed by region, start URL and scopes.

use std::path::PathBuf;

use devauth_proto::device::DeviceAuthorizationResponse;
use devauth_proto::token::TokenResponse;
use devauth_proto::{ErrorCode, ErrorResponse, Secret};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::Error;
use crate::clock::{Clock, Sleeper};
use crate::device::PollObserver;
use crate::http::{Http, JsonReply};
use crate::poll::Outcome;

/// The start URL of AWS Builder ID (personal accounts).
pub const BUILDER_ID_START_URL: &str = "https://view.awsapps.com/start";
/// The region used when none is given (Builder ID lives there).
pub const DEFAULT_REGION: &str = "us-east-1";
/// The AWS SDKs' variable that moves the SSO OIDC endpoint.
pub const ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_SSO_OIDC";
/// Scopes registered when none are given: the AWS CLI's, which is what makes
/// SSO OIDC hand out refresh tokens.
pub const DEFAULT_SCOPES: &str = "sso:account:access";
/// The device grant's type, as CreateToken wants it.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// A registration this close to its end is not reused for a new login.
const REGISTRATION_MARGIN: time::Duration = time::Duration::hours(1);

/// Where the SSO OIDC service of one region answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    base: String,
    region: String,
}

impl Service {
    /// The service of `region`, at `endpoint` when given (the value of
    /// [`ENDPOINT_ENV`]), else at `https://oidc.{region}.amazonaws.com`.
    pub fn new(region: &str, endpoint: Option<&str>) -> Result<Self, Error> {
        if !is_region_name(region) {
            return Err(Error::InvalidInput(format!(
                "--region {region:?} is not an AWS region name (for example us-east-1)"
            )));
        }
        let base = match endpoint.filter(|e| !e.is_empty()) {
            Some(e) => e.trim_end_matches('/').to_owned(),
            None => format!("https://oidc.{region}.amazonaws.com"),
        };
        crate::discovery::check_url(&base)?;
        Ok(Self {
            base,
            region: region.to_owned(),
        })
    }

    /// The service of `region`, honouring [`ENDPOINT_ENV`].
    pub fn from_env(region: &str) -> Result<Self, Error> {
        Self::new(region, std::env::var(ENDPOINT_ENV).ok().as_deref())
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The CreateToken URL.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Whether `region` can be an AWS region name (`us-east-1`): lower-case
/// letters, digits and `-` only, so it cannot steer a URL built from it to
/// another host.
pub fn is_region_name(region: &str) -> bool {
    !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A client registration (`RegisterClient`'s answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// `clientId`.
    pub client_id: String,
    /// `clientSecret`.
    pub client_secret: Secret,
    /// `clientSecretExpiresAt`: after it the registration is dead.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The scopes it was registered with.
    pub scopes: Vec<String>,
}

impl Registration {
    /// Whether a new login may still use it at `now`.
    pub fn usable(&self, now: OffsetDateTime) -> bool {
        self.expires_at - REGISTRATION_MARGIN > now
    }
}

/// Turns an AWS error reply into an OAuth error: the body's `error` when it
/// holds one, else the exception name (`__type`, then `x-amzn-ErrorType`)
/// mapped to its OAuth code. `None` when the reply says nothing usable.
pub fn refusal(reply: &JsonReply) -> Option<ErrorResponse> {
    #[derive(Deserialize, Default)]
    struct Body {
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        error_description: Option<String>,
        #[serde(default, rename = "__type")]
        type_: Option<String>,
        #[serde(default, alias = "Message")]
        message: Option<String>,
    }
    let body: Body = serde_json::from_str(&reply.body).unwrap_or_default();
    let exception = body
        .type_
        .as_deref()
        .or(reply.error_type.as_deref())
        .map(exception_name);
    let code = match (body.error.as_deref().filter(|e| !e.is_empty()), exception) {
        (Some(e), _) => ErrorCode::parse(e),
        (None, Some(name)) => oauth_code(name)?,
        (None, None) => return None,
    };
    let description = body
        .error_description
        .or(body.message)
        .map(|d| crate::safe_text::sanitize(&d))
        .or_else(|| exception.map(str::to_owned));
    Some(ErrorResponse {
        error: code,
        error_description: description,
        error_uri: None,
        interval: None,
    })
}

/// `com.amazonaws.ssooidc#SlowDownException:http://…` → `SlowDownException`.
fn exception_name(raw: &str) -> &str {
    let raw = raw.split(':').next().unwrap_or(raw);
    raw.rsplit('#').next().unwrap_or(raw)
}

/// The OAuth code of an SSO OIDC exception.
fn oauth_code(exception: &str) -> Option<ErrorCode> {
    Some(match exception {
        "AuthorizationPendingException" => ErrorCode::AuthorizationPending,
        "SlowDownException" => ErrorCode::SlowDown,
        "ExpiredTokenException" => ErrorCode::ExpiredToken,
        "AccessDeniedException" => ErrorCode::AccessDenied,
        "InvalidClientException" => ErrorCode::InvalidClient,
        "InvalidGrantException" => ErrorCode::InvalidGrant,
        "UnauthorizedClientException" => ErrorCode::UnauthorizedClient,
        "UnsupportedGrantTypeException" => ErrorCode::UnsupportedGrantType,
        "InvalidScopeException" => ErrorCode::InvalidScope,
        "InvalidRequestException" | "InvalidClientMetadataException" => ErrorCode::InvalidRequest,
        "InternalServerException" => ErrorCode::ServerError,
        _ => return None,
    })
}

/// Posts `body` to `path` and sorts the answer: `Ok(Ok(json))` on 2xx,
/// `Ok(Err(refusal))` on an AWS error, `Err` when nothing usable came back.
fn call(
    http: &Http,
    service: &Service,
    path: &str,
    body: &serde_json::Value,
) -> Result<Result<serde_json::Value, ErrorResponse>, Error> {
    let url = service.url(path);
    let reply = http.post_json(&url, body)?;
    if (200..300).contains(&reply.status) {
        return serde_json::from_str(&reply.body)
            .map(Ok)
            .map_err(|e| Error::BadResponse {
                url,
                status: reply.status,
                detail: format!(
                    "a body that is not JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            });
    }
    match refusal(&reply) {
        Some(err) => Ok(Err(err)),
        None => Err(Error::BadResponse {
            url,
            status: reply.status,
            detail: "no AWS error in the body or headers".into(),
        }),
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    service: &Service,
    path: &str,
    value: serde_json::Value,
) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| Error::BadResponse {
        url: service.url(path),
        status: 200,
        detail: format!("an answer missing a field SSO OIDC documents ({})", {
            // Only the field name: serde's message may quote a value.
            let m = e.to_string();
            m.split(" at line").next().unwrap_or("").to_owned()
        }),
    })
}

/// `RegisterClient`: a public client for `scopes`.
pub fn register(
    http: &Http,
    service: &Service,
    client_name: &str,
    scopes: &[String],
) -> Result<Registration, Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        client_id: String,
        client_secret: Secret,
        client_secret_expires_at: i64,
    }
    let mut body = json!({ "clientName": client_name, "clientType": "public" });
    if !scopes.is_empty() {
        body["scopes"] = json!(scopes);
    }
    let a: Answer = match call(http, service, "/client/register", &body)? {
        Ok(v) => parse(service, "/client/register", v)?,
        Err(e) => return Err(Error::oauth(e)),
    };
    let expires_at =
        OffsetDateTime::from_unix_timestamp(a.client_secret_expires_at).map_err(|_| {
            Error::BadResponse {
                url: service.url("/client/register"),
                status: 200,
                detail: "a clientSecretExpiresAt that is not a time".into(),
            }
        })?;
    Ok(Registration {
        client_id: a.client_id,
        client_secret: a.client_secret,
        expires_at,
        scopes: scopes.to_vec(),
    })
}

/// `StartDeviceAuthorization` for the portal at `start_url`.
pub fn start(
    http: &Http,
    service: &Service,
    reg: &Registration,
    start_url: &str,
) -> Result<DeviceAuthorizationResponse, Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        device_code: Secret,
        user_code: String,
        verification_uri: String,
        #[serde(default)]
        verification_uri_complete: Option<String>,
        expires_in: u64,
        #[serde(default)]
        interval: Option<u64>,
    }
    let body = json!({
        "clientId": reg.client_id,
        "clientSecret": reg.client_secret.expose(),
        "startUrl": start_url,
    });
    let a: Answer = match call(http, service, "/device_authorization", &body)? {
        Ok(v) => parse(service, "/device_authorization", v)?,
        Err(e) => return Err(Error::oauth(e)),
    };
    crate::discovery::check_url(&a.verification_uri)?;
    if let Some(c) = &a.verification_uri_complete {
        crate::discovery::check_url(c)?;
    }
    Ok(DeviceAuthorizationResponse {
        device_code: a.device_code,
        user_code: a.user_code,
        verification_uri: a.verification_uri,
        verification_uri_complete: a.verification_uri_complete,
        expires_in: a.expires_in,
        interval: a.interval,
        message: None,
    })
}

/// `CreateToken`'s answer, for the device code and the refresh token alike.
/// Read by [`poll`] and [`refresh`] here and by the token manager's refresh
/// (`devauth_import::refresh::sso_oidc`), so the wire format is written once.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAnswer {
    access_token: Secret,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<Secret>,
    #[serde(default)]
    id_token: Option<Secret>,
}

impl TokenAnswer {
    /// Reads a 2xx body. On error only the position is worth repeating:
    /// serde's message may quote a value, and values are tokens.
    pub fn from_body(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// The answer as an RFC 6749 §5.1 token response, with the `scopes` the
    /// login asked for (CreateToken does not echo them).
    pub fn into_response(self, scopes: &[String]) -> TokenResponse {
        TokenResponse {
            access_token: self.access_token,
            token_type: self
                .token_type
                .unwrap_or_else(|| devauth_proto::token::BEARER.to_owned()),
            expires_in: self.expires_in,
            refresh_token: self.refresh_token.filter(|t| !t.expose().is_empty()),
            scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
            id_token: self.id_token.filter(|t| !t.expose().is_empty()),
            extra: serde_json::Map::new(),
        }
    }
}

/// Polls `CreateToken` with the device code until the person approves,
/// denies, or the code expires.
pub fn poll(
    http: &Http,
    service: &Service,
    reg: &Registration,
    auth: &DeviceAuthorizationResponse,
    clock: &dyn Clock,
    sleeper: &dyn Sleeper,
    observer: &dyn PollObserver,
) -> Result<TokenResponse, Error> {
    let body = json!({
        "clientId": reg.client_id,
        "clientSecret": reg.client_secret.expose(),
        "grantType": DEVICE_GRANT,
        "deviceCode": auth.device_code.expose(),
    });
    crate::device::poll_with(auth, clock, sleeper, observer, || {
        match call(http, service, "/token", &body) {
            Ok(Ok(v)) => match parse::<TokenAnswer>(service, "/token", v) {
                Ok(t) => Outcome::Token(Box::new(t.into_response(&reg.scopes))),
                Err(e) => Outcome::Failed(e),
            },
            Ok(Err(refused)) => Outcome::Refused(refused),
            Err(e) => Outcome::Failed(e),
        }
    })
}

/// The JSON body of `CreateToken` with a refresh token.
pub fn refresh_request(
    client_id: &str,
    client_secret: &Secret,
    refresh_token: &Secret,
) -> serde_json::Value {
    json!({
        "clientId": client_id,
        "clientSecret": client_secret.expose(),
        "grantType": "refresh_token",
        "refreshToken": refresh_token.expose(),
    })
}

/// `CreateToken` with a refresh token. A dead refresh token
/// (`invalid_grant`) or registration (`invalid_client`, after
/// `clientSecretExpiresAt`) is [`Error::RefreshRejected`].
pub fn refresh(
    http: &Http,
    service: &Service,
    client_id: &str,
    client_secret: &Secret,
    refresh_token: &Secret,
    scopes: &[String],
) -> Result<TokenResponse, Error> {
    let body = refresh_request(client_id, client_secret, refresh_token);
    match call(http, service, "/token", &body)? {
        Ok(v) => Ok(parse::<TokenAnswer>(service, "/token", v)?.into_response(scopes)),
        Err(e)
            if matches!(
                e.error,
                ErrorCode::InvalidGrant | ErrorCode::InvalidClient | ErrorCode::ExpiredToken
            ) =>
        {
            Err(Error::RefreshRejected)
        }
        Err(e) => Err(Error::oauth(e)),
    }
}

/// The AWS SDKs' variable that moves the SSO portal endpoint (`Logout`).
pub const PORTAL_ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_SSO";

/// Ends the session at the AWS access portal (the SSO portal API's `Logout`,
/// what `aws sso logout` calls): `POST https://portal.sso.{region}.amazonaws.com/logout`
/// with the access token in `x-amz-sso_bearer_token`. SSO OIDC itself has
/// no revocation endpoint.
pub fn portal_logout(http: &Http, region: &str, access_token: &Secret) -> Result<(), Error> {
    // Same region check as the OIDC service.
    Service::new(region, None)?;
    let base = match std::env::var(PORTAL_ENDPOINT_ENV)
        .ok()
        .filter(|e| !e.is_empty())
    {
        Some(e) => e.trim_end_matches('/').to_owned(),
        None => format!("https://portal.sso.{region}.amazonaws.com"),
    };
    crate::discovery::check_url(&base)?;
    let url = format!("{base}/logout");
    let status = http.post_with_header(&url, "x-amz-sso_bearer_token", access_token)?;
    match status {
        200..=299 => Ok(()),
        // An access token that is already invalid has nothing left to end.
        401 => Ok(()),
        status => Err(Error::BadResponse {
            url,
            status,
            detail: "an error to Logout".into(),
        }),
    }
}

/// The profile `extra` key holding an AWS login's region and start URL.
pub const EXTRA_KEY: &str = "aws";

/// What an AWS login keeps in its profile besides the tokens (the client
/// registration is the profile's `client_id` and `client_secret`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRecord {
    /// The SSO region.
    pub region: String,
    /// The access portal URL.
    pub start_url: String,
    /// When the client registration expires.
    #[serde(with = "time::serde::rfc3339")]
    pub registration_expires_at: OffsetDateTime,
}

impl ProfileRecord {
    /// The record of profile `p`, if it is an AWS login.
    pub fn of(p: &crate::Profile) -> Option<Self> {
        serde_json::from_value(p.extra.get(EXTRA_KEY)?.clone()).ok()
    }
}

/// Renews an AWS login's tokens with `CreateToken` (the profile's own
/// registration). A registration past its end is not even tried.
pub fn renew(http: &Http, p: &mut crate::Profile, now: OffsetDateTime) -> Result<(), Error> {
    let Some(record) = ProfileRecord::of(p) else {
        return Err(Error::NeedsLogin {
            profile: p.name.clone(),
            reason: "the AWS login record is missing from the profile".into(),
        });
    };
    let (Some(rt), Some(client_id), Some(secret)) =
        (&p.tokens.refresh_token, &p.client_id, &p.client_secret)
    else {
        return Err(Error::NeedsLogin {
            profile: p.name.clone(),
            reason: "the access token expired and AWS gave no refresh token".into(),
        });
    };
    if record.registration_expires_at <= now {
        return Err(Error::NeedsLogin {
            profile: p.name.clone(),
            reason: "the AWS client registration expired".into(),
        });
    }
    let service = Service::from_env(&record.region)?;
    let resp = refresh(http, &service, client_id, secret, rt, &p.scopes)?;
    p.apply_response(&resp, now);
    Ok(())
}

/// Registrations kept for reuse, one 0600 JSON file each.
#[derive(Debug, Clone)]
pub struct RegistrationCache {
    dir: PathBuf,
}

impl RegistrationCache {
    /// The cache under the client's data folder.
    pub fn open_default() -> Result<Self, Error> {
        Ok(Self::at(
            crate::store::home::data_home()?
                .join("aws")
                .join("registrations"),
        ))
    }

    /// A cache in `dir`.
    pub fn at(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path(&self, service: &Service, start_url: &str, scopes: &[String]) -> PathBuf {
        let key = format!("{}|{}|{}", service.base, start_url, scopes.join(" "));
        self.dir
            .join(format!("{}.json", crate::store::home::file_name(&key)))
    }

    /// The registration for this service, portal and scopes, if one is
    /// kept and still usable at `now`.
    pub fn load(
        &self,
        service: &Service,
        start_url: &str,
        scopes: &[String],
        now: OffsetDateTime,
    ) -> Option<Registration> {
        let raw = std::fs::read(self.path(service, start_url, scopes)).ok()?;
        let reg: Registration = serde_json::from_slice(&raw).ok()?;
        (reg.usable(now) && reg.scopes == scopes).then_some(reg)
    }

    /// Keeps `reg`.
    pub fn save(
        &self,
        service: &Service,
        start_url: &str,
        reg: &Registration,
    ) -> Result<(), Error> {
        let path = self.path(service, start_url, &reg.scopes);
        crate::store::home::create_private_dir(&self.dir)?;
        let body = serde_json::to_vec_pretty(reg).map_err(|e| {
            Error::InvalidInput(format!("cannot encode the AWS client registration: {e}"))
        })?;
        crate::atomic_file::write(&path, &body)
            .map_err(|e| Error::Store(crate::store::StoreError::io(&e.path, e.source)))
    }

    /// Forgets the registration (AWS said it is no longer valid).
    pub fn forget(&self, service: &Service, start_url: &str, scopes: &[String]) {
        let _ = std::fs::remove_file(self.path(service, start_url, scopes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, header: Option<&str>, body: &str) -> JsonReply {
        JsonReply {
            status,
            error_type: header.map(str::to_owned),
            body: body.to_owned(),
        }
    }

    #[test]
    fn aws_errors_become_oauth_errors() {
        let r = refusal(&reply(
            400,
            Some("AuthorizationPendingException:http://internal.amazon.com/coral/com.amazonaws.ssooidc/"),
            r#"{"error":"authorization_pending","error_description":null}"#,
        ))
        .unwrap();
        assert_eq!(r.error, ErrorCode::AuthorizationPending);
        // Only the header names it.
        let r = refusal(&reply(400, Some("SlowDownException:http://x/"), "{}")).unwrap();
        assert_eq!(r.error, ErrorCode::SlowDown);
        // `__type` with a namespace.
        let r = refusal(&reply(
            401,
            None,
            r#"{"__type":"com.amazonaws.ssooidc#InvalidClientException","message":"expired"}"#,
        ))
        .unwrap();
        assert_eq!(r.error, ErrorCode::InvalidClient);
        assert_eq!(r.error_description.as_deref(), Some("expired"));
        assert!(refusal(&reply(502, None, "<html>")).is_none());
    }

    #[test]
    fn service_urls_and_region_names() {
        let s = Service::new("eu-west-1", None).unwrap();
        assert_eq!(s.token_url(), "https://oidc.eu-west-1.amazonaws.com/token");
        let s = Service::new("us-east-1", Some("http://127.0.0.1:9/")).unwrap();
        assert_eq!(s.token_url(), "http://127.0.0.1:9/token");
        assert!(Service::new("eu-west-1.evil.example/x", None).is_err());
        assert!(Service::new("us-east-1", Some("http://example.com")).is_err());
    }

    #[test]
    fn registrations_are_reused_until_near_their_end() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RegistrationCache::at(dir.path().join("r"));
        let s = Service::new("us-east-1", None).unwrap();
        let now = OffsetDateTime::now_utc();
        let scopes = vec!["sso:account:access".to_owned()];
        let reg = Registration {
            client_id: "cid".into(),
            client_secret: Secret::new("cs"),
            expires_at: now + time::Duration::days(90),
            scopes: scopes.clone(),
        };
        cache.save(&s, BUILDER_ID_START_URL, &reg).unwrap();
        assert_eq!(
            cache.load(&s, BUILDER_ID_START_URL, &scopes, now),
            Some(reg)
        );
        assert!(
            cache
                .load(&s, "https://other.awsapps.com/start", &scopes, now)
                .is_none()
        );
        assert!(cache.load(&s, BUILDER_ID_START_URL, &[], now).is_none());
        let late = now + time::Duration::days(90) - time::Duration::minutes(30);
        assert!(
            cache
                .load(&s, BUILDER_ID_START_URL, &scopes, late)
                .is_none()
        );
        cache.forget(&s, BUILDER_ID_START_URL, &scopes);
        assert!(cache.load(&s, BUILDER_ID_START_URL, &scopes, now).is_none());
    }
}

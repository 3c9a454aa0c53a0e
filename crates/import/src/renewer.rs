//! Refreshing imported profiles from `devauth token` and `devauth run`,
//! through the client's [`Renewer`] seam.
//!
//! [`ImportRenewer`] runs the follow/own step; on a permanent failure it
//! re-reads the source once (the other tool may have rotated the token, or
//! the person logged in again) and retries once, then reports
//! [`Error::RefreshRejected`], which makes the client mark the profile
//! `needs-login`. A temporary failure is [`Error::Unreachable`]: the profile
//! is left as it was. [`AnyRenewer`] picks it for imported profiles and the
//! client's [`OAuthRenewer`] for the rest.

use std::time::Duration;

use devauth_client::Error;
use devauth_client::session::{OAuthRenewer, Renewer};
use devauth_client::store::Profile;
use time::OffsetDateTime;

use crate::FailureClass;
use crate::follow::{Refresher, StepError};
use crate::profile;
use crate::refresh::{Endpoints, Http};

/// Refreshes imported profiles.
#[derive(Debug, Clone)]
pub struct ImportRenewer {
    /// The refresh calls.
    pub refresher: Refresher,
    /// A source login valid longer than this is taken instead of refreshing.
    pub min_valid: Duration,
}

impl ImportRenewer {
    /// With endpoints from the environment.
    pub fn from_env() -> Self {
        Self {
            refresher: Refresher {
                http: Http::default(),
                endpoints: Endpoints::from_env(),
            },
            min_valid: Duration::from_secs(60),
        }
    }
}

fn to_client_error(e: &StepError) -> Error {
    match e.class() {
        FailureClass::Permanent => Error::RefreshRejected,
        FailureClass::Temporary => Error::Unreachable {
            url: "the refresh endpoint".into(),
            detail: e.to_string(),
        },
    }
}

impl Renewer for ImportRenewer {
    fn renew(&self, p: &mut Profile, now: OffsetDateTime) -> Result<(), Error> {
        match profile::step(&self.refresher, p, now, self.min_valid) {
            Ok(_) => Ok(()),
            Err(e) if e.class() == FailureClass::Permanent => match profile::reread(p, now) {
                Ok(true) => profile::step(&self.refresher, p, now, self.min_valid)
                    .map(|_| ())
                    .map_err(|e| to_client_error(&e)),
                _ => Err(to_client_error(&e)),
            },
            Err(e) => Err(to_client_error(&e)),
        }
    }
}

/// [`ImportRenewer`] for imported profiles, [`OAuthRenewer`] for the rest:
/// what `devauth token` and `run` should pass to
/// `devauth_client::session::fresh_access_token`. Both halves are built on
/// first use, so a caller whose cached token is still good builds no HTTP
/// client and reads no endpoint setting.
#[derive(Debug)]
pub struct AnyRenewer {
    import: std::cell::OnceCell<ImportRenewer>,
    oauth: OAuthRenewer,
}

impl AnyRenewer {
    /// With endpoints from the environment (read when first needed).
    pub fn from_env() -> Self {
        Self {
            import: std::cell::OnceCell::new(),
            oauth: OAuthRenewer::new(),
        }
    }
}

impl Renewer for AnyRenewer {
    fn renew(&self, p: &mut Profile, now: OffsetDateTime) -> Result<(), Error> {
        if profile::is_imported(p) {
            self.import
                .get_or_init(ImportRenewer::from_env)
                .renew(p, now)
        } else {
            self.oauth.renew(p, now)
        }
    }
}

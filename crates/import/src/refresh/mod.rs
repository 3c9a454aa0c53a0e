//! The refresh calls of the tools whose logins we adopt, and the one rule
//! that matters most: telling a dead refresh token ([`FailureClass::Permanent`])
//! apart from a flaky network ([`FailureClass::Temporary`]).
//!
//! - [`kiro_social`]: Kiro's `POST /refreshToken` (JSON, camelCase);
//! - [`sso_oidc`]: AWS SSO OIDC `CreateToken` (JSON, camelCase; the wire
//!   format is the client's, [`devauth_client::sso_oidc`]);
//! - [`oauth2`]: a plain RFC 6749 §6 refresh (form-encoded).
//!
//! Endpoints can be redirected ([`Endpoints`]) with `AWS_ENDPOINT_URL_SSO_OIDC`
//! (the AWS SDK's own convention) and `DEVAUTH_KIRO_AUTH_ENDPOINT`.

pub mod classify;
mod http;
pub mod kiro_social;
pub mod oauth2;
mod refreshed;
pub mod sso_oidc;

use time::OffsetDateTime;

pub use classify::{FailureClass, RefreshError};
pub use http::Http;
pub use refreshed::Refreshed;

use crate::credential::{Credential, Kind};

/// The default region.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where the refresh calls go.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// Replaces `https://oidc.{region}.amazonaws.com`.
    pub sso_oidc: Option<String>,
    /// Replaces `https://prod.{region}.auth.desktop.kiro.dev`.
    pub kiro_auth: Option<String>,
}

impl Endpoints {
    /// From `AWS_ENDPOINT_URL_SSO_OIDC` and `DEVAUTH_KIRO_AUTH_ENDPOINT`.
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        Self {
            sso_oidc: var("AWS_ENDPOINT_URL_SSO_OIDC"),
            kiro_auth: var("DEVAUTH_KIRO_AUTH_ENDPOINT"),
        }
    }

    /// The CreateToken URL for `region`, by the client's rule
    /// ([`devauth_client::sso_oidc::Service`]): a region that is not an AWS
    /// region name, or an endpoint that is neither https nor loopback, is
    /// refused before any request (permanent: retrying cannot mend it).
    pub fn create_token_url(&self, region: &str) -> Result<String, RefreshError> {
        devauth_client::sso_oidc::Service::new(region, self.sso_oidc.as_deref())
            .map(|s| s.token_url())
            .map_err(|e| RefreshError::permanent(format!("no CreateToken URL for this login: {e}")))
    }

    /// The Kiro refresh URL for `region`, held to the same rules as
    /// [`Endpoints::create_token_url`]: an AWS region name, and an endpoint
    /// that is https or loopback.
    pub fn kiro_refresh_url(&self, region: &str) -> Result<String, RefreshError> {
        if !devauth_client::sso_oidc::is_region_name(region) {
            return Err(RefreshError::permanent(
                "no Kiro refresh URL for this login: its region is not an AWS region name",
            ));
        }
        let base = match &self.kiro_auth {
            Some(base) => base.trim_end_matches('/').to_owned(),
            None => format!("https://prod.{region}.auth.desktop.kiro.dev"),
        };
        devauth_client::discovery::check_url(&base).map_err(|e| {
            RefreshError::permanent(format!("no Kiro refresh URL for this login: {e}"))
        })?;
        Ok(format!("{base}/refreshToken"))
    }
}

/// Refreshes `cred` with its kind's call, at `now`.
pub fn refresh(
    cred: &Credential,
    http: &Http,
    endpoints: &Endpoints,
    now: OffsetDateTime,
) -> Result<Refreshed, RefreshError> {
    let Some(refresh_token) = cred.refresh_token.as_ref() else {
        return Err(RefreshError::permanent("the login has no refresh token"));
    };
    if cred.registration_expired(now) {
        return Err(RefreshError::permanent(
            "the client registration has expired",
        ));
    }
    let region = cred.region.as_deref().unwrap_or(DEFAULT_REGION);
    match cred.kind {
        Kind::KiroSocial => kiro_social::refresh(
            http,
            &endpoints.kiro_refresh_url(region)?,
            refresh_token,
            now,
        ),
        Kind::BuilderId | Kind::IdentityCenter | Kind::AwsSso => {
            let (Some(client_id), Some(client_secret)) = (&cred.client_id, &cred.client_secret)
            else {
                return Err(RefreshError::permanent(
                    "the login has no client registration",
                ));
            };
            sso_oidc::create_token(
                http,
                &endpoints.create_token_url(region)?,
                client_id,
                client_secret,
                refresh_token,
                now,
            )
        }
        Kind::ExternalIdp => {
            let Some(endpoint) = cred.token_endpoint.as_deref() else {
                return Err(RefreshError::permanent("the login has no token endpoint"));
            };
            oauth2::refresh(
                http,
                endpoint,
                cred.client_id.as_deref(),
                refresh_token,
                &cred.scopes,
                now,
            )
        }
    }
}

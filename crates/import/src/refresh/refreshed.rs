//! What a successful refresh hands back, whatever its wire format.

use devauth_proto::Secret;
use time::OffsetDateTime;

use crate::credential::Credential;

/// A successful refresh.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// The new access token.
    pub access_token: Secret,
    /// The new refresh token, when the server rotated it.
    pub refresh_token: Option<Secret>,
    /// The new expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// A new profile ARN (Kiro).
    pub profile_arn: Option<String>,
}

impl Refreshed {
    /// `cred` with this refresh applied (the old refresh token kept when the
    /// server sent none).
    pub fn apply(&self, cred: &Credential) -> Credential {
        let mut out = cred.clone();
        out.access_token = self.access_token.clone();
        if let Some(rt) = &self.refresh_token {
            out.refresh_token = Some(rt.clone());
        }
        out.expires_at = self.expires_at;
        if let Some(arn) = &self.profile_arn {
            out.profile_arn = Some(arn.clone());
        }
        out
    }
}

/// `now + expires_in` seconds.
pub(crate) fn expiry(now: OffsetDateTime, expires_in: Option<i64>) -> Option<OffsetDateTime> {
    expires_in.map(|s| now + time::Duration::seconds(s.max(0)))
}

//! What a profile holds, as stored on disk (versioned JSON).

use devauth_proto::Secret;
use devauth_proto::token::TokenResponse;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::error::StoreError;
use crate::discovery::Endpoints;

/// One issuer + one account + its tokens.
///
/// `Debug` never shows a token ([`Secret`] redacts itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// File format version, 1.
    #[serde(default = "one")]
    pub version: u32,
    /// The profile name (also the file name).
    pub name: String,
    /// The issuer URL; `None` for a bare token given with `--with-token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The OAuth client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Who the tokens belong to, for display (a username, email or `sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The subject (`sub`) when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Granted scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// How the credentials were obtained.
    pub source: Source,
    /// Endpoints used to refresh and revoke.
    #[serde(default)]
    pub endpoints: Endpoints,
    /// The tokens.
    pub tokens: Tokens,
    /// For `client_credentials` profiles: the secret, to fetch new tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// Whether the credentials can still be used.
    #[serde(default)]
    pub state: ProfileState,
    /// When the profile was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the profile was last written.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Anything a producer (an importer) needs to keep; preserved on rewrite.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn one() -> u32 {
    1
}

impl Profile {
    /// A new, active profile holding `tokens`, with every optional field
    /// empty; set `issuer`, `client_id`, `endpoints`, ... afterwards. For
    /// importers: `Profile::new("kiro", Source::Imported { tool: "kiro-cli".into() }, tokens, now)`.
    pub fn new(name: &str, source: Source, tokens: Tokens, now: OffsetDateTime) -> Self {
        Self {
            version: 1,
            name: name.to_owned(),
            issuer: None,
            client_id: None,
            account: None,
            subject: None,
            scopes: Vec::new(),
            source,
            endpoints: Endpoints::default(),
            tokens,
            client_secret: None,
            state: ProfileState::Active,
            created_at: now,
            updated_at: now,
            extra: serde_json::Map::new(),
        }
    }

    /// Folds a token response received at `now` into the profile: new
    /// tokens (keeping the refresh token when none came back), the granted
    /// scopes when the server names them, and who the tokens belong to when
    /// the response says.
    pub fn apply_response(&mut self, resp: &TokenResponse, now: OffsetDateTime) {
        self.tokens = Tokens::from_response(resp, now, self.tokens.refresh_token.as_ref());
        if let Some(scope) = &resp.scope {
            self.scopes = scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        let acct = crate::account::from_response(resp);
        if acct.display.is_some() {
            self.account = acct.display;
            self.subject = acct.subject;
        }
        self.updated_at = now;
    }
}

/// How a profile's credentials were obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// `devauth login` (RFC 8628).
    DeviceCode,
    /// `devauth login --web` (authorization code + PKCE).
    Loopback,
    /// `devauth login --with-token`.
    WithToken,
    /// `devauth login --client-credentials`.
    ClientCredentials,
    /// `devauth import TOOL`: refreshed by that tool's refresher.
    Imported {
        /// The tool (`kiro-cli`, `aws-sso`).
        tool: String,
    },
}

impl Source {
    /// A short word for display and JSON.
    pub fn as_str(&self) -> &str {
        match self {
            Self::DeviceCode => "device_code",
            Self::Loopback => "loopback",
            Self::WithToken => "with_token",
            Self::ClientCredentials => "client_credentials",
            Self::Imported { tool } => tool,
        }
    }
}

/// Tokens and their expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    /// The access token.
    pub access_token: Secret,
    /// Its type, normally `Bearer`.
    #[serde(default = "bearer")]
    pub token_type: String,
    /// When the access token expires; `None` when unknown.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// The refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// The OpenID Connect ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<Secret>,
}

fn bearer() -> String {
    devauth_proto::token::BEARER.to_owned()
}

impl Tokens {
    /// Tokens from a token response received at `now`. A response without a
    /// new refresh token keeps `previous_refresh` (RFC 6749 §6).
    pub fn from_response(
        resp: &TokenResponse,
        now: OffsetDateTime,
        previous_refresh: Option<&Secret>,
    ) -> Self {
        Self {
            access_token: resp.access_token.clone(),
            token_type: resp.token_type.clone(),
            expires_at: resp
                .expires_in
                .map(|s| crate::clock::later(now, std::time::Duration::from_secs(s))),
            refresh_token: resp
                .refresh_token
                .clone()
                .or_else(|| previous_refresh.cloned()),
            id_token: resp.id_token.clone(),
        }
    }

    /// Whether the access token is good for at least `min_ttl` more.
    pub fn is_fresh(&self, now: OffsetDateTime, min_ttl: std::time::Duration) -> bool {
        match self.expires_at {
            None => true,
            Some(at) => crate::clock::later(now, min_ttl) < at,
        }
    }
}

/// Whether a profile's credentials can still be used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ProfileState {
    /// Usable (the access token may still need a refresh).
    #[default]
    Active,
    /// The refresh token was rejected or the credentials cannot be renewed:
    /// only a new `devauth login` helps. Never retried automatically.
    NeedsLogin {
        /// Why, in a few words (no secret).
        reason: String,
        /// Since when.
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
}

impl ProfileState {
    /// `active` or `needs-login`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsLogin { .. } => "needs-login",
        }
    }
}

/// Checks a profile name: 1–64 of `[A-Za-z0-9._-]`, not starting with `.`.
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    let ok = (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName(crate::safe_text::sanitize(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["default", "work.eu", "a_b-c", "X1"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "..", "a b", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn state_serialises_tagged() {
        let s = ProfileState::NeedsLogin {
            reason: "refresh token rejected".into(),
            since: OffsetDateTime::from_unix_timestamp(0).unwrap(),
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["state"], "needs-login");
        assert_eq!(v["since"], "1970-01-01T00:00:00Z");
        assert_eq!(
            serde_json::from_value::<ProfileState>(v).unwrap().as_str(),
            "needs-login"
        );
    }
}

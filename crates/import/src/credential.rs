//! [`Credential`]: what devauth keeps for an adopted login — the tokens, what
//! is needed to refresh them, and where they came from ([`SourceRef`]) so the
//! source can be re-read and, in [`Mode::Follow`], written back.

use std::path::PathBuf;

use devauth_proto::Secret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How the login refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// kiro-cli social login (Google, GitHub): Kiro's `refreshToken` call.
    KiroSocial,
    /// AWS Builder ID (through kiro-cli): SSO OIDC `CreateToken`.
    BuilderId,
    /// AWS IAM Identity Center (through kiro-cli): SSO OIDC `CreateToken`.
    IdentityCenter,
    /// An external identity provider (through kiro-cli): RFC 6749 refresh.
    ExternalIdp,
    /// The AWS CLI v2 SSO cache: SSO OIDC `CreateToken`.
    AwsSso,
}

impl Kind {
    /// A short human name.
    pub fn describe(self) -> &'static str {
        match self {
            Self::KiroSocial => "kiro-cli social login",
            Self::BuilderId => "kiro-cli AWS Builder ID",
            Self::IdentityCenter => "kiro-cli IAM Identity Center",
            Self::ExternalIdp => "kiro-cli external identity provider",
            Self::AwsSso => "AWS SSO",
        }
    }
}

/// Who refreshes the refresh token, which rotates: only one party can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Re-read the source before each refresh, use it when it is fresher,
    /// and write our refresh back into it, so the other tool keeps working.
    #[default]
    Follow,
    /// Take a copy and refresh it ourselves; the other tool will have to
    /// log in again once we rotate the refresh token.
    Own,
}

impl Mode {
    /// `follow` or `own`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Follow => "follow",
            Self::Own => "own",
        }
    }
}

/// Where an adopted login lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SourceRef {
    /// A row of kiro-cli's `auth_kv` table.
    KiroCli {
        /// The database file.
        db: PathBuf,
        /// The `auth_kv` key of the token row.
        key: String,
    },
    /// One JSON file of the AWS SSO cache.
    AwsSso {
        /// The cache file.
        file: PathBuf,
    },
}

impl SourceRef {
    /// The file to watch for changes.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Self::KiroCli { db, .. } => db,
            Self::AwsSso { file } => file,
        }
    }

    /// The tool that wrote it (for "log in with … again").
    pub fn tool(&self) -> &'static str {
        match self {
            Self::KiroCli { .. } => "kiro-cli",
            Self::AwsSso { .. } => "`aws sso login`",
        }
    }
}

/// An adopted login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    /// How it refreshes.
    pub kind: Kind,
    /// Follow or own.
    pub mode: Mode,
    /// Where it came from.
    pub source: SourceRef,
    /// The access token.
    pub access_token: Secret,
    /// The refresh token, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// When the access token expires.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// AWS region of the OIDC or Kiro endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// SSO start URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_url: Option<String>,
    /// OIDC client id (Builder ID, Identity Center, AWS SSO, external IdP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// OIDC client secret of the registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// When the client registration expires.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub registration_expires_at: Option<OffsetDateTime>,
    /// Token endpoint of an external IdP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// CodeWhisperer / Kiro profile ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_arn: Option<String>,
    /// Scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

impl Credential {
    /// Seconds until the access token expires (negative when it has); `None`
    /// when the expiry is unknown.
    pub fn expires_in(&self, now: OffsetDateTime) -> Option<i64> {
        self.expires_at.map(|t| (t - now).whole_seconds())
    }

    /// Whether the registration this login depends on has expired.
    pub fn registration_expired(&self, now: OffsetDateTime) -> bool {
        self.registration_expires_at.is_some_and(|t| t <= now)
    }

    /// Whether `other` holds a newer login than `self`: a different refresh
    /// or access token that expires no sooner.
    pub fn is_superseded_by(&self, other: &Credential) -> bool {
        let different =
            other.refresh_token != self.refresh_token || other.access_token != self.access_token;
        let later = match (self.expires_at, other.expires_at) {
            (Some(a), Some(b)) => b >= a,
            (None, _) => true,
            (Some(_), None) => false,
        };
        different && later
    }
}

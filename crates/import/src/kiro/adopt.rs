//! Turning one read of kiro-cli's database into a [`Credential`].
//!
//! When several token rows hold a login, the one that expires last wins; on
//! a tie, the better key (social, odic, external IdP, then legacy odic).
//! Builder ID is an odic login whose start URL is Builder ID's own (or
//! absent); any other start URL is IAM Identity Center.

use std::path::Path;

use time::OffsetDateTime;

use super::db::Snapshot;
use super::token::{Registration, TokenKey, TokenRow, profile_arn_from_state};
use crate::credential::{Credential, Kind, Mode, SourceRef};
use crate::error::ImportError;
use crate::rfc3339;

/// Builder ID's start URL.
pub const BUILDER_ID_START_URL: &str = "https://view.awsapps.com/start";

/// The region when the row names none.
pub const DEFAULT_REGION: &str = "us-east-1";

fn is_builder_id(start_url: Option<&str>) -> bool {
    match start_url {
        None => true,
        Some(url) => url.trim_end_matches(['/', '#']) == BUILDER_ID_START_URL,
    }
}

/// The best token row of a snapshot: the one that expires last, ties broken
/// by key preference. Rows without any token are skipped.
pub fn best_token(snapshot: &Snapshot) -> Result<Option<TokenRow>, ImportError> {
    let mut best: Option<TokenRow> = None;
    for (key, raw) in &snapshot.tokens {
        let row = TokenRow::parse(*key, raw)?;
        if !row.has_token() {
            continue;
        }
        let better = match &best {
            None => true,
            Some(b) => match (row.expires_at, b.expires_at) {
                (Some(r), Some(b_at)) if r != b_at => r > b_at,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                _ => row.key < b.key,
            },
        };
        if better {
            best = Some(row);
        }
    }
    Ok(best)
}

/// Adopts the best login of `snapshot` (read from `db`) as a credential.
///
/// Fails, and nothing should be written, when there is no login, the login
/// lacks what it needs to refresh, or its client registration has expired.
pub fn adopt(
    db: &Path,
    snapshot: &Snapshot,
    mode: Mode,
    now: OffsetDateTime,
) -> Result<Credential, ImportError> {
    let what = db.display().to_string();
    let row = best_token(snapshot)?.ok_or_else(|| ImportError::NoLogin {
        what: what.clone(),
        tool: "kiro-cli",
    })?;
    let registration = row
        .key
        .registration_keys()
        .iter()
        .find_map(|k| snapshot.registrations.iter().find(|(rk, _)| rk == k))
        .map(|(k, raw)| Registration::parse(k, raw))
        .transpose()?;
    let kind = match row.key {
        TokenKey::Social => Kind::KiroSocial,
        TokenKey::ExternalIdp => Kind::ExternalIdp,
        TokenKey::Odic | TokenKey::LegacyOdic if is_builder_id(row.start_url.as_deref()) => {
            Kind::BuilderId
        }
        TokenKey::Odic | TokenKey::LegacyOdic => Kind::IdentityCenter,
    };
    let mut client_id = row.client_id.clone();
    let mut client_secret = None;
    let mut registration_expires_at = None;
    if matches!(kind, Kind::BuilderId | Kind::IdentityCenter) {
        let reg = registration
            .as_ref()
            .ok_or_else(|| ImportError::Malformed {
                what: row.key.as_str().to_owned(),
                detail: "no device registration goes with this login".into(),
            })?;
        if let Some(at) = reg.client_secret_expires_at.filter(|t| *t <= now) {
            return Err(ImportError::RegistrationExpired {
                what,
                at: rfc3339::format(at),
                tool: "kiro-cli",
            });
        }
        client_id = reg.client_id.clone();
        client_secret = reg.client_secret.clone();
        registration_expires_at = reg.client_secret_expires_at;
        if client_id.is_none() || client_secret.is_none() {
            return Err(ImportError::Malformed {
                what: reg.key.clone(),
                detail: "the device registration lacks client_id or client_secret".into(),
            });
        }
    }
    if kind == Kind::ExternalIdp && row.token_endpoint.is_none() {
        return Err(ImportError::Malformed {
            what: row.key.as_str().to_owned(),
            detail: "an external IdP login without token_endpoint cannot be refreshed".into(),
        });
    }
    let region = row
        .region
        .clone()
        .or_else(|| registration.as_ref().and_then(|r| r.region.clone()))
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    let profile_arn = row.profile_arn.clone().or_else(|| {
        snapshot
            .profile_state
            .as_deref()
            .and_then(profile_arn_from_state)
    });
    let scopes = if row.scopes.is_empty() {
        registration.map(|r| r.scopes).unwrap_or_default()
    } else {
        row.scopes.clone()
    };
    Ok(Credential {
        kind,
        mode,
        source: SourceRef::KiroCli {
            db: db.to_path_buf(),
            key: row.key.as_str().to_owned(),
        },
        access_token: row.access_token.clone().unwrap_or_default(),
        refresh_token: row.refresh_token.clone(),
        expires_at: row.expires_at,
        region: Some(region),
        start_url: row.start_url.clone(),
        client_id,
        client_secret,
        registration_expires_at,
        token_endpoint: row.token_endpoint.clone(),
        profile_arn,
        scopes,
    })
}

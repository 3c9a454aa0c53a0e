//! Adopted logins as `devauth-client` profiles, so `devauth token`, `run`,
//! `status` and `profiles` see them like any other.
//!
//! The profile's `source` is `Imported { tool }` (`kiro-cli` or `aws-sso`),
//! its `tokens` hold the access and refresh tokens and expiry, and
//! `extra.import` holds the rest of the [`Credential`] (kind, mode, where it
//! came from, region, client registration) with the token fields left out,
//! so each secret is stored once.

use std::time::Duration;

use devauth_client::store::{Profile, ProfileState, Source, Tokens};
use devauth_proto::Secret;
use time::OffsetDateTime;

use crate::credential::{Credential, SourceRef};
use crate::error::ImportError;
use crate::follow::{self, Outcome, Refresher, StepError};

/// The `extra` key of the import record.
pub const EXTRA_KEY: &str = "import";

/// The tool name stored in `Source::Imported`.
pub fn tool(cred: &Credential) -> &'static str {
    match cred.source {
        SourceRef::KiroCli { .. } => "kiro-cli",
        SourceRef::AwsSso { .. } => "aws-sso",
    }
}

/// Whether `p` holds an adopted login.
pub fn is_imported(p: &Profile) -> bool {
    matches!(p.source, Source::Imported { .. }) && p.extra.contains_key(EXTRA_KEY)
}

/// The credential of an imported profile; `None` for other profiles.
pub fn credential_of(p: &Profile) -> Result<Option<Credential>, ImportError> {
    if !matches!(p.source, Source::Imported { .. }) {
        return Ok(None);
    }
    let Some(meta) = p.extra.get(EXTRA_KEY) else {
        return Ok(None);
    };
    let mut cred: Credential = serde_json::from_value(meta.clone())
        .map_err(|e| ImportError::malformed(format!("profile {}", p.name), &e))?;
    cred.access_token = p.tokens.access_token.clone();
    cred.refresh_token = p.tokens.refresh_token.clone();
    cred.expires_at = p.tokens.expires_at;
    Ok(Some(cred))
}

/// Writes `cred` into `p` (tokens, scopes, client id, the import record).
pub fn apply(p: &mut Profile, cred: &Credential, now: OffsetDateTime) {
    let mut meta = cred.clone();
    meta.access_token = Secret::default();
    meta.refresh_token = None;
    meta.expires_at = None;
    p.source = Source::Imported {
        tool: tool(cred).to_owned(),
    };
    p.tokens = Tokens {
        access_token: cred.access_token.clone(),
        token_type: devauth_proto::token::BEARER.to_owned(),
        expires_at: cred.expires_at,
        refresh_token: cred.refresh_token.clone(),
        id_token: None,
    };
    p.client_id = cred.client_id.clone();
    p.scopes = cred.scopes.clone();
    p.issuer = cred.start_url.clone();
    if let Ok(v) = serde_json::to_value(&meta) {
        p.extra.insert(EXTRA_KEY.to_owned(), v);
    }
    p.updated_at = now;
}

/// A new profile `name` holding `cred`.
pub fn new_profile(name: &str, cred: &Credential, now: OffsetDateTime) -> Profile {
    let source = Source::Imported {
        tool: tool(cred).to_owned(),
    };
    let tokens = Tokens {
        access_token: Secret::default(),
        token_type: devauth_proto::token::BEARER.to_owned(),
        expires_at: None,
        refresh_token: None,
        id_token: None,
    };
    let mut p = Profile::new(name, source, tokens, now);
    apply(&mut p, cred, now);
    p
}

/// What a refresh step did to a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stepped {
    /// We refreshed.
    Refreshed,
    /// The source held a fresher login; no request was made.
    TookSource,
}

/// Runs the follow/own refresh step on an imported profile and folds the
/// result into it. On failure the profile holds the login that was tried
/// (following, the source's), so a later re-read compares with it.
pub fn step(
    refresher: &Refresher,
    p: &mut Profile,
    now: OffsetDateTime,
    min_valid: Duration,
) -> Result<Stepped, StepError> {
    let cred = credential_of(p)?.ok_or_else(|| ImportError::NoLogin {
        what: format!("profile {}", p.name),
        tool: "devauth import",
    })?;
    match refresher.step(&cred, now, min_valid) {
        Ok(outcome) => {
            apply(p, outcome.credential(), now);
            Ok(match outcome {
                Outcome::Refreshed(_) | Outcome::Unshared(..) => Stepped::Refreshed,
                Outcome::TookSource(_) => Stepped::TookSource,
            })
        }
        Err(failure) => {
            if *failure.tried != cred {
                apply(p, &failure.tried, now);
            }
            Err(failure.error)
        }
    }
}

/// After a permanent failure: reads the profile's source once; when it
/// holds a different login, folds it in (state back to active) and returns
/// `true`.
pub fn reread(p: &mut Profile, now: OffsetDateTime) -> Result<bool, ImportError> {
    let Some(cred) = credential_of(p)? else {
        return Ok(false);
    };
    match follow::reread_after_failure(&cred, now)? {
        Some(new) => {
            apply(p, &new, now);
            p.state = ProfileState::Active;
            Ok(true)
        }
        None => Ok(false),
    }
}

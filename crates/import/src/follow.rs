//! One refresh of an adopted login, without racing the tool it came from.
//!
//! Refresh tokens rotate, so two refreshers cannot share one. In
//! [`Mode::Follow`] the source is the truth: before refreshing we re-read
//! it; if it holds a login fresher than ours (the other tool refreshed, or
//! the person logged in again) we take it and make no request; otherwise we
//! refresh with the source's refresh token and write the result back into
//! the source with a compare-and-swap on the value we read. If the source
//! changed between our read and our write, the other tool won: we use its
//! login and drop ours. In [`Mode::Own`] we refresh our copy and never touch
//! the source — except to look for a new login after a permanent failure
//! ([`reread_after_failure`]).

use std::time::Duration;

use time::OffsetDateTime;

use crate::aws_sso::{self, CacheEntry};
use crate::credential::{Credential, Mode, SourceRef};
use crate::error::ImportError;
use crate::kiro::{self, Cas, KiroDb, TokenKey, TokenRow};
use crate::refresh::{self, Endpoints, FailureClass, Http, RefreshError, Refreshed};

/// What the source holds now.
#[derive(Debug, Clone)]
pub struct SourceState {
    /// The login, adopted.
    pub credential: Credential,
    /// The raw value of its row or file (the compare-and-swap reference).
    pub raw: String,
}

/// Reads the source of an adopted login (whatever login it holds now).
pub fn read_source(
    source: &SourceRef,
    mode: Mode,
    now: OffsetDateTime,
) -> Result<SourceState, ImportError> {
    match source {
        SourceRef::KiroCli { db, .. } => {
            let snapshot = KiroDb::new(db).read()?;
            let credential = kiro::adopt(db, &snapshot, mode, now)?;
            let SourceRef::KiroCli { key, .. } = &credential.source else {
                unreachable!("kiro::adopt returns a kiro-cli source")
            };
            let raw = snapshot
                .tokens
                .iter()
                .find(|(k, _)| k.as_str() == key)
                .map(|(_, raw)| raw.clone())
                .unwrap_or_default();
            Ok(SourceState { credential, raw })
        }
        SourceRef::AwsSso { file } => {
            let entry = CacheEntry::read(file)?.ok_or_else(|| ImportError::NoLogin {
                what: file.display().to_string(),
                tool: "`aws sso login`",
            })?;
            Ok(SourceState {
                credential: entry.adopt(mode, now)?,
                raw: entry.raw,
            })
        }
    }
}

/// What a refresh step did.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// We refreshed (and, following, wrote the result into the source).
    Refreshed(Credential),
    /// The source held a fresher login: we took it and made no request.
    TookSource(Credential),
    /// We refreshed, but could not write the result into the source (it
    /// was locked or unwritable); ours is newer, and the next step writes it.
    Unshared(Credential, String),
}

impl Outcome {
    /// The credential to store.
    pub fn credential(&self) -> &Credential {
        match self {
            Self::Refreshed(c) | Self::TookSource(c) | Self::Unshared(c, _) => c,
        }
    }
}

/// A failed refresh step.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The refresh call failed.
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    /// The source could not be read or written.
    #[error(transparent)]
    Source(#[from] ImportError),
}

/// A failed step and the login it tried (in follow mode, the source's, which
/// may differ from the stored copy): the one a re-read must be compared with.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct StepFailure {
    /// What failed.
    pub error: StepError,
    /// The login whose refresh token was sent (or would have been).
    pub tried: Box<Credential>,
}

impl StepFailure {
    fn new(error: impl Into<StepError>, tried: &Credential) -> Self {
        Self {
            error: error.into(),
            tried: Box::new(tried.clone()),
        }
    }

    /// Permanent or temporary.
    pub fn class(&self) -> FailureClass {
        self.error.class()
    }
}

impl StepError {
    /// Permanent or temporary. A locked or unreadable source is temporary;
    /// a source that no longer holds a usable login is permanent.
    pub fn class(&self) -> FailureClass {
        match self {
            Self::Refresh(e) => e.class,
            Self::Source(
                ImportError::Locked { .. } | ImportError::Io { .. } | ImportError::Sqlite { .. },
            ) => FailureClass::Temporary,
            Self::Source(_) => FailureClass::Permanent,
        }
    }
}

/// Everything a refresh step needs besides the credential.
#[derive(Debug, Clone, Default)]
pub struct Refresher {
    /// The HTTP client.
    pub http: Http,
    /// Where the calls go.
    pub endpoints: Endpoints,
}

impl Refresher {
    /// Refreshes `cred` at `now`. In follow mode a source login valid for
    /// more than `min_valid` that differs from ours is taken instead.
    pub fn step(
        &self,
        cred: &Credential,
        now: OffsetDateTime,
        min_valid: Duration,
    ) -> Result<Outcome, StepFailure> {
        match cred.mode {
            Mode::Own => {
                let refreshed = refresh::refresh(cred, &self.http, &self.endpoints, now)
                    .map_err(|e| StepFailure::new(e, cred))?;
                Ok(Outcome::Refreshed(refreshed.apply(cred)))
            }
            Mode::Follow => self.follow(cred, now, min_valid),
        }
    }

    fn follow(
        &self,
        cred: &Credential,
        now: OffsetDateTime,
        min_valid: Duration,
    ) -> Result<Outcome, StepFailure> {
        let source =
            read_source(&cred.source, Mode::Follow, now).map_err(|e| StepFailure::new(e, cred))?;
        let theirs = &source.credential;
        let valid_long = theirs
            .expires_in(now)
            .is_some_and(|s| s > i64::try_from(min_valid.as_secs()).unwrap_or(i64::MAX));
        if valid_long && cred.is_superseded_by(theirs) {
            return Ok(Outcome::TookSource(theirs.clone()));
        }
        // Normally the source and our copy agree; ours is newer only when a
        // write-back failed, and then its refresh token is the live one.
        let ours_newer =
            matches!((cred.expires_at, theirs.expires_at), (Some(a), Some(b)) if a > b);
        let base = if ours_newer { cred } else { theirs };
        let refreshed = refresh::refresh(base, &self.http, &self.endpoints, now)
            .map_err(|e| StepFailure::new(e, base))?;
        let mut ours = refreshed.apply(base);
        ours.source = theirs.source.clone();
        // From here on the refresh token has rotated: a failure must not lose `ours`.
        let cas = match write_back(&source, &refreshed) {
            Ok(cas) => cas,
            Err(e) => return Ok(Outcome::Unshared(ours, e.to_string())),
        };
        match cas {
            Cas::Written | Cas::Changed(None) => Ok(Outcome::Refreshed(ours)),
            Cas::Changed(Some(_)) => {
                // The other tool refreshed meanwhile: its login wins.
                match read_source(&cred.source, Mode::Follow, now) {
                    Ok(now_theirs) => Ok(Outcome::TookSource(now_theirs.credential)),
                    Err(e) => Ok(Outcome::Unshared(ours, e.to_string())),
                }
            }
        }
    }
}

/// Writes a refresh back into the source row or file, if it still holds
/// `source.raw`.
fn write_back(source: &SourceState, refreshed: &Refreshed) -> Result<Cas, ImportError> {
    match &source.credential.source {
        SourceRef::KiroCli { db, key } => {
            let new = kiro::token::merge(
                &source.raw,
                &kiro::token::RowUpdate {
                    access_token: &refreshed.access_token,
                    refresh_token: refreshed.refresh_token.as_ref(),
                    expires_at: refreshed.expires_at,
                    profile_arn: refreshed.profile_arn.as_deref(),
                },
            )?;
            // make sure the merged row still parses as a login before writing it
            if let Some(k) = TokenKey::parse(key) {
                TokenRow::parse(k, &new)?;
            }
            KiroDb::new(db).compare_and_swap(key, &source.raw, &new)
        }
        SourceRef::AwsSso { file } => {
            let new = aws_sso::merge(
                &source.raw,
                &refreshed.access_token,
                refreshed.refresh_token.as_ref(),
                refreshed.expires_at,
            )?;
            aws_sso::compare_and_swap(file, &source.raw, &new)
        }
    }
}

/// After a permanent failure: reads the source once, and returns its login
/// when it holds a different refresh token than the one that failed (the
/// other tool rotated it, or the person logged in again).
pub fn reread_after_failure(
    cred: &Credential,
    now: OffsetDateTime,
) -> Result<Option<Credential>, ImportError> {
    let source = read_source(&cred.source, cred.mode, now)?;
    let theirs = source.credential;
    let different =
        theirs.refresh_token != cred.refresh_token || theirs.access_token != cred.access_token;
    Ok(different.then_some(theirs))
}

//! [`Backend`] for adopted logins kept in [`devauth_import::store::Store`]:
//! each refresh takes the profile's lock, re-reads the credential (another
//! process may have refreshed it while we waited), runs the follow/own
//! refresh step, and writes the result before releasing the lock.

use std::path::PathBuf;
use std::time::Duration;

use devauth_import::follow::{self, Outcome, Refresher};
use devauth_import::store::Store;
use devauth_import::{FailureClass, ImportError};
use time::OffsetDateTime;

use crate::backend::{Backend, Done, Failure, StoreError};
use crate::status::Status;

/// The agent's record file in each profile folder.
pub const STATUS_FILE: &str = "agent.json";

/// Adopted logins in a [`Store`].
#[derive(Debug, Clone)]
pub struct ImportedBackend {
    /// The store.
    pub store: Store,
    /// The refresh calls.
    pub refresher: Refresher,
}

fn store_failure(e: ImportError) -> Failure {
    let class = match e {
        ImportError::Locked { .. } | ImportError::Io { .. } | ImportError::Sqlite { .. } => {
            FailureClass::Temporary
        }
        _ => FailureClass::Permanent,
    };
    Failure {
        class,
        reason: e.to_string(),
        retry_after: None,
    }
}

fn as_store_error(e: ImportError) -> StoreError {
    StoreError(e.to_string())
}

impl Backend for ImportedBackend {
    fn profiles(&self) -> Result<Vec<String>, StoreError> {
        self.store.list().map_err(as_store_error)
    }

    fn expires_at(&self, name: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(self
            .store
            .load_credential(name)
            .map_err(as_store_error)?
            .and_then(|c| c.expires_at))
    }

    fn refresh(
        &self,
        name: &str,
        now: OffsetDateTime,
        threshold: Duration,
    ) -> Result<Done, Failure> {
        let _lock = self.store.lock(name).map_err(store_failure)?;
        let cred = self
            .store
            .load_credential(name)
            .map_err(store_failure)?
            .ok_or_else(|| Failure {
                class: FailureClass::Permanent,
                reason: format!("profile {name} holds no adopted login any more"),
                retry_after: None,
            })?;
        let limit = i64::try_from(threshold.as_secs()).unwrap_or(i64::MAX);
        if cred.expires_in(now).is_some_and(|s| s > limit) {
            return Ok(Done::AlreadyFresh(cred.expires_at));
        }
        match self.refresher.step(&cred, now, threshold) {
            Ok(outcome) => {
                let new = outcome.credential();
                self.store.save_credential(name, new).map_err(|e| Failure {
                    class: FailureClass::Temporary,
                    reason: format!("refreshed, but could not store the result: {e}"),
                    retry_after: None,
                })?;
                Ok(match outcome {
                    Outcome::Refreshed(c) | Outcome::Unshared(c, _) => {
                        Done::Refreshed(c.expires_at)
                    }
                    Outcome::TookSource(c) => Done::AlreadyFresh(c.expires_at),
                })
            }
            Err(failure) => {
                // Following, the login that failed is the source's: keep our
                // copy equal to it, so a re-read compares with what failed.
                if *failure.tried != cred {
                    let _ = self.store.save_credential(name, &failure.tried);
                }
                Err(Failure {
                    class: failure.class(),
                    reason: failure.to_string(),
                    retry_after: match &failure.error {
                        follow::StepError::Refresh(r) => r.retry_after,
                        follow::StepError::Source(_) => None,
                    },
                })
            }
        }
    }

    fn reread_source(&self, name: &str, now: OffsetDateTime) -> Result<bool, Failure> {
        let _lock = self.store.lock(name).map_err(store_failure)?;
        let Some(cred) = self.store.load_credential(name).map_err(store_failure)? else {
            return Ok(false);
        };
        match follow::reread_after_failure(&cred, now).map_err(store_failure)? {
            Some(new) => {
                self.store
                    .save_credential(name, &new)
                    .map_err(store_failure)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn load_status(&self, name: &str) -> Result<Option<Status>, StoreError> {
        self.store
            .read_json(name, STATUS_FILE)
            .map_err(as_store_error)
    }

    fn save_status(&self, name: &str, status: &Status) -> Result<(), StoreError> {
        self.store
            .write_json(name, STATUS_FILE, status)
            .map_err(as_store_error)
    }

    fn sources(&self) -> Vec<(String, PathBuf)> {
        let names = self.store.list().unwrap_or_default();
        names
            .into_iter()
            .filter_map(|n| {
                let c = self.store.load_credential(&n).ok().flatten()?;
                Some((n, c.source.path().to_path_buf()))
            })
            .collect()
    }
}

//! [`Backend`] on `devauth-client`'s profile store: every profile that can be
//! renewed — adopted logins (follow/own step, source re-read) and the
//! client's own (refresh token or client credentials grant).
//!
//! Each refresh holds the profile's sidecar lock (`profiles/NAME.lock`, the
//! one `devauth token` takes) across re-read → refresh → write, so the agent
//! and a script never both refresh, and whoever waited finds the work done.
//! A permanent failure is mirrored into the profile's own state
//! (`needs-login`), which `devauth token` and `devauth status` read. The
//! agent's finer record (refreshing / expiring / error, last error, next
//! attempt) lives beside the profile in `profiles/NAME.agent` (0600, replaced
//! atomically); [`read_record`] reads it for `devauth status`.

use std::path::PathBuf;
use std::time::Duration;

use devauth_client::session::{OAuthRenewer, Renewer as _};
use devauth_client::store::{Profile, ProfileState, ProfileStore, Source};
use devauth_client::{Error as ClientError, StoreError as ClientStoreError};
use devauth_import::follow::{Refresher, StepError};
use devauth_import::profile::{self, Stepped};
use devauth_import::{FailureClass, ImportError};
use time::OffsetDateTime;

use crate::backend::{Backend, Done, Failure, StoreError};
use crate::status::Status;

/// The agent's record of profile `name` in `store`, if any.
pub fn read_record(store: &ProfileStore, name: &str) -> Option<Status> {
    let text = std::fs::read_to_string(record_path(store, name)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Where the agent keeps its record of profile `name`.
pub fn record_path(store: &ProfileStore, name: &str) -> PathBuf {
    store.dir().join(format!("{name}.agent"))
}

/// Removes the agent's record (a new login starts afresh).
pub fn clear_record(store: &ProfileStore, name: &str) -> std::io::Result<()> {
    match std::fs::remove_file(record_path(store, name)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The client's profile store, kept fresh.
#[derive(Debug, Clone)]
pub struct ProfileBackend {
    /// The store.
    pub store: ProfileStore,
    /// The refresh calls of adopted logins.
    pub refresher: Refresher,
    /// Keep only this profile (`devauth agent --profile NAME`); `None`
    /// keeps every profile.
    pub only: Option<String>,
}

impl ProfileBackend {
    fn kept(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only == name)
    }
}

impl From<ClientStoreError> for Failure {
    fn from(e: ClientStoreError) -> Self {
        Failure {
            class: FailureClass::Temporary,
            reason: e.to_string(),
            retry_after: None,
        }
    }
}

fn step_failure(e: &StepError) -> Failure {
    Failure {
        class: e.class(),
        reason: e.to_string(),
        retry_after: match e {
            StepError::Refresh(r) => r.retry_after,
            StepError::Source(_) => None,
        },
    }
}

fn import_failure(e: ImportError) -> Failure {
    let reason = e.to_string();
    Failure {
        class: StepError::Source(e).class(),
        reason,
        retry_after: None,
    }
}

fn client_failure(e: &ClientError) -> Failure {
    let temporary = e.is_transient()
        || matches!(e, ClientError::Store(_))
        || matches!(e, ClientError::OAuth { error } if error.error == devauth_proto::ErrorCode::SlowDown);
    Failure {
        class: if temporary {
            FailureClass::Temporary
        } else {
            FailureClass::Permanent
        },
        reason: e.to_string(),
        retry_after: None,
    }
}

/// Whether the agent can renew `p` at all.
fn renewable(p: &Profile) -> bool {
    profile::is_imported(p)
        || (p.tokens.refresh_token.is_some() && p.endpoints.token.is_some())
        || (p.source == Source::ClientCredentials && p.client_secret.is_some())
}

impl Backend for ProfileBackend {
    fn profiles(&self) -> Result<Vec<String>, StoreError> {
        let all = self.store.list().map_err(|e| StoreError(e.to_string()))?;
        Ok(all
            .into_iter()
            .filter_map(Result::ok)
            .map(|p| p.name)
            .filter(|name| self.kept(name))
            .collect())
    }

    fn expires_at(&self, name: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        let p = self
            .store
            .load(name)
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(p.filter(renewable).and_then(|p| p.tokens.expires_at))
    }

    fn needs_login(&self, name: &str) -> bool {
        matches!(
            self.store.load(name),
            Ok(Some(Profile {
                state: ProfileState::NeedsLogin { .. },
                ..
            }))
        )
    }

    fn mark_needs_login(&self, name: &str, reason: &str, now: OffsetDateTime) {
        let _ = self.store.with_lock(name, |lock| {
            if let Some(mut p) = lock.load()? {
                p.state = ProfileState::NeedsLogin {
                    reason: reason.to_owned(),
                    since: now,
                };
                p.updated_at = now;
                lock.save(&p)?;
            }
            Ok::<_, ClientStoreError>(())
        });
    }

    fn refresh(
        &self,
        name: &str,
        now: OffsetDateTime,
        threshold: Duration,
    ) -> Result<Done, Failure> {
        self.store.with_lock(name, |lock| {
            let mut p = lock.load()?.ok_or_else(|| Failure {
                class: FailureClass::Permanent,
                reason: format!("profile {name} is gone"),
                retry_after: None,
            })?;
            if let ProfileState::NeedsLogin { reason, .. } = &p.state {
                return Err(Failure {
                    class: FailureClass::Permanent,
                    reason: reason.clone(),
                    retry_after: None,
                });
            }
            if p.tokens.is_fresh(now, threshold) {
                return Ok(Done::AlreadyFresh(p.tokens.expires_at));
            }
            if profile::is_imported(&p) {
                let before = p.clone();
                return match profile::step(&self.refresher, &mut p, now, threshold) {
                    Ok(stepped) => {
                        lock.save(&p)?;
                        Ok(match stepped {
                            Stepped::Refreshed => Done::Refreshed(p.tokens.expires_at),
                            Stepped::TookSource => Done::AlreadyFresh(p.tokens.expires_at),
                        })
                    }
                    Err(e) => {
                        if p != before {
                            lock.save(&p)?;
                        }
                        Err(step_failure(&e))
                    }
                };
            }
            match OAuthRenewer::new().renew(&mut p, now) {
                Ok(()) => {
                    lock.save(&p)?;
                    Ok(Done::Refreshed(p.tokens.expires_at))
                }
                Err(e) => Err(client_failure(&e)),
            }
        })
    }

    fn reread_source(&self, name: &str, now: OffsetDateTime) -> Result<bool, Failure> {
        self.store.with_lock(name, |lock| {
            let Some(mut p) = lock.load()? else {
                return Ok(false);
            };
            if !profile::is_imported(&p) {
                return Ok(false);
            }
            let found = profile::reread(&mut p, now).map_err(import_failure)?;
            if found {
                lock.save(&p)?;
            }
            Ok(found)
        })
    }

    fn load_status(&self, name: &str) -> Result<Option<Status>, StoreError> {
        Ok(read_record(&self.store, name))
    }

    fn save_status(&self, name: &str, status: &Status) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(status).map_err(|e| StoreError(e.to_string()))?;
        // Synced and renamed like the profiles themselves: after a crash
        // `devauth status` reads the old record or the new one, never a
        // torn one.
        devauth_client::atomic_file::write(&record_path(&self.store, name), &json)
            .map_err(|e| StoreError(e.to_string()))
    }

    fn sources(&self) -> Vec<(String, PathBuf)> {
        let Ok(all) = self.store.list() else {
            return Vec::new();
        };
        all.into_iter()
            .filter_map(Result::ok)
            .filter(|p| self.kept(&p.name))
            .filter_map(|p| {
                let cred = profile::credential_of(&p).ok().flatten()?;
                Some((p.name, cred.source.path().to_path_buf()))
            })
            .collect()
    }
}

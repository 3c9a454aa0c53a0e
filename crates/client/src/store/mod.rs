//! Profiles and the credential store.
//!
//! A profile is one issuer + one account + its tokens ([`Profile`]). Profiles
//! live in one JSON file each, `<home>/profiles/<name>.json`, where `<home>`
//! is `$DEVAUTH_HOME` or else the XDG data folder (`~/.local/share/devauth`,
//! see [`home`]).
//!
//! Invariants this module keeps:
//!
//! - the `profiles` folder is mode 0700 (fixed on every open), each file 0600;
//! - a write is atomic: a temp file in the same folder, fsync, rename over
//!   the old file, fsync of the folder; a reader sees the old or the new file,
//!   never half of one, even when the writer is killed (`kill -9`);
//! - read-modify-write happens under an exclusive lock on a sidecar
//!   `<name>.lock` file ([`ProfileStore::with_lock`]); the sidecar is never
//!   deleted (the data file's inode changes on every rename, so it cannot be
//!   the lock). Whoever waited for the lock must re-read before acting: the
//!   holder before it may have refreshed already.
//!
//! # Using the store (import, agent)
//!
//! ```no_run
//! use devauth_client::store::{Profile, ProfileStore};
//! # fn main() -> Result<(), devauth_client::StoreError> {
//! let store = ProfileStore::open_default()?;           // DEVAUTH_HOME / XDG, DEVAUTH_STORE
//! for entry in store.list()? {                          // every profile, sorted by name
//!     let profile = entry?;
//!     println!("{} {:?}", profile.name, profile.state);
//! }
//! store.with_lock("work", |lock| {
//!     if let Some(mut p) = lock.load()? {               // re-read under the lock
//!         p.extra.insert("note".into(), "seen".into());
//!         lock.save(&p)?;                                // atomic, 0600
//!     }
//!     Ok::<_, devauth_client::StoreError>(())
//! })?;
//! # Ok(()) }
//! ```
//!
//! An importer creates profiles with [`Profile::new`] and a
//! [`Source::Imported`] source, keeps tool-specific data in
//! [`Profile::extra`], and plugs its own refresh protocol into
//! [`crate::session::fresh_access_token`] by implementing
//! [`crate::session::Renewer`] (return [`crate::Error::RefreshRejected`] for
//! dead credentials: the session then marks the profile
//! [`ProfileState::NeedsLogin`] under the lock, and never retries it):
//!
//! ```no_run
//! use devauth_client::store::{Profile, ProfileStore, Source, Tokens};
//! use devauth_client::session::{Renewer, fresh_access_token};
//! use devauth_client::clock::{Clock as _, SystemClock};
//! # fn main() -> Result<(), devauth_client::Error> {
//! struct KiroRenewer;
//! impl Renewer for KiroRenewer {
//!     fn renew(&self, p: &mut Profile, now: time::OffsetDateTime) -> Result<(), devauth_client::Error> {
//!         // call the tool's refresh endpoint, then update p.tokens (and p.extra)
//!         # let _ = (p, now);
//!         Err(devauth_client::Error::RefreshRejected)
//!     }
//! }
//! let store = ProfileStore::open_default()?;
//! let tokens = Tokens {
//!     access_token: "…".into(),
//!     token_type: "Bearer".into(),
//!     expires_at: None,
//!     refresh_token: Some("…".into()),
//!     id_token: None,
//! };
//! let mut p = Profile::new("kiro", Source::Imported { tool: "kiro-cli".into() }, tokens, SystemClock.now());
//! p.extra.insert("region".into(), "us-east-1".into());
//! store.save(&p)?;
//! // later (the agent): refresh when less than 5 minutes are left
//! let fresh = fresh_access_token(&store, "kiro", std::time::Duration::from_secs(300), &SystemClock, &KiroRenewer)?;
//! # let _ = fresh;
//! # Ok(()) }
//! ```
//!
//! # Where the secrets live
//!
//! The profile file always exists: it is the index and holds everything but
//! the secrets. The secrets (access, refresh and ID token, client secret) are
//! either in that file too ([`Backend::File`]) or in the OS keyring
//! ([`Backend::Keyring`], one Secret Service entry per profile, see
//! [`keyring`]); then the file carries `"secrets": "keyring"` and no secret.
//! Reading a file-backed profile never touches D-Bus, so `devauth token`
//! stays fast. The lock and the atomic file write are the same for both.
//!
//! Which backend a *new* profile gets ([`ProfileStore::open_default`]):
//! `DEVAUTH_STORE=file` → file; `DEVAUTH_STORE=keyring` → keyring, or
//! [`StoreError::Keyring`] when no Secret Service answers; unset → keyring
//! when a session bus is set and a Secret Service answers within
//! [`keyring::PROBE_TIMEOUT`], else file. An existing profile keeps its
//! backend unless `DEVAUTH_STORE` forces the other one (then the next save
//! moves it).

mod backend;
mod error;
mod file;
pub mod home;
pub mod keyring;
mod profile;

pub use backend::{Backend, STORE_ENV, check_backend, select_backend};
pub use error::StoreError;
pub use file::{ProfileLock, ProfileStore};
pub use profile::{Profile, ProfileState, Source, Tokens, validate_name};

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

mod file;
pub mod home;
pub mod keyring;
mod profile;

pub use file::{ProfileLock, ProfileStore};
pub use profile::{Profile, ProfileState, Source, Tokens, validate_name};

use std::path::PathBuf;

use crate::kind::ErrorKind;

/// A credential store error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading or writing a file failed.
    #[error("cannot use {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A profile file is not valid JSON of the expected shape.
    #[error("{} is damaged ({detail}); delete it and run `devauth login` again", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where it is wrong (never its content: it holds tokens).
        detail: String,
    },
    /// A profile name that cannot be a file name.
    #[error(
        "invalid profile name `{0}`: use 1 to 64 letters, digits, `.`, `_` or `-`, not starting with `.`"
    )]
    InvalidName(String),
    /// The OS keyring (Secret Service) did not answer or refused a request.
    #[error(
        "the OS keyring (Secret Service) cannot be used: {detail}; start a keyring daemon (a desktop session), or set DEVAUTH_STORE=file and run `devauth login` again"
    )]
    Keyring {
        /// Why, in a few words (never a secret).
        detail: String,
    },
    /// `DEVAUTH_STORE` with a value that is neither `file` nor `keyring`.
    #[error("DEVAUTH_STORE=`{0}` is not a store; use `file` or `keyring`")]
    UnknownBackend(String),
    /// No home folder could be found.
    #[error("cannot find a folder for credentials; set DEVAUTH_HOME")]
    NoHome,
}

/// Where a profile's secrets live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// In the 0600 profile file.
    File,
    /// In the OS keyring (Secret Service).
    Keyring,
}

impl Backend {
    /// `file` or `keyring` (the `DEVAUTH_STORE` words, shown by `status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Keyring => "keyring",
        }
    }
}

/// The backend a new profile gets now: the one `DEVAUTH_STORE` forces
/// ([`StoreError::Keyring`] when it is `keyring` and no Secret Service
/// answers), else the keyring when a Secret Service answers within
/// [`keyring::PROBE_TIMEOUT`], else the file.
pub fn select_backend() -> Result<Backend, StoreError> {
    match home::check_backend()? {
        Some(Backend::File) => Ok(Backend::File),
        Some(Backend::Keyring) => keyring::probe().map(|()| Backend::Keyring),
        None if keyring::answers() => Ok(Backend::Keyring),
        None => Ok(Backend::File),
    }
}

impl StoreError {
    /// The error's kind ([`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidName(_) | Self::UnknownBackend(_) => ErrorKind::Usage,
            _ => ErrorKind::Other,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

//! A minimal profile store for adopted logins — a stand-in until the
//! client's credential store (`devauth-client`) can hold them.
//!
//! Layout, under `DEVAUTH_HOME` (else `$XDG_DATA_HOME/devauth`, else
//! `~/.local/share/devauth`):
//!
//! ```text
//! profiles/            0700
//!   NAME/              0700
//!     imported.json    0600  the adopted Credential
//!     agent.json       0600  what `devauth agent` last decided about it
//!     lock                   sidecar lock file: held across read-refresh-write
//! ```
//!
//! Invariants: every file is written to a temp file in the same folder and
//! renamed over the old one (never half-written); the lock lives in its own
//! file because the rename replaces the data file's inode; whoever waited for
//! the lock re-reads before refreshing.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::credential::Credential;
use crate::error::ImportError;

/// The adopted credential's file name.
pub const CREDENTIAL_FILE: &str = "imported.json";
/// The sidecar lock file's name.
pub const LOCK_FILE: &str = "lock";

/// The profile store.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A held profile lock; released when dropped.
#[derive(Debug)]
pub struct ProfileLock {
    file: File,
}

impl Drop for ProfileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Whether `name` can be a profile name: letters, digits, `.`, `_`, `-`,
/// not starting with a dot, at most 64 characters.
pub fn valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Store {
    /// The store at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The store named by the environment (`DEVAUTH_HOME`, XDG, `HOME`).
    pub fn from_env() -> Self {
        let env = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let root = env("DEVAUTH_HOME")
            .or_else(|| env("XDG_DATA_HOME").map(|p| p.join("devauth")))
            .or_else(|| env("HOME").map(|p| p.join(".local/share/devauth")))
            .unwrap_or_else(|| PathBuf::from(".devauth"));
        Self::new(root)
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of profile `name`.
    pub fn profile_dir(&self, name: &str) -> PathBuf {
        self.root.join("profiles").join(name)
    }

    fn ensure_dir(&self, name: &str) -> Result<PathBuf, ImportError> {
        let dir = self.profile_dir(name);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| ImportError::io(&dir, e))?;
        Ok(dir)
    }

    /// Every profile that holds an adopted credential, sorted.
    pub fn list(&self) -> Result<Vec<String>, ImportError> {
        let dir = self.root.join("profiles");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ImportError::io(&dir, e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| valid_profile_name(n))
            .filter(|n| self.profile_dir(n).join(CREDENTIAL_FILE).is_file())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Takes the exclusive lock of profile `name`, waiting for it.
    pub fn lock(&self, name: &str) -> Result<ProfileLock, ImportError> {
        let path = self.ensure_dir(name)?.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| ImportError::io(&path, e))?;
        file.lock().map_err(|e| ImportError::io(&path, e))?;
        Ok(ProfileLock { file })
    }

    /// Reads `file` of profile `name`; `None` when it does not exist.
    pub fn read_json<T: DeserializeOwned>(
        &self,
        name: &str,
        file: &str,
    ) -> Result<Option<T>, ImportError> {
        let path = self.profile_dir(name).join(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ImportError::io(&path, e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ImportError::malformed(path.display().to_string(), &e))
    }

    /// Writes `file` of profile `name` atomically, mode 0600 (not flushed
    /// to disk: for records that can be rebuilt, like the agent's state).
    pub fn write_json<T: Serialize>(
        &self,
        name: &str,
        file: &str,
        value: &T,
    ) -> Result<(), ImportError> {
        self.write(name, file, value, false)
    }

    fn write<T: Serialize>(
        &self,
        name: &str,
        file: &str,
        value: &T,
        durable: bool,
    ) -> Result<(), ImportError> {
        let dir = self.ensure_dir(name)?;
        let path = dir.join(file);
        let text = serde_json::to_vec_pretty(value)
            .map_err(|e| ImportError::malformed(path.display().to_string(), &e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(|e| ImportError::io(&dir, e))?;
        tmp.write_all(&text)
            .and_then(|()| {
                if durable {
                    tmp.as_file().sync_all()
                } else {
                    Ok(())
                }
            })
            .map_err(|e| ImportError::io(tmp.path().to_path_buf(), e))?;
        tmp.persist(&path)
            .map_err(|e| ImportError::io(&path, e.error))?;
        Ok(())
    }

    /// The adopted credential of profile `name`.
    pub fn load_credential(&self, name: &str) -> Result<Option<Credential>, ImportError> {
        self.read_json(name, CREDENTIAL_FILE)
    }

    /// Stores the adopted credential of profile `name`, flushed to disk
    /// before the rename (a rotated refresh token must survive a power cut).
    pub fn save_credential(&self, name: &str, cred: &Credential) -> Result<(), ImportError> {
        self.write(name, CREDENTIAL_FILE, cred, true)
    }
}

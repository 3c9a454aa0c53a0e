//! kiro-cli's login database (and the older Amazon Q CLI's).
//!
//! kiro-cli keeps its login in SQLite, `data.sqlite3` under the local data
//! folder: table `auth_kv(key TEXT PRIMARY KEY, value TEXT)`, each value a JSON
//! document, and a `state` table that may hold the CodeWhisperer profile.
//! [`db`] opens it read-only with a busy timeout for one short read and never
//! holds it; [`token`] parses the rows (snake_case or camelCase, unknown
//! fields kept); [`adopt()`] turns a snapshot into a [`crate::Credential`].

pub mod adopt;
pub mod db;
pub mod token;

use std::path::{Path, PathBuf};

pub use adopt::adopt;
pub use db::{Cas, KiroDb, Snapshot};
pub use token::{Registration, TokenKey, TokenRow};

/// Where kiro-cli (then the Amazon Q CLI) keeps its database under `home`,
/// best first, for this platform.
pub fn candidates(home: &Path) -> Vec<PathBuf> {
    let data = if cfg!(target_os = "macos") {
        home.join("Library/Application Support")
    } else {
        std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".local/share"))
    };
    ["kiro-cli", "amazon-q"]
        .iter()
        .map(|dir| data.join(dir).join("data.sqlite3"))
        .collect()
}

/// The first existing database among [`candidates`], or the best candidate
/// when none exists (so the error names where we looked first).
pub fn locate(home: &Path) -> PathBuf {
    let all = candidates(home);
    all.iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| all[0].clone())
}

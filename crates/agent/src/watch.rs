//! `--watch`: noticing that a source changed (kiro-cli logged in again, the
//! AWS CLI wrote its cache) by polling size and modification time — of the
//! file and, for SQLite, of its `-wal` companion, where kiro-cli's writes
//! land first. Polling needs no inotify and works on every file system.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

type Fingerprint = Vec<Option<(u64, SystemTime)>>;

fn fingerprint(path: &Path) -> Fingerprint {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path.to_path_buf(), PathBuf::from(wal)]
        .iter()
        .map(|p| {
            std::fs::metadata(p)
                .ok()
                .and_then(|m| Some((m.len(), m.modified().ok()?)))
        })
        .collect()
}

/// Remembers what each watched file looked like.
#[derive(Debug, Default)]
pub struct Watcher {
    seen: HashMap<PathBuf, Fingerprint>,
}

impl Watcher {
    /// Returns the paths among `paths` that changed since the last call
    /// (a path seen for the first time is not a change).
    pub fn changed<'a>(&mut self, paths: impl IntoIterator<Item = &'a Path>) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for path in paths {
            let now = fingerprint(path);
            match self.seen.insert(path.to_path_buf(), now.clone()) {
                Some(before) if before != now => out.push(path.to_path_buf()),
                _ => {}
            }
        }
        out
    }
}

//! The one way devauth writes a file it must not lose: profiles and their
//! credentials, the agent's status records, the AWS SSO cache it shares.
//!
//! [`write()`] puts the bytes in a temporary file beside the target (same
//! folder, so same filesystem), flushes it to disk, renames it over the
//! target, then flushes the folder so the rename itself survives a crash.
//! A reader sees the old file or the new one, never a torn or empty one; a
//! failure at any step leaves the old file as it was and no temporary file
//! behind.

use std::fs::{self, File, Permissions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::PermissionsExt as _;

/// A failed write: which file, and why. The old content is intact.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    /// The file (or temporary file) the failing step touched.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: io::Error,
}

/// Replaces `path` with `contents`, atomically and durably, the new file
/// readable by its owner only (mode 0600 on Unix).
pub fn write(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError { path, source }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(Permissions::from_mode(0o600));
    let mut tmp = builder.tempfile_in(dir).map_err(err(dir))?;
    tmp.write_all(contents)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(err(tmp.path()))?;
    // On failure the temporary file is removed when `tmp` drops.
    tmp.persist(path).map_err(|e| WriteError {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    // The rename is in the folder's entries: flush them too. Not every
    // platform can open a folder for that; the data itself is synced.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Whether `path`'s permissions let only its owner in (always true off Unix).
pub fn owner_only(path: &Path) -> io::Result<bool> {
    let meta = fs::metadata(path)?;
    #[cfg(unix)]
    {
        Ok(meta.permissions().mode() & 0o077 == 0)
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn replaces_the_file_whole_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.json");
        write(&path, b"first").unwrap();
        write(&path, b"second, longer").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second, longer");
        assert!(owner_only(&path).unwrap());
        assert!(leftovers(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_failed_write_keeps_the_old_content_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        write(&path, b"old").unwrap();
        // A folder nobody may write to: the temporary file cannot be made.
        fs::set_permissions(dir.path(), Permissions::from_mode(0o500)).unwrap();
        let failed = write(&path, b"new");
        fs::set_permissions(dir.path(), Permissions::from_mode(0o700)).unwrap();
        // root ignores folder permissions; the check is only meaningful
        // when the write was actually refused.
        let expected: &[u8] = match failed {
            Err(e) => {
                assert_eq!(e.path, dir.path());
                b"old"
            }
            Ok(()) => b"new",
        };
        assert_eq!(fs::read(&path).unwrap(), expected);
        assert!(leftovers(dir.path()).is_empty());
        // A target that is a folder: the rename fails after the temporary
        // file was written; it is cleaned up and nothing else changes.
        let folder = dir.path().join("taken");
        fs::create_dir(&folder).unwrap();
        fs::write(folder.join("inside"), b"x").unwrap();
        let e = write(&folder, b"new").unwrap_err();
        assert_eq!(e.path, folder);
        assert_eq!(fs::read(folder.join("inside")).unwrap(), b"x");
        assert!(leftovers(dir.path()).is_empty());
        assert_eq!(fs::read(&path).unwrap(), expected);
    }
}

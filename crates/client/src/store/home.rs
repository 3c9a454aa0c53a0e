//! Where client files live: `$DEVAUTH_HOME`, else `$XDG_DATA_HOME/devauth`
//! (`~/.local/share/devauth`), via etcetera's XDG strategy on Linux and macOS.

use std::path::{Path, PathBuf};

use super::error::StoreError;

/// The environment variable that moves every client file under one folder.
pub const HOME_ENV: &str = "DEVAUTH_HOME";

/// The folder for client data.
pub fn data_home() -> Result<PathBuf, StoreError> {
    if let Some(h) = std::env::var_os(HOME_ENV).filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    use etcetera::BaseStrategy as _;
    let strategy = etcetera::choose_base_strategy().map_err(|_| StoreError::NoHome)?;
    Ok(strategy.data_dir().join("devauth"))
}

/// A file name for `key` (a URL, or several joined): letters and digits
/// kept, every other byte escaped as `_xx`, so distinct keys never share a
/// name and the name stays readable. Long names keep their last 200
/// characters, the distinctive part.
pub fn file_name(key: &str) -> String {
    let name: String = key
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("_{b:02x}")
            }
        })
        .collect();
    if name.len() > 200 {
        name[name.len() - 200..].to_owned()
    } else {
        name
    }
}

/// Creates `dir` (and its parents) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| StoreError::io(dir, e))
}

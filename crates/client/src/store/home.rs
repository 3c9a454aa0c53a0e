//! Where client files live: `$DEVAUTH_HOME`, else `$XDG_DATA_HOME/devauth`
//! (`~/.local/share/devauth`), via etcetera's XDG strategy on Linux and macOS.

use std::path::PathBuf;

use super::{Backend, StoreError};

/// The environment variable that moves every client file under one folder.
pub const HOME_ENV: &str = "DEVAUTH_HOME";
/// The environment variable that picks the backend (`file` or `keyring`).
pub const STORE_ENV: &str = "DEVAUTH_STORE";

/// The folder for client data.
pub fn data_home() -> Result<PathBuf, StoreError> {
    if let Some(h) = std::env::var_os(HOME_ENV).filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    use etcetera::BaseStrategy as _;
    let strategy = etcetera::choose_base_strategy().map_err(|_| StoreError::NoHome)?;
    Ok(strategy.data_dir().join("devauth"))
}

/// Checks `DEVAUTH_STORE` without contacting anything: `Ok(None)` when
/// unset or empty (automatic choice), `Ok(Some(..))` when it forces one.
pub fn check_backend() -> Result<Option<Backend>, StoreError> {
    match std::env::var(STORE_ENV) {
        Err(_) => Ok(None),
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) if v == "file" => Ok(Some(Backend::File)),
        Ok(v) if v == "keyring" => Ok(Some(Backend::Keyring)),
        Ok(v) => Err(StoreError::UnknownBackend(crate::error::sanitize(&v))),
    }
}

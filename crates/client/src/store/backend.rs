//! Where a profile's secrets live (the file or the OS keyring), and how the
//! backend of a new profile is chosen (`DEVAUTH_STORE`, else a probe).

use super::error::StoreError;
use super::keyring;

/// The environment variable that picks the backend (`file` or `keyring`).
pub const STORE_ENV: &str = "DEVAUTH_STORE";

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

/// Checks `DEVAUTH_STORE` without contacting anything: `Ok(None)` when
/// unset or empty (automatic choice), `Ok(Some(..))` when it forces one.
pub fn check_backend() -> Result<Option<Backend>, StoreError> {
    match std::env::var(STORE_ENV) {
        Err(_) => Ok(None),
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) if v == "file" => Ok(Some(Backend::File)),
        Ok(v) if v == "keyring" => Ok(Some(Backend::Keyring)),
        Ok(v) => Err(StoreError::UnknownBackend(crate::safe_text::sanitize(&v))),
    }
}

/// The backend a new profile gets now: the one `DEVAUTH_STORE` forces
/// ([`StoreError::Keyring`] when it is `keyring` and no Secret Service
/// answers), else the keyring when a Secret Service answers within
/// [`keyring::PROBE_TIMEOUT`], else the file.
pub fn select_backend() -> Result<Backend, StoreError> {
    match check_backend()? {
        Some(Backend::File) => Ok(Backend::File),
        Some(Backend::Keyring) => keyring::probe().map(|()| Backend::Keyring),
        None if keyring::answers() => Ok(Backend::Keyring),
        None => Ok(Backend::File),
    }
}

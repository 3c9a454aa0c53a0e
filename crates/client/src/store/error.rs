//! What can go wrong with the credential store, and its kind.

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

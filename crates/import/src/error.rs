//! What can go wrong while reading or writing another tool's credentials.
//!
//! Every message says what happened and where, never a secret: JSON errors
//! keep only their position, because serde's own text can quote the value.

use std::path::PathBuf;

use devauth_client::ErrorKind;

/// What an [`ImportError::NotFound`] looked for: the caller tells the person
/// which tool to log in with by matching on it, never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// kiro-cli's (or the Amazon Q CLI's) `data.sqlite3`.
    KiroDatabase,
    /// The AWS CLI v2 SSO cache folder.
    AwsSsoCache,
    /// One file of the AWS SSO cache.
    AwsSsoCacheFile,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::KiroDatabase => "kiro-cli database",
            Self::AwsSsoCache => "AWS SSO cache",
            Self::AwsSsoCacheFile => "AWS SSO cache file",
        })
    }
}

/// An error reading or writing a foreign credential source.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The database or cache does not exist.
    #[error("{what} not found at {}", path.display())]
    NotFound {
        /// What was looked for.
        what: Missing,
        /// Where.
        path: PathBuf,
    },
    /// The database stayed locked by another process past the busy timeout.
    #[error(
        "kiro-cli's database at {} is locked by another process; try again in a moment",
        path.display()
    )]
    Locked {
        /// The database.
        path: PathBuf,
    },
    /// The database is not laid out the way kiro-cli lays it out.
    #[error("{} does not look like a kiro-cli database: {detail}", path.display())]
    UnknownSchema {
        /// The database.
        path: PathBuf,
        /// What is missing.
        detail: String,
    },
    /// A value that should be a JSON document is not.
    #[error("{what} holds malformed JSON ({detail})")]
    Malformed {
        /// The key or file.
        what: String,
        /// Where the JSON broke (never the value itself).
        detail: String,
    },
    /// The source holds no usable login.
    #[error("{what} holds no login: log in with {tool} first")]
    NoLogin {
        /// The database or cache.
        what: String,
        /// The tool to log in with.
        tool: &'static str,
    },
    /// The OIDC client registration the login depends on has expired.
    #[error(
        "the client registration of {what} expired at {at}: log in with {tool} again, then re-import"
    )]
    RegistrationExpired {
        /// The database or file.
        what: String,
        /// When it expired (RFC 3339).
        at: String,
        /// The tool to log in with.
        tool: &'static str,
    },
    /// SQLite failed in another way.
    #[error("reading {}: {source}", path.display())]
    Sqlite {
        /// The database.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ImportError {
    /// The kind of failure, as the client names kinds: no usable login in
    /// the source (missing, empty, registration expired) is
    /// [`ErrorKind::NeedsLogin`], because logging in with the other tool is
    /// what helps; anything else (locked, damaged, unreadable) is
    /// [`ErrorKind::Other`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound { .. } | Self::NoLogin { .. } | Self::RegistrationExpired { .. } => {
                ErrorKind::NeedsLogin
            }
            Self::Locked { .. }
            | Self::UnknownSchema { .. }
            | Self::Malformed { .. }
            | Self::Sqlite { .. }
            | Self::Io { .. } => ErrorKind::Other,
        }
    }

    /// A [`ImportError::Malformed`] from a serde_json error, keeping only
    /// its category and position.
    pub fn malformed(what: impl Into<String>, err: &serde_json::Error) -> Self {
        let kind = match err.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected type",
            serde_json::error::Category::Eof => "truncated",
        };
        Self::Malformed {
            what: what.into(),
            detail: format!("{kind} at line {} column {}", err.line(), err.column()),
        }
    }

    /// An [`ImportError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

//! Exit codes, named once and decided in one place (each message and its
//! code: docs/troubleshooting.md):
//! 0 success · 1 unexpected error · 2 usage · 3 not logged in or re-login
//! needed · 4 the user denied · 5 the code expired before approval · 6 server
//! unreachable or failing · 130 interrupted (Ctrl-C). `devauth run` exits
//! with its child's code.
//!
//! Commands return `anyhow::Result<ExitCode>`; [`report`] prints an error as
//! one line (`{:#}` joins the context chain) on stderr and maps it to a code.
//! A broken pipe on stdout (`devauth token | head -c0`) is a quiet success.

use std::process::ExitCode;

/// Success.
pub const SUCCESS: u8 = 0;
/// An unexpected error.
pub const FAILURE: u8 = 1;
/// Wrong flags or arguments.
pub const USAGE: u8 = 2;
/// Not logged in, or the refresh token was rejected: run `devauth login`.
pub const NOT_LOGGED_IN: u8 = 3;
/// The person denied the request.
pub const DENIED: u8 = 4;
/// The code expired before anyone approved it.
pub const EXPIRED: u8 = 5;
/// The server could not be reached or answered with an error.
pub const UNAVAILABLE: u8 = 6;
/// Interrupted by Ctrl-C (the shell convention, 128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// Prints the error, if any, and picks the exit code.
pub fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let code = classify(&err);
            if code == INTERRUPTED {
                eprintln!("Interrupted; nothing was stored.");
            } else {
                eprintln!("error: {err:#}");
            }
            ExitCode::from(code)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Maps an error to its exit code by its type (never by its message).
fn classify(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return USAGE;
        }
        if let Some(e) = cause.downcast_ref::<devauth_client::Error>() {
            return of_kind(e.kind());
        }
        if let Some(e) = cause.downcast_ref::<devauth_client::StoreError>() {
            return of_kind(e.kind());
        }
        if let Some(e) = cause.downcast_ref::<crate::cmd::import::NotImported>() {
            return of_kind(e.error.kind());
        }
    }
    FAILURE
}

/// The exit code of a client error kind.
fn of_kind(kind: devauth_client::ErrorKind) -> u8 {
    use devauth_client::ErrorKind as K;
    match kind {
        K::NeedsLogin => NOT_LOGGED_IN,
        K::Denied => DENIED,
        K::Expired => EXPIRED,
        K::Unavailable => UNAVAILABLE,
        K::Usage => USAGE,
        K::Interrupted => INTERRUPTED,
        K::Other => FAILURE,
    }
}

/// An error that is the user's command line's fault: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

#[cfg(test)]
mod tests {
    use devauth_client::Error;
    use devauth_proto::{ErrorCode, ErrorResponse};

    use super::*;

    fn code(e: impl std::error::Error + Send + Sync + 'static) -> u8 {
        classify(&anyhow::Error::new(e).context("while doing something"))
    }

    #[test]
    fn client_errors_map_to_design_exit_codes() {
        assert_eq!(
            code(Error::NotLoggedIn {
                profile: "p".into()
            }),
            NOT_LOGGED_IN
        );
        assert_eq!(
            code(Error::NeedsLogin {
                profile: "p".into(),
                reason: "r".into()
            }),
            NOT_LOGGED_IN
        );
        assert_eq!(code(Error::Denied), DENIED);
        assert_eq!(code(Error::Expired), EXPIRED);
        assert_eq!(
            code(Error::Unreachable {
                url: "u".into(),
                detail: "d".into()
            }),
            UNAVAILABLE
        );
        assert_eq!(
            code(Error::oauth(ErrorResponse::new(
                ErrorCode::ServerError,
                "x"
            ))),
            UNAVAILABLE
        );
        assert_eq!(
            code(Error::oauth(ErrorResponse::new(
                ErrorCode::InvalidClient,
                "x"
            ))),
            FAILURE
        );
        assert_eq!(
            code(Error::MissingEndpoint {
                what: "token endpoint",
                flag: "--token-endpoint"
            }),
            USAGE
        );
        assert_eq!(code(Error::Cancelled), INTERRUPTED);
        assert_eq!(
            code(devauth_client::StoreError::UnknownBackend("x".into())),
            USAGE
        );
        assert_eq!(code(UsageError("x".into())), USAGE);
    }

    #[test]
    fn import_errors_map_by_variant() {
        use crate::cmd::import::NotImported;
        use devauth_import::{ImportError, Missing};
        let not_found = |what| NotImported {
            error: ImportError::NotFound {
                what,
                path: "/nowhere".into(),
            },
        };
        assert_eq!(code(not_found(Missing::KiroDatabase)), NOT_LOGGED_IN);
        assert_eq!(code(not_found(Missing::AwsSsoCache)), NOT_LOGGED_IN);
        assert_eq!(
            code(NotImported {
                error: ImportError::Locked { path: "/db".into() }
            }),
            FAILURE
        );
        assert!(
            not_found(Missing::KiroDatabase)
                .to_string()
                .contains("log in with kiro-cli first")
        );
    }
}

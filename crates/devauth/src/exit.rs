//! Exit codes, named once and decided in one place (each message and its
//! code: docs/troubleshooting.md):
//! 0 success · 1 unexpected error · 2 usage · 3 not logged in or re-login
//! needed · 4 the user denied · 5 the code expired before approval · 6 server
//! unreachable or failing · 130 interrupted (Ctrl-C). `devauth run` exits
//! with its child's code ([`for_child`]).
//!
//! Commands return `anyhow::Result<ExitCode>`; [`report`] prints an error as
//! one line (`{:#}` joins the context chain) on stderr and maps it to a code.
//! A broken pipe on stdout (`devauth token | head -c0`) is a quiet success.
//! A command that ends without an error but not in success (`status` of a
//! profile that needs a login, `logout` that kept tokens it could not
//! revoke, `agent --once` that left work) still takes its code from here:
//! [`for_kind`], [`for_pass`].

use std::os::unix::process::ExitStatusExt as _;
use std::process::{ExitCode, ExitStatus};

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
/// `devauth run`: the command was found but could not be run (the shell's
/// convention).
pub const CANNOT_EXECUTE: u8 = 126;
/// `devauth run`: the command was not found (the shell's convention).
pub const COMMAND_NOT_FOUND: u8 = 127;

/// The exit code of a client error kind, for a command that reports the
/// condition itself rather than failing with the error.
pub fn for_kind(kind: devauth_client::ErrorKind) -> ExitCode {
    ExitCode::from(of_kind(kind))
}

/// `devauth agent --once`: a profile that needs a person wins (3), then
/// work left for a later pass — a temporary failure or a backoff still
/// running — (6), else success.
pub fn for_pass(summary: &devauth_agent::Summary) -> ExitCode {
    ExitCode::from(if summary.needing_login() > 0 {
        NOT_LOGGED_IN
    } else if summary.temporary > 0 || summary.waiting > 0 {
        UNAVAILABLE
    } else {
        SUCCESS
    })
}

/// `devauth run`: the child's own code, 128 + N when signal N ended it (the
/// shell's convention), [`COMMAND_NOT_FOUND`] or [`CANNOT_EXECUTE`] when it
/// could not start.
pub fn for_child(status: &std::io::Result<ExitStatus>) -> ExitCode {
    let code = match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => u8::try_from(c).unwrap_or(FAILURE),
            (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(FAILURE),
            (None, None) => FAILURE,
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => COMMAND_NOT_FOUND,
        Err(_) => CANNOT_EXECUTE,
    };
    ExitCode::from(code)
}

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
        if let Some(e) = cause.downcast_ref::<Explained>() {
            return of_kind(e.kind);
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

/// An error a command has already put into words (the library's sentence
/// and what to do next), with the kind that decides its exit code. No
/// `source()`: the message holds the cause, and `{:#}` would print it twice.
#[derive(Debug)]
pub struct Explained {
    /// Decides the exit code.
    pub kind: devauth_client::ErrorKind,
    /// The whole message.
    pub message: String,
}

impl std::fmt::Display for Explained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Explained {}

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
    fn a_child_exit_becomes_ours() {
        use std::process::Command;
        let sh = |script: &str| Command::new("/bin/sh").args(["-c", script]).status();
        assert_eq!(for_child(&sh("exit 0")), ExitCode::from(0));
        assert_eq!(for_child(&sh("exit 42")), ExitCode::from(42));
        // killed by SIGTERM (15): 128 + 15
        assert_eq!(for_child(&sh("kill -TERM $$")), ExitCode::from(143));
        let missing = Command::new("/nonexistent/devauth-test-no-such-program").status();
        assert_eq!(for_child(&missing), ExitCode::from(COMMAND_NOT_FOUND));
        let not_executable = Command::new("/etc/hostname").status();
        assert_eq!(for_child(&not_executable), ExitCode::from(CANNOT_EXECUTE));
    }

    #[test]
    fn an_agent_pass_maps_by_what_it_left() {
        let mut s = devauth_agent::Summary::default();
        assert_eq!(for_pass(&s), ExitCode::from(SUCCESS));
        s.waiting = 1;
        assert_eq!(for_pass(&s), ExitCode::from(UNAVAILABLE));
        s.waiting = 0;
        s.temporary = 2;
        assert_eq!(for_pass(&s), ExitCode::from(UNAVAILABLE));
        s.still_needs_login = 1;
        assert_eq!(for_pass(&s), ExitCode::from(NOT_LOGGED_IN));
    }

    #[test]
    fn an_explained_error_maps_by_its_kind() {
        use devauth_client::ErrorKind;
        let explained = |kind| Explained {
            kind,
            message: "m".into(),
        };
        assert_eq!(code(explained(ErrorKind::NeedsLogin)), NOT_LOGGED_IN);
        assert_eq!(code(explained(ErrorKind::Other)), FAILURE);
        assert_eq!(code(explained(ErrorKind::Unavailable)), UNAVAILABLE);
    }
}

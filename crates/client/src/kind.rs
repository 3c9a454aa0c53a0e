//! [`ErrorKind`]: what a caller decides on, shared by [`crate::Error`] and
//! [`crate::StoreError`].
//!
//! It lives apart from both so that the error enum (which wraps store errors)
//! and the store (whose errors have a kind) need not import each other.

/// What kind of failure an [`Error`](crate::Error) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No credentials, or the stored ones cannot be used any more (refresh
    /// token rejected): a new `devauth login` is needed.
    NeedsLogin,
    /// The person denied the request.
    Denied,
    /// The device code expired before approval.
    Expired,
    /// The server could not be reached, or it failed (5xx, garbage, TLS).
    Unavailable,
    /// The command line or configuration is wrong (missing endpoint, bad input).
    Usage,
    /// Ctrl-C.
    Interrupted,
    /// Anything else: a refused request, a local file problem.
    Other,
}

//! The `Authorization: Bearer` header (RFC 6750 §2.1): what a resource
//! server — devauth's userinfo endpoint, or `devauth guard` in front of an
//! API — accepts as a bearer token.
//!
//! ```text
//! credentials = "Bearer" 1*SP b64token
//! b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```
//!
//! The scheme is case-insensitive; anything else (another scheme, no token,
//! a token with characters outside `b64token`, a second word) is no token at
//! all, so a malformed header can never reach the token check half-parsed.

/// The token of an `Authorization` header value, or `None` when the value is
/// not a well-formed bearer credential.
pub fn parse_authorization(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_start_matches(' ');
    is_b64token(token).then_some(token)
}

/// Whether `token` is an RFC 6750 `b64token`.
pub fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_bearer_credentials() {
        assert_eq!(
            parse_authorization("Bearer abc.DEF-_~+/=="),
            Some("abc.DEF-_~+/==")
        );
        assert_eq!(parse_authorization("bearer x"), Some("x"));
        assert_eq!(parse_authorization("BEARER   x"), Some("x"));
    }

    #[test]
    fn everything_else_is_no_token() {
        for value in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer  ",
            "Basic dXNlcjpwYXNz",
            "Bearer a b",
            "Bearer a\tb",
            "Bearer ===",
            "Bearer a=b",
            "Bearer é",
            "Bearerx abc",
            " Bearer abc",
            "Bearer abc ",
        ] {
            assert_eq!(parse_authorization(value), None, "{value:?}");
        }
    }
}

//! The form body of OAuth requests (RFC 6749 §3.2: `application/x-www-form-urlencoded`).
//!
//! [`OAuthForm`] refuses, with `invalid_request` (400), a wrong or missing
//! content type, a body over [`crate::config::BODY_LIMIT_BYTES`], a body that is
//! not valid form encoding, and a parameter given twice (RFC 6749 §3.2).

use std::collections::HashMap;

use axum::extract::{FromRequest, Request};
use axum::http::header;

use super::error::OAuthError;
use crate::config::BODY_LIMIT_BYTES;

/// How much of an oversized body is read and dropped before answering.
const DRAIN_LIMIT_BYTES: usize = 1024 * 1024;

/// Parsed, duplicate-free form parameters. Empty values count as absent
/// (RFC 6749 §3.1).
#[derive(Default)]
pub struct OAuthForm(HashMap<String, String>);

impl std::fmt::Debug for OAuthForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets: show only the names.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl OAuthForm {
    /// Parses a body.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| OAuthError::invalid_request("the body is not valid form encoding"))?;
        let mut map = HashMap::new();
        for (k, v) in pairs {
            if v.is_empty() {
                continue;
            }
            if map.contains_key(&k) {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter `{}` is repeated",
                    sanitize(&k)
                )));
            }
            map.insert(k, v);
        }
        Ok(Self(map))
    }

    /// An optional parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A required parameter.
    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter `{name}`")))
    }
}

/// A parameter name as it may be echoed in an error: short, plain ASCII.
fn sanitize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect()
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        // Bodies a little over the limit are read (and dropped) before the
        // answer so that the client sees a clean 400 rather than a reset
        // connection; far larger ones are refused without reading.
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > DRAIN_LIMIT_BYTES as u64) {
            return Err(OAuthError::invalid_request("the body is too large"));
        }
        let body = axum::body::to_bytes(req.into_body(), DRAIN_LIMIT_BYTES)
            .await
            .map_err(|_| OAuthError::invalid_request("the body is too large or unreadable"))?;
        // Checked after reading, so the connection stays usable (keep-alive).
        if !is_form {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        if body.len() > BODY_LIMIT_BYTES {
            return Err(OAuthError::invalid_request("the body is too large"));
        }
        Self::parse(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_empties() {
        let f = OAuthForm::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), None);
        assert_eq!(f.get("c"), Some("x y"));
        assert!(OAuthForm::parse(b"a=1&a=2").is_err());
        assert!(f.require("zz").is_err());
    }
}

//! Reading (not verifying: the server does that) the parts of a JWT.

use base64::Engine as _;

fn part(token: &str, index: usize) -> serde_json::Value {
    let segment = token
        .split('.')
        .nth(index)
        .unwrap_or_else(|| panic!("not a JWT: {} segments", token.split('.').count()));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .expect("a base64url JWT segment");
    serde_json::from_slice(&bytes).expect("a JSON JWT segment")
}

/// The JOSE header.
pub fn header(token: &str) -> serde_json::Value {
    part(token, 0)
}

/// The claims.
pub fn claims(token: &str) -> serde_json::Value {
    part(token, 1)
}

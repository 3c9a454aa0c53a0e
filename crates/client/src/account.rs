//! Who the tokens belong to, for display only.
//!
//! Reads the claims of the ID token (or of a JWT access token) *without
//! verifying the signature*: the result is shown to the person ("Logged in as
//! alice") and never used for a decision.

use base64::Engine as _;
use devauth_proto::token::TokenResponse;

/// The subject and a display name, when the tokens reveal them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// `sub`.
    pub subject: Option<String>,
    /// `preferred_username`, `email`, `name` or `sub`, the first present.
    pub display: Option<String>,
}

/// Extracts the account from a token response.
pub fn from_response(resp: &TokenResponse) -> Account {
    let from = |jwt: &str| claims(jwt).map(|c| account_of(&c));
    resp.id_token
        .as_ref()
        .and_then(|t| from(t.expose()))
        .or_else(|| from(resp.access_token.expose()))
        .unwrap_or_default()
}

fn account_of(c: &serde_json::Map<String, serde_json::Value>) -> Account {
    let get = |k: &str| {
        c.get(k)
            .and_then(|v| v.as_str())
            .map(crate::safe_text::sanitize)
    };
    let subject = get("sub");
    let display = get("preferred_username")
        .or_else(|| get("email"))
        .or_else(|| get("name"))
        .or_else(|| subject.clone());
    Account { subject, display }
}

fn claims(jwt: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut parts = jwt.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_id_token() {
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = format!(
            "{}.{}.sig",
            b(r#"{"alg":"RS256"}"#),
            b(r#"{"sub":"u1","preferred_username":"alice"}"#)
        );
        let resp: TokenResponse = serde_json::from_value(serde_json::json!({
            "access_token": "opaque", "token_type": "Bearer", "id_token": jwt
        }))
        .unwrap();
        let a = from_response(&resp);
        assert_eq!(a.subject.as_deref(), Some("u1"));
        assert_eq!(a.display.as_deref(), Some("alice"));
        let opaque: TokenResponse = serde_json::from_value(serde_json::json!({
            "access_token": "opaque", "token_type": "Bearer"
        }))
        .unwrap();
        assert_eq!(from_response(&opaque), Account::default());
    }
}

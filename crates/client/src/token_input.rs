//! What `devauth login --with-token` reads: either a raw access token, or a
//! JSON token response (RFC 6749 §5.1) such as another tool printed.

use devauth_proto::Secret;
use devauth_proto::token::TokenResponse;

use crate::Error;

/// Parses stdin's content into a token response.
pub fn parse(input: &str) -> Result<TokenResponse, Error> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(Error::InvalidInput(
            "no token on stdin; pipe an access token or a JSON token response into `devauth login --with-token`".into(),
        ));
    }
    if trimmed.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct Lenient {
            access_token: Secret,
            #[serde(default)]
            token_type: Option<String>,
            #[serde(default)]
            expires_in: Option<u64>,
            #[serde(default)]
            refresh_token: Option<Secret>,
            #[serde(default)]
            scope: Option<String>,
            #[serde(default)]
            id_token: Option<Secret>,
        }
        let l: Lenient = serde_json::from_str(trimmed).map_err(|e| {
            Error::InvalidInput(format!(
                "stdin looks like JSON but is not a token response (line {}, column {}); it needs at least \"access_token\"",
                e.line(),
                e.column()
            ))
        })?;
        if l.access_token.is_empty() {
            return Err(Error::InvalidInput(
                "the JSON on stdin has an empty access_token".into(),
            ));
        }
        return Ok(TokenResponse {
            access_token: l.access_token,
            token_type: l
                .token_type
                .unwrap_or_else(|| devauth_proto::token::BEARER.into()),
            expires_in: l.expires_in,
            refresh_token: l.refresh_token,
            scope: l.scope,
            id_token: l.id_token,
            extra: Default::default(),
        });
    }
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::InvalidInput(
            "stdin holds more than one word; pipe exactly one access token (or a JSON token response)".into(),
        ));
    }
    Ok(TokenResponse {
        access_token: Secret::new(trimmed),
        token_type: devauth_proto::token::BEARER.into(),
        expires_in: None,
        refresh_token: None,
        scope: None,
        id_token: None,
        extra: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_json() {
        assert_eq!(
            parse("  abc.def\n").unwrap().access_token.expose(),
            "abc.def"
        );
        let t = parse(r#"{"access_token":"x","expires_in":60,"refresh_token":"r"}"#).unwrap();
        assert_eq!(t.expires_in, Some(60));
        assert_eq!(t.token_type, "Bearer");
        assert!(parse("").is_err());
        assert!(parse("two words").is_err());
        let err = parse(r#"{"access_token": 5, "x": "secret-value"}"#).unwrap_err();
        assert!(!err.to_string().contains("secret-value"));
    }
}

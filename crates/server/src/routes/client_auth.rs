//! Client authentication (RFC 6749 §2.3): `client_secret_basic`,
//! `client_secret_post`, or `none` for public clients (`client_id` only).
//!
//! Only [`authenticate`] creates an [`AuthenticatedClient`], and token
//! issuance takes one, so no grant can skip this check. Secrets are compared
//! as SHA-256 hashes in constant time. Any failure is 401 `invalid_client`
//! with `WWW-Authenticate`; using two methods at once is `invalid_request`.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use super::error::OAuthError;
use super::form::OAuthForm;
use crate::model::{Client, TokenHash};
use crate::state::AppState;

/// Proof that the client of this request authenticated (or, for a public
/// client, identified itself).
#[derive(Debug, Clone)]
pub struct AuthenticatedClient(Arc<Client>);

impl AuthenticatedClient {
    /// The client.
    pub fn client(&self) -> &Client {
        &self.0
    }
    /// Its id.
    pub fn id(&self) -> &str {
        &self.0.id
    }
}

/// Credentials from the `Authorization: Basic` header, form-decoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| OAuthError::invalid_client())?;
    let Some((scheme, rest)) = value.split_once(' ') else {
        return Err(OAuthError::invalid_client());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client());
    }
    let decoded = STANDARD
        .decode(rest.trim())
        .map_err(|_| OAuthError::invalid_client())?;
    let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::invalid_client())?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(OAuthError::invalid_client)?;
    Ok(Some((form_decode(id)?, form_decode(secret)?)))
}

/// `application/x-www-form-urlencoded` decoding of one value.
fn form_decode(s: &str) -> Result<String, OAuthError> {
    let mut out = Vec::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(OAuthError::invalid_client)?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| OAuthError::invalid_client())
}

/// Authenticates the client of a request from its headers and form.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<AuthenticatedClient, OAuthError> {
    let basic = basic_credentials(headers)?;
    let form_id = form.get("client_id");
    let form_secret = form.get("client_secret");
    let (client_id, secret): (String, Option<String>) = match basic {
        Some((id, secret)) => {
            if form_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "use only one client authentication method",
                ));
            }
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the authenticated client",
                ));
            }
            (id, Some(secret))
        }
        None => match form_id {
            Some(id) => (id.to_owned(), form_secret.map(str::to_owned)),
            None => {
                return Err(OAuthError::invalid_client());
            }
        },
    };
    let client = state.client(&client_id).await?;
    let Some(client) = client else {
        // Spend the same hashing work as for a known client.
        if let Some(s) = &secret {
            let _ = TokenHash::of(s);
        }
        return Err(OAuthError::invalid_client());
    };
    match (&client.secret_hash, secret) {
        (None, None) => Ok(AuthenticatedClient(client)),
        // A public client sending a secret is misconfigured; refuse rather than ignore.
        (None, Some(_)) | (Some(_), None) => Err(OAuthError::invalid_client()),
        (Some(stored), Some(given)) => {
            let given = TokenHash::of(&given);
            if bool::from(given.as_str().as_bytes().ct_eq(stored.as_str().as_bytes())) {
                Ok(AuthenticatedClient(client))
            } else {
                Err(OAuthError::invalid_client())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_is_form_decoded() {
        let mut h = HeaderMap::new();
        let v = format!("Basic {}", STANDARD.encode("my%20id:s%3Acret+x"));
        h.insert(header::AUTHORIZATION, v.parse().unwrap());
        assert_eq!(
            basic_credentials(&h).unwrap(),
            Some(("my id".to_owned(), "s:cret x".to_owned()))
        );
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(basic_credentials(&h).is_err());
    }
}

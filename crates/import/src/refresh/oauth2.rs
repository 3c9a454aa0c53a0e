//! A plain RFC 6749 §6 refresh, for external identity providers.
//!
//! Form-encoded `grant_type=refresh_token&refresh_token=…[&client_id=…]`;
//! the answer is an RFC 6749 §5.1 token response, errors are §5.2 JSON.

use devauth_proto::token::TokenResponse;
use devauth_proto::{ErrorResponse, Secret};
use time::OffsetDateTime;

use super::classify::{self, RefreshError};
use super::http::Http;
use super::refreshed::{Refreshed, expiry};

/// Refreshes at the token endpoint `url`.
pub fn refresh(
    http: &Http,
    url: &str,
    client_id: Option<&str>,
    refresh_token: &Secret,
    scopes: &[String],
    now: OffsetDateTime,
) -> Result<Refreshed, RefreshError> {
    let scope = scopes.join(" ");
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
    ];
    if let Some(id) = client_id {
        form.push(("client_id", id));
    }
    if !scope.is_empty() {
        form.push(("scope", &scope));
    }
    let mut resp = http
        .agent()
        .post(url)
        .header("accept", "application/json")
        .send_form(form)
        .map_err(|e| RefreshError::transport(&e))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        let answer: TokenResponse = resp.body_mut().read_json().map_err(|_| {
            RefreshError::temporary("the token endpoint answered with an unreadable body")
        })?;
        return Ok(Refreshed {
            access_token: answer.access_token,
            refresh_token: answer.refresh_token.filter(|t| !t.is_empty()),
            expires_at: expiry(
                now,
                answer
                    .expires_in
                    .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
            ),
            profile_arn: None,
        });
    }
    let retry_after = classify::retry_after(&resp);
    let code = resp
        .body_mut()
        .read_json::<ErrorResponse>()
        .ok()
        .map(|e| e.error.as_str().to_owned());
    Err(RefreshError::from_answer(
        status,
        code.as_deref(),
        retry_after,
    ))
}

//! AWS SSO OIDC `CreateToken` with the refresh-token grant.
//!
//! `POST https://oidc.{region}.amazonaws.com/token`, JSON body
//! `{"clientId", "clientSecret", "grantType": "refresh_token", "refreshToken"}`;
//! the answer holds `accessToken`, `expiresIn` and, when rotated,
//! `refreshToken` (the old one stays valid when it is absent). Errors carry
//! `error` (`invalid_grant`, …) in the body and the exception name in
//! `x-amzn-ErrorType`.

use devauth_proto::Secret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Http, RefreshError, Refreshed, classify, expiry};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    grant_type: &'static str,
    refresh_token: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    access_token: Secret,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    refresh_token: Option<Secret>,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "__type")]
    type_: Option<String>,
}

/// Calls CreateToken at `url`.
pub fn create_token(
    http: &Http,
    url: &str,
    client_id: &str,
    client_secret: &Secret,
    refresh_token: &Secret,
    now: OffsetDateTime,
) -> Result<Refreshed, RefreshError> {
    let body = Request {
        client_id,
        client_secret: client_secret.expose(),
        grant_type: "refresh_token",
        refresh_token: refresh_token.expose(),
    };
    let mut resp = http
        .agent()
        .post(url)
        .header("accept", "application/json")
        .send_json(&body)
        .map_err(|e| RefreshError::transport(&e))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        let answer: Answer = resp
            .body_mut()
            .read_json()
            .map_err(|_| RefreshError::temporary("CreateToken answered with an unreadable body"))?;
        return Ok(Refreshed {
            access_token: answer.access_token,
            refresh_token: answer.refresh_token.filter(|t| !t.is_empty()),
            expires_at: expiry(now, answer.expires_in),
            profile_arn: None,
        });
    }
    let header = resp
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let retry_after = classify::retry_after(&resp);
    let body: ErrorBody = resp.body_mut().read_json().unwrap_or_default();
    let code = body.error.or(body.type_).or(header);
    Err(RefreshError::from_answer(
        status,
        code.as_deref(),
        retry_after,
    ))
}

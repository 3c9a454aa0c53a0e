//! Kiro's social-login refresh.
//!
//! `POST https://prod.{region}.auth.desktop.kiro.dev/refreshToken`, JSON body
//! `{"refreshToken": …}`; the answer holds `accessToken`, `refreshToken`,
//! `profileArn` and `expiresIn`. A 400/401/403 means the refresh token was
//! rejected (permanent); 408, 429 and 5xx are temporary.

use devauth_proto::Secret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::classify::{self, RefreshError};
use super::http::Http;
use super::refreshed::{Refreshed, expiry};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    refresh_token: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    access_token: Secret,
    #[serde(default)]
    refresh_token: Option<Secret>,
    #[serde(default)]
    profile_arn: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "__type")]
    type_: Option<String>,
}

/// Calls the Kiro refresh endpoint at `url`.
pub fn refresh(
    http: &Http,
    url: &str,
    refresh_token: &Secret,
    now: OffsetDateTime,
) -> Result<Refreshed, RefreshError> {
    let mut resp = http
        .agent()
        .post(url)
        .header("accept", "application/json")
        .send_json(Request {
            refresh_token: refresh_token.expose(),
        })
        .map_err(|e| RefreshError::transport(&e))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        let answer: Answer = resp.body_mut().read_json().map_err(|_| {
            RefreshError::temporary("the Kiro refresh answered with an unreadable body")
        })?;
        return Ok(Refreshed {
            access_token: answer.access_token,
            refresh_token: answer.refresh_token.filter(|t| !t.is_empty()),
            expires_at: expiry(now, answer.expires_in),
            profile_arn: answer.profile_arn,
        });
    }
    let retry_after = classify::retry_after(&resp);
    let body: ErrorBody = resp.body_mut().read_json().unwrap_or_default();
    let code = body.error.or(body.type_);
    let mut err = RefreshError::from_answer(status, code.as_deref(), retry_after);
    if err.class == classify::FailureClass::Permanent {
        err.reason = format!("Kiro rejected the refresh token ({})", err.reason);
    }
    Err(err)
}

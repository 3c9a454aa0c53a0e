//! AWS SSO OIDC `CreateToken` with the refresh-token grant, sorted into
//! permanent and temporary failures for the agent.
//!
//! The wire format is the client's ([`devauth_client::sso_oidc`]: the
//! request body, the answer, the AWS error reply read as an OAuth error),
//! written once for `devauth login --provider aws` and the adopted logins
//! alike. What this module adds is what the agent needs and a login does
//! not: the status and `Retry-After` kept beside the error code, so a dead
//! refresh token is told from a throttled or failing service.

use devauth_client::http::JsonReply;
use devauth_client::sso_oidc::{self, TokenAnswer};
use devauth_proto::Secret;
use time::OffsetDateTime;

use super::classify::{self, RefreshError};
use super::http::Http;
use super::refreshed::{Refreshed, expiry};

/// The most of an error body read (AWS error bodies are a few hundred bytes).
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Calls CreateToken at `url`.
pub fn create_token(
    http: &Http,
    url: &str,
    client_id: &str,
    client_secret: &Secret,
    refresh_token: &Secret,
    now: OffsetDateTime,
) -> Result<Refreshed, RefreshError> {
    let mut resp = http
        .agent()
        .post(url)
        .header("accept", "application/json")
        .send_json(sso_oidc::refresh_request(
            client_id,
            client_secret,
            refresh_token,
        ))
        .map_err(|e| RefreshError::transport(&e))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        let unreadable = || RefreshError::temporary("CreateToken answered with an unreadable body");
        let body = resp.body_mut().read_to_string().map_err(|_| unreadable())?;
        let answer = TokenAnswer::from_body(&body)
            .map_err(|_| unreadable())?
            .into_response(&[]);
        return Ok(Refreshed {
            access_token: answer.access_token,
            refresh_token: answer.refresh_token,
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
    let reply = JsonReply {
        status,
        error_type: resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: resp
            .body_mut()
            .with_config()
            .limit(MAX_ERROR_BODY)
            .read_to_string()
            .unwrap_or_default(),
    };
    // The OAuth code when AWS names a known one; else the exception name as
    // sent (`ThrottlingException`), which the classifier normalises.
    let code = sso_oidc::refusal(&reply)
        .map(|e| e.error.as_str().to_owned())
        .or(reply.error_type);
    Err(RefreshError::from_answer(
        status,
        code.as_deref(),
        retry_after,
    ))
}

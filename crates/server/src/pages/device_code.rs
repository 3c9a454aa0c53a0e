//! Finding the device grant a typed user code names.
//!
//! A typo, an unknown code, or one already approved or denied all read the
//! same [`INVALID_CODE`], so the page is no oracle telling codes apart. A
//! code whose request expired (kept for a while after, see
//! `store::EXPIRED_GRANT_RETENTION_MS`) says so ([`EXPIRED_CODE`]): the
//! person who was too slow needs to hear it, and knowing that a dead code
//! once lived helps nobody reach a live one. Both spend the wrong-code
//! budget.

use devauth_proto::UserCode;

use crate::model::{DeviceGrant, DeviceGrantState};
use crate::state::AppState;

use super::error::PageError;
use super::throttle::{CodeEntrant, wrong_code, wrong_code_budget};

/// The one message for every code that cannot be confirmed.
pub const INVALID_CODE: &str = "That code is not valid. It may be mistyped, expired or already \
     used. Check the code on your device; if it has expired, start again there.";

/// The message for a code that expired before it was approved.
pub const EXPIRED_CODE: &str = "That code has expired: codes last only a few minutes. Start \
     again on your device to get a new one, and enter it here.";

/// Why `typed` cannot be confirmed: [`EXPIRED_CODE`] when it names a request
/// that expired while pending, else [`INVALID_CODE`]. (Call it only after
/// [`find`] found nothing: it spends no budget of its own.)
pub async fn why_not(state: &AppState, typed: &str) -> Result<&'static str, PageError> {
    let grant = by_code(state, typed).await?;
    let now = state.clock.now();
    Ok(match grant {
        Some(g) if g.state == DeviceGrantState::Pending && g.is_expired(now) => EXPIRED_CODE,
        _ => INVALID_CODE,
    })
}

/// The pending, unexpired grant `typed` names, if any, within `who`'s
/// wrong-code budget: refused before the lookup when the budget is spent,
/// and a code that names no such grant spends from it.
pub async fn find(
    state: &AppState,
    who: CodeEntrant<'_>,
    typed: &str,
) -> Result<Option<DeviceGrant>, PageError> {
    wrong_code_budget(state, who).await?;
    let found = pending(state, typed).await?;
    if found.is_none() {
        wrong_code(state, who).await?;
    }
    Ok(found)
}

/// The pending, unexpired grant `typed` names, if any (no budget: for
/// re-reading a code already found with [`find`]).
pub async fn pending(state: &AppState, typed: &str) -> Result<Option<DeviceGrant>, PageError> {
    let grant = by_code(state, typed).await?;
    let now = state.clock.now();
    Ok(grant.filter(|g| g.state == DeviceGrantState::Pending && !g.is_expired(now)))
}

/// The grant `typed` names, in any state (`None` for a code that does not parse).
async fn by_code(state: &AppState, typed: &str) -> Result<Option<DeviceGrant>, PageError> {
    let Some(code) = UserCode::normalize(typed) else {
        return Ok(None);
    };
    Ok(state
        .stores
        .flow
        .device_grant_by_user_code(code.as_str())
        .await?)
}

/// `XXXX-XXXX` for a stored canonical code.
pub fn display(canonical: &str) -> String {
    UserCode::normalize(canonical).map_or_else(|| canonical.to_owned(), |c| c.display())
}

/// What to put back in the code field after a failed attempt: the normalised
/// code when it parses, else what was typed (bounded).
pub fn refill(typed: &str) -> String {
    UserCode::normalize(typed).map_or_else(|| typed.chars().take(32).collect(), |c| c.display())
}

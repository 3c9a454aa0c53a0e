//! How model states are spelled in the columns of the SQL stores (SQLite and
//! PostgreSQL share these spellings): a state name plus the fields some
//! states carry. A combination no state produces is
//! [`StoreError::Inconsistent`].

use crate::model::{DeviceGrantState, RefreshTokenState, Timestamp};
use crate::store::{StoreError, StoreResult};

/// `(state, state_at millis)` of a refresh token.
pub(crate) fn refresh_state_columns(state: &RefreshTokenState) -> (&'static str, Option<i64>) {
    match state {
        RefreshTokenState::Active => ("active", None),
        RefreshTokenState::Rotated { rotated_at } => ("rotated", Some(rotated_at.millis())),
        RefreshTokenState::Revoked { revoked_at } => ("revoked", Some(revoked_at.millis())),
    }
}

/// The refresh-token state stored as `(state, state_at)`.
pub(crate) fn refresh_state_from(
    state: &str,
    at: Option<Timestamp>,
) -> StoreResult<RefreshTokenState> {
    match (state, at) {
        ("active", None) => Ok(RefreshTokenState::Active),
        ("rotated", Some(rotated_at)) => Ok(RefreshTokenState::Rotated { rotated_at }),
        ("revoked", Some(revoked_at)) => Ok(RefreshTokenState::Revoked { revoked_at }),
        _ => Err(StoreError::Inconsistent(format!(
            "refresh token in impossible state {state}"
        ))),
    }
}

/// `(state, state_user_id, state_at millis)` of a device grant.
pub(crate) fn grant_state_columns(
    state: &DeviceGrantState,
) -> (&'static str, Option<&str>, Option<i64>) {
    match state {
        DeviceGrantState::Pending => ("pending", None, None),
        DeviceGrantState::Approved {
            user_id,
            approved_at,
        } => ("approved", Some(user_id), Some(approved_at.millis())),
        DeviceGrantState::Denied { denied_at } => ("denied", None, Some(denied_at.millis())),
        DeviceGrantState::Exchanged { exchanged_at } => {
            ("exchanged", None, Some(exchanged_at.millis()))
        }
    }
}

/// The device-grant state stored as `(state, state_user_id, state_at)`.
pub(crate) fn grant_state_from(
    state: &str,
    user: Option<String>,
    at: Option<Timestamp>,
) -> StoreResult<DeviceGrantState> {
    match (state, user, at) {
        ("pending", None, None) => Ok(DeviceGrantState::Pending),
        ("approved", Some(user_id), Some(approved_at)) => Ok(DeviceGrantState::Approved {
            user_id,
            approved_at,
        }),
        ("denied", None, Some(denied_at)) => Ok(DeviceGrantState::Denied { denied_at }),
        ("exchanged", None, Some(exchanged_at)) => Ok(DeviceGrantState::Exchanged { exchanged_at }),
        _ => Err(StoreError::Inconsistent(format!(
            "device grant in impossible state {state}"
        ))),
    }
}

//! The `resource` parameter (RFC 8707) of every grant: an absolute URI
//! naming a protected resource registered with `devauth admin resource add`.
//! Tokens asked for with it carry `aud` = that URI; an unknown or malformed
//! resource is `invalid_target`. One resource per request (the parameter
//! may not repeat, as every OAuth parameter here).

use super::error::OAuthError;
use super::form::OAuthForm;
use crate::model::Resource;
use crate::state::AppState;
use crate::store::StoreResult;

/// The registered resource `url` names, `None` when it is malformed or unknown.
pub async fn find(state: &AppState, url: &str) -> StoreResult<Option<Resource>> {
    if !Resource::valid_indicator(url) {
        return Ok(None);
    }
    state.stores.durable.resource(url).await
}

/// The resource a token request asks for, if any.
pub async fn requested(state: &AppState, form: &OAuthForm) -> Result<Option<Resource>, OAuthError> {
    let Some(url) = form.get("resource") else {
        return Ok(None);
    };
    find(state, url).await?.map(Some).ok_or_else(invalid_target)
}

/// `invalid_target`: the resource is not one this server issues tokens for.
pub fn invalid_target() -> OAuthError {
    OAuthError::bad(
        devauth_proto::ErrorCode::InvalidTarget,
        "the resource is unknown or not a valid resource indicator",
    )
}

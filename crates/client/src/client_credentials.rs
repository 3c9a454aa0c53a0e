//! The client credentials grant (RFC 6749 §4.4), for service accounts.
//!
//! The client authenticates with `client_secret_basic` unless the provider
//! only lists `client_secret_post`.

use devauth_proto::Secret;
use devauth_proto::token::TokenResponse;

use crate::Error;
use crate::discovery::Endpoints;
use crate::http::{ClientAuth, Http, OAuthReply};

/// Picks how a confidential client authenticates at the token endpoint.
pub fn auth_for<'a>(
    endpoints: &Endpoints,
    client_id: &'a str,
    secret: &'a Secret,
) -> ClientAuth<'a> {
    let m = &endpoints.token_auth_methods;
    if !m.is_empty()
        && !m.iter().any(|x| x == "client_secret_basic")
        && m.iter().any(|x| x == "client_secret_post")
    {
        ClientAuth::Post(client_id, secret)
    } else {
        ClientAuth::Basic(client_id, secret)
    }
}

/// Fetches a token for the client itself.
pub fn fetch(
    http: &Http,
    endpoints: &Endpoints,
    client_id: &str,
    secret: &Secret,
    scope: &str,
) -> Result<TokenResponse, Error> {
    let mut form = vec![("grant_type", "client_credentials")];
    if !scope.is_empty() {
        form.push(("scope", scope));
    }
    match http.post_oauth(
        endpoints.token()?,
        auth_for(endpoints, client_id, secret),
        &form,
    )? {
        OAuthReply::Ok(t) => Ok(t),
        OAuthReply::Err(e) => Err(Error::oauth(e)),
    }
}

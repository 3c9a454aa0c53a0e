//! An `/oauth/authorize` request (RFC 6749 §4.1.1 with PKCE, RFC 7636 §4.3),
//! checked the same way when it arrives (`GET`) and when the consent form
//! posts it back (`POST`).
//!
//! Errors come in two kinds (RFC 6749 §4.1.2.1): while the client or its
//! redirect URI is in doubt the person gets an error page and the browser is
//! never sent anywhere; once both are known good, every other error is a
//! redirect to the client with `error`, `state` and `iss` (RFC 9207).
//!
//! Redirect URIs must equal a registered one, except that a loopback URI
//! (`http://127.0.0.1`, `http://[::1]`, `http://localhost`) matches on any
//! port (RFC 8252 §7.3), as native apps listen on an ephemeral port.

use axum::response::Response;
use devauth_proto::{ErrorCode, GrantType, Scope};
use url::Url;

use crate::model::{Client, Resource, ScopeRefusal};
use crate::state::AppState;

use super::error::PageError;
use super::redirect;
use super::view::HiddenField;

/// The parameters this endpoint reads.
const PARAMS: [&str; 9] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "code_challenge",
    "code_challenge_method",
    "state",
    "scope",
    "nonce",
    "resource",
];

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct Valid {
    /// The client.
    pub client: Client,
    /// The redirect URI exactly as sent (and later compared at the token endpoint).
    pub redirect_uri: String,
    /// Requested scope.
    pub scope: Scope,
    /// S256 challenge.
    pub code_challenge: String,
    /// Opaque client state, echoed back.
    pub state: Option<String>,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// The protected resource asked for (RFC 8707).
    pub resource: Option<Resource>,
    /// The parameters as received, to echo through the consent form.
    pub hidden: Vec<HiddenField>,
}

/// Why a request was refused.
#[derive(Debug)]
pub enum Refusal {
    /// Shown as a page; the browser stays here.
    Page(&'static str),
    /// Sent back to the client's redirect URI.
    Redirect {
        /// The checked redirect URI.
        redirect_uri: String,
        /// The error code.
        error: ErrorCode,
        /// Human-readable detail.
        description: &'static str,
        /// The client's state.
        state: Option<String>,
    },
}

impl Refusal {
    /// The response for this refusal.
    pub fn respond(self, app: &AppState) -> Result<Response, PageError> {
        match self {
            Self::Page(why) => Err(PageError::InvalidAuthorization(why)),
            Self::Redirect {
                redirect_uri,
                error,
                description,
                state,
            } => redirect(
                app,
                &redirect_uri,
                &[
                    ("error", Some(error.as_str())),
                    ("error_description", Some(description)),
                    ("state", state.as_deref()),
                ],
            ),
        }
    }
}

/// `303` to `redirect_uri` with `params` (skipping `None`s) and `iss` added
/// to its query.
pub fn redirect(
    app: &AppState,
    redirect_uri: &str,
    params: &[(&str, Option<&str>)],
) -> Result<Response, PageError> {
    let mut url = Url::parse(redirect_uri)
        .map_err(|_| PageError::InvalidAuthorization("The redirect address is not valid."))?;
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            if let Some(v) = v {
                query.append_pair(k, v);
            }
        }
        query.append_pair("iss", &app.config.issuer);
    }
    redirect::see_other(url.as_str())
}

/// Checks the request given as `pairs` (from a query string or a form).
pub async fn check(
    app: &AppState,
    pairs: &[(String, String)],
) -> Result<Result<Valid, Refusal>, PageError> {
    let mut values: [Option<String>; PARAMS.len()] = Default::default();
    let mut repeated = [false; PARAMS.len()];
    for (k, v) in pairs {
        if let Some(i) = PARAMS.iter().position(|p| p == k) {
            // RFC 6749 §3.1: parameters sent without a value are treated as omitted.
            if v.is_empty() {
                continue;
            }
            repeated[i] |= values[i].is_some();
            values[i] = Some(v.clone());
        }
    }
    let hidden = PARAMS
        .iter()
        .zip(&values)
        .filter_map(|(name, v)| {
            v.as_ref().map(|value| HiddenField {
                name,
                value: value.clone(),
            })
        })
        .collect();
    let [
        response_type,
        client_id,
        redirect_uri,
        code_challenge,
        code_challenge_method,
        state,
        scope,
        nonce,
        resource,
    ] = values;

    if repeated[1] || repeated[2] {
        return Ok(Err(Refusal::Page(
            "The request repeats its client or redirect address.",
        )));
    }
    let Some(client_id) = client_id else {
        return Ok(Err(Refusal::Page("The request names no application.")));
    };
    let Some(client) = app.client(&client_id).await?.map(|c| c.as_ref().clone()) else {
        return Ok(Err(Refusal::Page(
            "The application is not registered here.",
        )));
    };
    let Some(redirect_uri) = redirect_uri else {
        return Ok(Err(Refusal::Page("The request has no redirect address.")));
    };
    if !client
        .redirect_uris
        .iter()
        .any(|registered| redirect_matches(registered, &redirect_uri))
    {
        return Ok(Err(Refusal::Page(
            "The redirect address is not registered for this application.",
        )));
    }

    let refuse = |error, description| {
        Ok(Err(Refusal::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description,
            state: state.clone(),
        }))
    };
    if repeated.iter().any(|r| *r) {
        return refuse(ErrorCode::InvalidRequest, "a parameter was repeated");
    }
    match response_type.as_deref() {
        Some("code") => {}
        None => return refuse(ErrorCode::InvalidRequest, "response_type is missing"),
        Some(_) => {
            return refuse(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            );
        }
    }
    if !client.allows_grant(&GrantType::AuthorizationCode) {
        return refuse(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code grant",
        );
    }
    let Some(code_challenge) = code_challenge else {
        return refuse(
            ErrorCode::InvalidRequest,
            "PKCE is required: send code_challenge",
        );
    };
    if code_challenge_method.as_deref() != Some(devauth_proto::pkce::S256) {
        return refuse(
            ErrorCode::InvalidRequest,
            "PKCE is required with code_challenge_method=S256",
        );
    }
    // BASE64URL(SHA-256(verifier)) is always 43 characters.
    if code_challenge.len() != 43
        || devauth_proto::pkce::validate_verifier(&code_challenge).is_err()
    {
        return refuse(ErrorCode::InvalidRequest, "code_challenge is malformed");
    }
    let resource = match resource {
        None => None,
        Some(url) => match crate::routes::resource::find(app, &url).await? {
            Some(found) => Some(found),
            None => {
                return refuse(
                    ErrorCode::InvalidTarget,
                    "the resource is unknown or not a valid resource indicator",
                );
            }
        },
    };
    // The rule every grant applies (`Client::grantable_scope`).
    let scope = match client.grantable_scope(
        scope.as_deref(),
        &Scope::default(),
        crate::config::SUPPORTED_SCOPES,
        resource.as_ref(),
    ) {
        Ok(scope) => scope,
        Err(ScopeRefusal::Malformed) => {
            return refuse(ErrorCode::InvalidScope, "the scope is malformed");
        }
        Err(ScopeRefusal::NotAllowed) => {
            return refuse(
                ErrorCode::InvalidScope,
                "the scope exceeds what this client may ask for",
            );
        }
    };
    Ok(Ok(Valid {
        client,
        redirect_uri,
        scope,
        code_challenge,
        state,
        nonce,
        resource,
        hidden,
    }))
}

/// Whether `requested` may be used for `registered`: equal strings, or both
/// loopback `http` URIs on the same host, path and query, any port.
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(reg), Ok(req)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    let loopback = |u: &Url| {
        u.scheme() == "http"
            && matches!(
                u.host_str(),
                Some("127.0.0.1") | Some("[::1]") | Some("localhost")
            )
    };
    loopback(&reg)
        && loopback(&req)
        && reg.host_str() == req.host_str()
        && reg.path() == req.path()
        && reg.query() == req.query()
        && req.fragment().is_none()
        && req.username().is_empty()
        && req.password().is_none()
}

/// `scheme://host:port` of a redirect URI, for the consent page and its CSP.
pub fn origin_of(redirect_uri: &str) -> String {
    Url::parse(redirect_uri).map_or_else(
        |_| redirect_uri.to_owned(),
        |u| u.origin().ascii_serialization(),
    )
}

#[cfg(test)]
mod tests {
    use super::redirect_matches;

    #[test]
    fn loopback_redirects_match_on_any_port() {
        assert!(redirect_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53123/callback"
        ));
        assert!(redirect_matches(
            "http://[::1]:8000/cb",
            "http://[::1]:9/cb"
        ));
        assert!(redirect_matches(
            "http://localhost/cb",
            "http://localhost:5000/cb"
        ));
        assert!(redirect_matches(
            "https://app.example/cb",
            "https://app.example/cb"
        ));
    }

    #[test]
    fn everything_else_must_be_equal() {
        for (reg, req) in [
            ("https://app.example/cb", "https://app.example:444/cb"),
            ("https://app.example/cb", "https://app.example/cb/"),
            ("http://127.0.0.1/callback", "http://127.0.0.1:5/other"),
            ("http://127.0.0.1/callback", "http://localhost:5/callback"),
            ("http://127.0.0.1/callback", "https://127.0.0.1:5/callback"),
            ("http://127.0.0.1/callback", "http://127.0.0.1:5/callback#x"),
            ("http://127.0.0.1/callback", "http://u@127.0.0.1:5/callback"),
            ("http://127.0.0.1/cb", "http://127.0.0.1.evil.example:5/cb"),
        ] {
            assert!(!redirect_matches(reg, req), "{reg} vs {req}");
        }
    }
}

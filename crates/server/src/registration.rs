//! The rules of dynamic client registration (RFC 7591), with no I/O: what
//! metadata a client may register with, normalised into a [`Client`].
//!
//! * `token_endpoint_auth_method`: `none` (a public client),
//!   `client_secret_basic` (RFC 7591's default) or `client_secret_post`.
//! * `grant_types` ⊆ {authorization_code, refresh_token, device_code}
//!   (default authorization_code); `response_types` ⊆ {code}, consistent
//!   with the grants. No client credentials: a service account is made by an
//!   operator with `devauth admin client add`.
//! * `redirect_uris`: required with authorization_code, at most
//!   [`MAX_REDIRECT_URIS`]; no fragment. A public client may use loopback
//!   `http` URIs (any port at use, RFC 8252 §7.3) or private-use schemes
//!   (`com.example.app:/cb`, RFC 8252 §7.1); a confidential one `https` URIs
//!   too. Never `javascript:`, `data:`, `file:` or plain `http` elsewhere.
//! * `client_name` (≤ [`MAX_NAME`] characters, no control or bidirectional
//!   override characters) and
//!   `client_uri` (https) are the client's own claims, shown as unverified.
//! * `scope`: scopes the server supports; `id_token_signed_response_alg`:
//!   RS256 or ES256.

use devauth_proto::registration::ClientMetadata;
use devauth_proto::{ErrorCode, GrantType, Scope};

use crate::config::SUPPORTED_SCOPES;
use crate::model::{Client, ClientOrigin, KeyAlgorithm, Timestamp, TokenHash};

/// Most redirect URIs one client may register.
pub const MAX_REDIRECT_URIS: usize = 10;
/// Longest URI accepted in metadata.
pub const MAX_URI: usize = 2000;
/// Longest client name.
pub const MAX_NAME: usize = 100;

/// Why a registration is refused: an RFC 7591 §3.2.2 code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `invalid_redirect_uri` or `invalid_client_metadata`.
    pub code: ErrorCode,
    /// What is wrong, for the developer of the client.
    pub description: String,
}

fn metadata(description: impl Into<String>) -> Refusal {
    Refusal {
        code: ErrorCode::InvalidClientMetadata,
        description: description.into(),
    }
}

fn redirect(description: impl Into<String>) -> Refusal {
    Refusal {
        code: ErrorCode::InvalidRedirectUri,
        description: description.into(),
    }
}

/// A registration that passed every rule: the client to store (with
/// `secret_hash` set for a confidential one) and the metadata to echo.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The client, without its id, secret and creation time yet.
    pub client: Client,
    /// Whether the client is confidential (gets a secret).
    pub confidential: bool,
    /// The metadata as registered.
    pub metadata: ClientMetadata,
}

/// Checks `requested` and turns it into a client with id `id`, created at
/// `now`, made by `origin`; `secret_hash` is set by the caller for a
/// confidential client. `resource_scopes` are the scopes of the registered
/// protected resources, which a client may register besides the server's
/// own (an MCP client registers the scope the resource's 401 named).
pub fn register(
    requested: ClientMetadata,
    id: String,
    origin: ClientOrigin,
    now: Timestamp,
    resource_scopes: &[String],
) -> Result<Registered, Refusal> {
    let method = requested
        .token_endpoint_auth_method
        .clone()
        .unwrap_or_else(|| "client_secret_basic".to_owned());
    let confidential = match method.as_str() {
        "none" => false,
        "client_secret_basic" | "client_secret_post" => true,
        other => {
            return Err(metadata(format!(
                "token_endpoint_auth_method {other:?} is not supported: use none, \
                 client_secret_basic or client_secret_post"
            )));
        }
    };
    let grant_names = if requested.grant_types.is_empty() {
        vec!["authorization_code".to_owned()]
    } else {
        requested.grant_types.clone()
    };
    let mut grants = Vec::new();
    for name in &grant_names {
        let grant = GrantType::parse(name);
        match grant {
            GrantType::AuthorizationCode | GrantType::RefreshToken | GrantType::DeviceCode => {
                if !grants.contains(&grant) {
                    grants.push(grant);
                }
            }
            _ => {
                return Err(metadata(format!(
                    "grant type {name:?} cannot be registered: use authorization_code, \
                     refresh_token or urn:ietf:params:oauth:grant-type:device_code"
                )));
            }
        }
    }
    let code_flow = grants.contains(&GrantType::AuthorizationCode);
    let response_types = if requested.response_types.is_empty() {
        if code_flow {
            vec!["code".to_owned()]
        } else {
            Vec::new()
        }
    } else {
        requested.response_types.clone()
    };
    if response_types.iter().any(|r| r != "code") {
        return Err(metadata("only the response type \"code\" is supported"));
    }
    if response_types.is_empty() == code_flow {
        return Err(metadata(
            "response_types \"code\" goes with grant_types authorization_code, and only with it",
        ));
    }
    if code_flow && requested.redirect_uris.is_empty() {
        return Err(redirect(
            "authorization_code needs at least one redirect URI",
        ));
    }
    if requested.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(redirect(format!(
            "at most {MAX_REDIRECT_URIS} redirect URIs may be registered"
        )));
    }
    for uri in &requested.redirect_uris {
        check_redirect(uri, confidential)?;
    }
    let name = match requested.client_name.as_deref().map(str::trim) {
        None | Some("") => "Unnamed client".to_owned(),
        Some(n) if n.chars().count() > MAX_NAME || n.chars().any(spoofs) => {
            return Err(metadata(format!(
                "client_name must be at most {MAX_NAME} characters, without control or \
                 direction-changing characters"
            )));
        }
        Some(n) => n.to_owned(),
    };
    if let Some(uri) = &requested.client_uri
        && !web_url(uri)
    {
        return Err(metadata("client_uri must be an https URL"));
    }
    let allowed_scopes = match requested.scope.as_deref() {
        None => Scope::default(),
        Some(s) => {
            let scope = Scope::parse(s).map_err(|_| metadata("scope is malformed"))?;
            if let Some(unknown) = scope
                .iter()
                .find(|t| !SUPPORTED_SCOPES.contains(t) && !resource_scopes.iter().any(|r| r == t))
            {
                return Err(metadata(format!(
                    "scope {unknown:?} is not one this server issues"
                )));
            }
            scope
        }
    };
    let id_token_alg = match requested.id_token_signed_response_alg.as_deref() {
        None => KeyAlgorithm::Rs256,
        Some(alg) => KeyAlgorithm::parse(alg)
            .ok_or_else(|| metadata("id_token_signed_response_alg must be RS256 or ES256"))?,
    };
    let client = Client {
        id,
        name: name.clone(),
        secret_hash: None,
        grant_types: grants.clone(),
        redirect_uris: requested.redirect_uris.clone(),
        allowed_scopes: allowed_scopes.clone(),
        may_introspect: false,
        id_token_alg,
        origin,
        client_uri: requested.client_uri.clone(),
        used_at: None,
        created_at: now,
    };
    let metadata = ClientMetadata {
        redirect_uris: requested.redirect_uris,
        token_endpoint_auth_method: Some(method),
        grant_types: grants.iter().map(|g| g.as_str().to_owned()).collect(),
        response_types,
        client_name: Some(name),
        client_uri: requested.client_uri,
        scope: (!allowed_scopes.is_empty()).then(|| allowed_scopes.to_string()),
        id_token_signed_response_alg: Some(id_token_alg.as_str().to_owned()),
        extra: serde_json::Map::new(),
    };
    Ok(Registered {
        client,
        confidential,
        metadata,
    })
}

/// The secret hash of a confidential client's new secret.
pub fn secret_hash(secret: &devauth_proto::Secret) -> TokenHash {
    TokenHash::of(secret.expose())
}

/// Characters a name shown to people must not hold: control characters, and
/// the bidirectional controls that reorder what is displayed (a name that
/// reads differently than it is).
fn spoofs(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_loopback_http(url: &url::Url) -> bool {
    url.scheme() == "http"
        && matches!(
            url.host_str(),
            Some("127.0.0.1") | Some("[::1]") | Some("localhost")
        )
}

fn web_url(uri: &str) -> bool {
    uri.len() <= MAX_URI
        && url::Url::parse(uri).is_ok_and(|u| {
            u.fragment().is_none() && (u.scheme() == "https" || is_loopback_http(&u))
        })
}

fn check_redirect(uri: &str, confidential: bool) -> Result<(), Refusal> {
    if uri.len() > MAX_URI {
        return Err(redirect("a redirect URI is too long"));
    }
    let Ok(url) = url::Url::parse(uri) else {
        return Err(redirect(format!("{uri:?} is not an absolute URI")));
    };
    if url.fragment().is_some() {
        return Err(redirect("a redirect URI may not carry a fragment"));
    }
    let scheme = url.scheme();
    let ok = if is_loopback_http(&url) {
        true
    } else if scheme == "https" {
        confidential
    } else {
        // RFC 8252 §7.1: a private-use scheme is a reverse domain name.
        scheme.contains('.') && !matches!(scheme, "javascript" | "data" | "file")
    };
    if ok {
        Ok(())
    } else if scheme == "https" {
        Err(redirect(
            "a public client may only use loopback http or private-use scheme redirect URIs",
        ))
    } else {
        Err(redirect(format!(
            "{uri:?} is not allowed: use http://127.0.0.1/…, http://localhost/…, a \
             private-use scheme (com.example.app:/…), or https for a confidential client"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(redirects: &[&str]) -> ClientMetadata {
        ClientMetadata {
            redirect_uris: redirects.iter().map(|s| (*s).to_owned()).collect(),
            token_endpoint_auth_method: Some("none".into()),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            client_name: Some("Claude Code".into()),
            ..ClientMetadata::default()
        }
    }

    fn go(m: ClientMetadata) -> Result<Registered, Refusal> {
        register(
            m,
            "id".into(),
            ClientOrigin::Registered,
            Timestamp::from_secs(1),
            &["mcp:tools".to_owned()],
        )
    }

    #[test]
    fn resource_scopes_may_be_registered_and_others_not() {
        let mut m = public(&["http://127.0.0.1/cb"]);
        m.scope = Some("mcp:tools offline_access".into());
        assert!(go(m.clone()).is_ok());
        m.scope = Some("mcp:admin".into());
        assert!(go(m).is_err());
    }

    #[test]
    fn an_mcp_style_public_client_registers() {
        let r = go(public(&[
            "http://localhost:33418/callback",
            "com.example.app:/cb",
        ]))
        .unwrap();
        assert!(!r.confidential);
        assert_eq!(
            r.client.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(r.metadata.response_types, vec!["code"]);
        assert_eq!(r.client.origin, ClientOrigin::Registered);
        assert_eq!(r.client.name, "Claude Code");
    }

    #[test]
    fn device_only_clients_need_no_redirect() {
        let m = ClientMetadata {
            token_endpoint_auth_method: Some("none".into()),
            grant_types: vec!["urn:ietf:params:oauth:grant-type:device_code".into()],
            ..ClientMetadata::default()
        };
        let r = go(m).unwrap();
        assert_eq!(r.client.grant_types, vec![GrantType::DeviceCode]);
        assert!(r.metadata.response_types.is_empty());
        assert_eq!(r.client.name, "Unnamed client");
    }

    #[test]
    fn bad_redirects_are_invalid_redirect_uri() {
        for bad in [
            "https://app.example/cb",
            "http://evil.example/cb",
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "http://127.0.0.1/cb#frag",
            "not a uri",
            "myapp:/cb",
        ] {
            let refused = go(public(&[bad])).unwrap_err();
            assert_eq!(refused.code, ErrorCode::InvalidRedirectUri, "{bad}");
        }
        let many: Vec<String> = (0..=MAX_REDIRECT_URIS)
            .map(|i| format!("http://127.0.0.1/cb{i}"))
            .collect();
        let m = ClientMetadata {
            redirect_uris: many,
            ..public(&[])
        };
        assert_eq!(go(m).unwrap_err().code, ErrorCode::InvalidRedirectUri);
        // Code flow without a redirect URI.
        assert_eq!(
            go(public(&[])).unwrap_err().code,
            ErrorCode::InvalidRedirectUri
        );
    }

    #[test]
    fn confidential_clients_may_use_https() {
        let m = ClientMetadata {
            token_endpoint_auth_method: Some("client_secret_post".into()),
            ..public(&["https://app.example/cb"])
        };
        assert!(go(m).unwrap().confidential);
        // RFC 7591's default method is client_secret_basic.
        let m = ClientMetadata {
            token_endpoint_auth_method: None,
            ..public(&["https://app.example/cb"])
        };
        assert!(go(m).unwrap().confidential);
    }

    #[test]
    fn bad_metadata_is_invalid_client_metadata() {
        let cases = [
            ClientMetadata {
                grant_types: vec!["client_credentials".into()],
                ..public(&["http://127.0.0.1/cb"])
            },
            ClientMetadata {
                grant_types: vec!["password".into()],
                ..public(&["http://127.0.0.1/cb"])
            },
            ClientMetadata {
                grant_types: vec!["implicit".into()],
                ..public(&["http://127.0.0.1/cb"])
            },
            ClientMetadata {
                response_types: vec!["token".into()],
                ..public(&["http://127.0.0.1/cb"])
            },
            ClientMetadata {
                token_endpoint_auth_method: Some("private_key_jwt".into()),
                ..public(&["http://127.0.0.1/cb"])
            },
            ClientMetadata {
                scope: Some("openid admin".into()),
                ..public(&["http://127.0.0.1/cb"])
            },
            ClientMetadata {
                client_name: Some("x".repeat(MAX_NAME + 1)),
                ..public(&["http://127.0.0.1/cb"])
            },
            ClientMetadata {
                client_name: Some("evil\u{202e}name".into()),
                ..public(&["http://127.0.0.1/cb"])
            },
            ClientMetadata {
                client_name: Some("two\nlines".into()),
                ..public(&["http://127.0.0.1/cb"])
            },
            ClientMetadata {
                client_uri: Some("javascript:alert(1)".into()),
                ..public(&["http://127.0.0.1/cb"])
            },
            ClientMetadata {
                id_token_signed_response_alg: Some("none".into()),
                ..public(&["http://127.0.0.1/cb"])
            },
        ];
        for m in cases {
            let shown = format!("{m:?}");
            assert_eq!(
                go(m).unwrap_err().code,
                ErrorCode::InvalidClientMetadata,
                "{shown}"
            );
        }
    }
}

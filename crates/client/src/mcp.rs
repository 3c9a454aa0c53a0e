//! Finding how to log in to a remote MCP server (`devauth mcp login URL`),
//! as the MCP authorization spec lays it out:
//!
//! 1. a request without a token gets 401 with `WWW-Authenticate: Bearer
//!    resource_metadata="…"` (RFC 9728 §5.1); without that header the
//!    well-known URLs are tried, the path-suffixed one first;
//! 2. the protected-resource metadata names the `resource` and its
//!    `authorization_servers`;
//! 3. the first authorization server's metadata (RFC 8414, then OpenID
//!    discovery, issuer checked) must offer PKCE `S256`;
//! 4. `resource` is then sent on every authorization and token request
//!    (RFC 8707), so the token is for this MCP server and no other.

use devauth_proto::resource_metadata::{WELL_KNOWN, url_for};
use serde::Deserialize;

use crate::Error;
use crate::discovery::{self, Endpoints};
use crate::http::Http;
use crate::safe_text::sanitize;

/// The profile `extra` key of an MCP login: `{"url": …, "resource": …}`.
pub const EXTRA_KEY: &str = "mcp";

/// The resource (RFC 8707) an MCP login's tokens are for, which every
/// token request for it names, refreshes included.
pub fn resource_of(profile: &crate::store::Profile) -> Option<&str> {
    profile.extra.get(EXTRA_KEY)?.get("resource")?.as_str()
}

/// What logging in to one MCP server takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The MCP server's URL as given.
    pub url: String,
    /// The resource identifier from its metadata (RFC 8707 `resource`).
    pub resource: String,
    /// The authorization server (issuer).
    pub issuer: String,
    /// Its endpoints.
    pub endpoints: Endpoints,
    /// Its dynamic client registration endpoint, if any.
    pub registration_endpoint: Option<String>,
    /// Whether it takes client ID metadata document URLs as client ids.
    pub metadata_documents: bool,
    /// Scopes the resource names (its metadata's `scopes_supported`, or the
    /// 401's `scope`).
    pub scopes: Vec<String>,
}

#[derive(Deserialize)]
struct ResourceMetadata {
    resource: String,
    #[serde(default)]
    authorization_servers: Vec<String>,
    #[serde(default)]
    scopes_supported: Vec<String>,
}

/// One `key="value"` (or `key=value`) parameter of a `WWW-Authenticate`
/// Bearer challenge.
pub fn challenge_param(header: &str, name: &str) -> Option<String> {
    let rest = header.trim();
    let rest = rest
        .strip_prefix("Bearer")
        .or_else(|| rest.strip_prefix("bearer"))?;
    let mut s = rest;
    loop {
        s = s.trim_start_matches([' ', ',']);
        if s.is_empty() {
            return None;
        }
        let (key, after) = s.split_once('=')?;
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if key.trim().eq_ignore_ascii_case(name) {
            return Some(value.to_owned());
        }
        s = tail;
    }
}

/// The protected-resource metadata URLs to try for `url` when the server
/// named none: the path-suffixed form first (RFC 9728 §3.1), then the root.
pub fn well_known_urls(url: &str) -> Result<Vec<String>, Error> {
    let parsed = url::Url::parse(url).map_err(|e| Error::BadUrl {
        url: url.to_owned(),
        detail: e.to_string(),
    })?;
    let root = format!("{}{WELL_KNOWN}", parsed.origin().ascii_serialization());
    let suffixed = url_for(&parsed);
    Ok(if suffixed == root {
        vec![root]
    } else {
        vec![suffixed, root]
    })
}

/// Discovers how to log in to the MCP server at `url`.
pub fn discover(http: &Http, url: &str) -> Result<Target, Error> {
    discovery::check_url(url)?;
    let probe = http.probe_bearer(url)?;
    let (metadata_urls, challenge_scope) = match &probe {
        Some(header) => (
            match challenge_param(header, "resource_metadata") {
                Some(m) => vec![m],
                None => well_known_urls(url)?,
            },
            challenge_param(header, "scope"),
        ),
        None => (well_known_urls(url)?, None),
    };
    let mut last = None;
    let mut found = None;
    for m in &metadata_urls {
        discovery::check_url(m)?;
        match http.get_json::<ResourceMetadata>(m) {
            Ok(doc) => {
                found = Some(doc);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let Some(doc) = found else {
        return Err(last.unwrap_or_else(|| {
            Error::InvalidInput(format!(
                "{url} names no protected-resource metadata; it may not require a login"
            ))
        }));
    };
    let Some(issuer) = doc.authorization_servers.first().cloned() else {
        return Err(Error::InvalidInput(format!(
            "the metadata of {} names no authorization server",
            sanitize(&doc.resource)
        )));
    };
    let meta = discovery::discover(http, &issuer)?;
    if !meta
        .code_challenge_methods_supported
        .iter()
        .any(|m| m == "S256")
    {
        return Err(Error::InvalidInput(format!(
            "{} does not advertise PKCE S256, which MCP requires of an authorization server",
            sanitize(&issuer)
        )));
    }
    let registration_endpoint = meta.registration_endpoint.clone();
    let metadata_documents = meta.client_id_metadata_document_supported;
    let endpoints = Endpoints::from_metadata(&meta);
    let mut scopes = doc.scopes_supported;
    if scopes.is_empty()
        && let Some(s) = challenge_scope
    {
        scopes = s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
    }
    Ok(Target {
        url: url.to_owned(),
        resource: doc.resource,
        issuer,
        endpoints,
        registration_endpoint,
        metadata_documents,
        scopes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_parameters() {
        let h = r#"Bearer error="invalid_token", scope="mcp:tools files:read", resource_metadata="https://t.example/.well-known/oauth-protected-resource/mcp""#;
        assert_eq!(
            challenge_param(h, "resource_metadata").as_deref(),
            Some("https://t.example/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            challenge_param(h, "scope").as_deref(),
            Some("mcp:tools files:read")
        );
        assert_eq!(
            challenge_param("Bearer realm=x", "realm").as_deref(),
            Some("x")
        );
        assert_eq!(challenge_param("Basic realm=\"x\"", "realm"), None);
        assert_eq!(challenge_param(h, "nope"), None);
    }

    #[test]
    fn well_known_urls_try_the_path_first() {
        assert_eq!(
            well_known_urls("https://t.example/mcp").unwrap(),
            [
                "https://t.example/.well-known/oauth-protected-resource/mcp",
                "https://t.example/.well-known/oauth-protected-resource"
            ]
        );
    }
}

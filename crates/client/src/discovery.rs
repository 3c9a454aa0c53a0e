//! Finding a provider's endpoints: RFC 8414 discovery, then OpenID Connect
//! discovery, with the issuer check of RFC 8414 §3.3, and flags that override
//! or replace discovery for providers that publish none.
//!
//! Every URL must be https, except http on a loopback address (tests, local
//! servers): see [`check_url`].

use devauth_proto::metadata::{
    AuthorizationServerMetadata, OAUTH_WELL_KNOWN, OIDC_WELL_KNOWN, issuer_matches,
};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::http::Http;

/// The endpoints a client uses, resolved from discovery and overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// RFC 6749 token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// RFC 8628 device authorization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization: Option<String>,
    /// RFC 6749 authorization endpoint (the `--web` flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
    /// RFC 7009 revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<String>,
    /// Client authentication methods the token endpoint accepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_auth_methods: Vec<String>,
}

impl Endpoints {
    /// Takes every endpoint `other` sets, keeping ours where it sets none.
    pub fn overlay(mut self, other: &Endpoints) -> Self {
        let pick = |mine: &mut Option<String>, theirs: &Option<String>| {
            if theirs.is_some() {
                mine.clone_from(theirs);
            }
        };
        pick(&mut self.token, &other.token);
        pick(&mut self.device_authorization, &other.device_authorization);
        pick(&mut self.authorization, &other.authorization);
        pick(&mut self.revocation, &other.revocation);
        self
    }

    /// The endpoints a metadata document publishes.
    pub fn from_metadata(m: &AuthorizationServerMetadata) -> Self {
        Self {
            token: m.token_endpoint.clone(),
            device_authorization: m.device_authorization_endpoint.clone(),
            authorization: m.authorization_endpoint.clone(),
            revocation: m.revocation_endpoint.clone(),
            token_auth_methods: m.token_endpoint_auth_methods_supported.clone(),
        }
    }

    /// Checks every endpoint with [`check_url`].
    pub fn check(&self) -> Result<(), Error> {
        for url in [
            &self.token,
            &self.device_authorization,
            &self.authorization,
            &self.revocation,
        ]
        .into_iter()
        .flatten()
        {
            check_url(url)?;
        }
        Ok(())
    }

    /// The token endpoint, or the error naming the flag that provides it.
    pub fn token(&self) -> Result<&str, Error> {
        self.token.as_deref().ok_or(Error::MissingEndpoint {
            what: "token endpoint",
            flag: "--token-endpoint",
        })
    }
}

/// The well-known URLs to try for an issuer, in order.
///
/// For `https://h/p`: RFC 8414 inserts the suffix before the path
/// (`https://h/.well-known/oauth-authorization-server/p`); OIDC appends it
/// (`https://h/p/.well-known/openid-configuration`); many servers also answer
/// the appended RFC 8414 form.
pub fn well_known_urls(issuer: &str) -> Result<Vec<String>, Error> {
    let parsed = url::Url::parse(issuer).map_err(|e| Error::BadUrl {
        url: issuer.to_owned(),
        detail: e.to_string(),
    })?;
    let base = issuer.trim_end_matches('/');
    let path = parsed.path().trim_end_matches('/');
    let mut urls = Vec::new();
    if path.is_empty() {
        urls.push(format!("{base}{OAUTH_WELL_KNOWN}"));
        urls.push(format!("{base}{OIDC_WELL_KNOWN}"));
    } else {
        let mut origin = parsed.clone();
        origin.set_path("");
        origin.set_query(None);
        let origin = origin.as_str().trim_end_matches('/').to_owned();
        urls.push(format!("{origin}{OAUTH_WELL_KNOWN}{path}"));
        urls.push(format!("{base}{OIDC_WELL_KNOWN}"));
        urls.push(format!("{base}{OAUTH_WELL_KNOWN}"));
    }
    Ok(urls)
}

/// How the discovery document's `issuer` must relate to the issuer asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IssuerCheck {
    /// RFC 8414 §3.3: exactly the issuer asked for.
    #[default]
    Exact,
    /// Microsoft Entra ID v2.0: a tenant given by name (`organizations`,
    /// `common`, `contoso.onmicrosoft.com`) publishes a document whose issuer
    /// names the tenant by id (`https://HOST/<GUID>/v2.0`) or by the
    /// `{tenantid}` placeholder. The scheme, host and `/v2.0` must still
    /// match; only the tenant segment may differ, and only to one of those.
    EntraTenant,
}

impl IssuerCheck {
    fn accepts(self, found: &str, asked: &str) -> bool {
        if issuer_matches(found, asked) {
            return true;
        }
        match self {
            Self::Exact => false,
            Self::EntraTenant => {
                let split = |s: &str| {
                    let u = url::Url::parse(s).ok()?;
                    let segs: Vec<String> = u.path_segments()?.map(str::to_owned).collect();
                    Some((u.origin(), segs))
                };
                let (Some((fo, fs)), Some((ao, as_))) = (split(found), split(asked)) else {
                    return false;
                };
                let tenant_ok = |t: &str| t == "{tenantid}" || t == "%7Btenantid%7D" || is_guid(t);
                fo == ao
                    && fs.len() == 2
                    && as_.len() == 2
                    && fs[1] == "v2.0"
                    && as_[1] == "v2.0"
                    && (fs[0] == as_[0] || tenant_ok(&fs[0]))
            }
        }
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex: an Entra tenant id.
fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Fetches the issuer's metadata and checks that it names the issuer.
pub fn discover(http: &Http, issuer: &str) -> Result<AuthorizationServerMetadata, Error> {
    discover_checked(http, issuer, IssuerCheck::Exact)
}

/// [`discover`] with the issuer compared as `check` says.
pub fn discover_checked(
    http: &Http,
    issuer: &str,
    check: IssuerCheck,
) -> Result<AuthorizationServerMetadata, Error> {
    check_url(issuer)?;
    let mut last = String::from("nothing answered");
    for url in well_known_urls(issuer)? {
        match http.get_json::<AuthorizationServerMetadata>(&url) {
            Ok(meta) => {
                if !check.accepts(&meta.issuer, issuer) {
                    return Err(Error::IssuerMismatch {
                        url,
                        expected: issuer.to_owned(),
                        found: crate::safe_text::sanitize(&meta.issuer),
                    });
                }
                return Ok(meta);
            }
            Err(Error::BadResponse { status, detail, .. }) => {
                last = format!("HTTP {status}, {detail}");
            }
            Err(e) => return Err(e),
        }
    }
    // `https://id.example.com/device` (a page's URL) is a common mistake:
    // when the issuer has a path, name the server's base URL too.
    if let Ok(parsed) = url::Url::parse(issuer)
        && !parsed.path().trim_end_matches('/').is_empty()
    {
        last = format!(
            "{last}; if {origin} is the server, its issuer is probably {origin}",
            origin = parsed.origin().ascii_serialization()
        );
    }
    Err(Error::NoDiscovery {
        issuer: issuer.to_owned(),
        detail: last,
    })
}

/// Which endpoints an operation needs besides the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// The device authorization endpoint (device flow).
    pub device: bool,
    /// The authorization endpoint (`--web`).
    pub authorization: bool,
}

/// Resolves endpoints: discovery overlaid with `overrides`. When the overrides
/// already name everything `needs` asks for, discovery is skipped, so
/// providers without discovery work.
pub fn resolve(
    http: &Http,
    issuer: &str,
    overrides: &Endpoints,
    needs: Needs,
) -> Result<Endpoints, Error> {
    resolve_checked(http, issuer, overrides, needs, IssuerCheck::Exact)
}

/// [`resolve`] with the issuer compared as `check` says.
pub fn resolve_checked(
    http: &Http,
    issuer: &str,
    overrides: &Endpoints,
    needs: Needs,
    check: IssuerCheck,
) -> Result<Endpoints, Error> {
    check_url(issuer)?;
    let complete = overrides.token.is_some()
        && (!needs.device || overrides.device_authorization.is_some())
        && (!needs.authorization || overrides.authorization.is_some());
    let endpoints = if complete {
        overrides.clone()
    } else {
        Endpoints::from_metadata(&discover_checked(http, issuer, check)?).overlay(overrides)
    };
    endpoints.check()?;
    Ok(endpoints)
}

/// Accepts https URLs, and http only on loopback hosts.
pub fn check_url(raw: &str) -> Result<(), Error> {
    let url = url::Url::parse(raw).map_err(|e| Error::BadUrl {
        url: raw.to_owned(),
        detail: e.to_string(),
    })?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if devauth_proto::loopback::is_loopback(&url) => Ok(()),
        _ => Err(Error::InsecureUrl {
            url: raw.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_documents_may_name_the_tenant_by_id_only() {
        let asked = "https://login.microsoftonline.com/organizations/v2.0";
        let check = IssuerCheck::EntraTenant;
        assert!(check.accepts("https://login.microsoftonline.com/{tenantid}/v2.0", asked));
        assert!(check.accepts(
            "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
            asked
        ));
        assert!(check.accepts(asked, asked));
        // Another host, another version, another shape: refused.
        for found in [
            "https://evil.example/{tenantid}/v2.0",
            "https://login.microsoftonline.com/{tenantid}",
            "https://login.microsoftonline.com/other-tenant/v2.0",
            "https://login.microsoftonline.com/a/{tenantid}/v2.0",
        ] {
            assert!(!check.accepts(found, asked), "{found}");
        }
        assert!(
            !IssuerCheck::Exact.accepts("https://login.microsoftonline.com/{tenantid}/v2.0", asked)
        );
    }

    #[test]
    fn well_known_forms() {
        assert_eq!(
            well_known_urls("https://a.example").unwrap(),
            [
                "https://a.example/.well-known/oauth-authorization-server",
                "https://a.example/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            well_known_urls("https://a.example/realms/x/").unwrap(),
            [
                "https://a.example/.well-known/oauth-authorization-server/realms/x",
                "https://a.example/realms/x/.well-known/openid-configuration",
                "https://a.example/realms/x/.well-known/oauth-authorization-server",
            ]
        );
    }

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_url("https://a.example").is_ok());
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("http://[::1]:8080").is_ok());
        assert!(check_url("http://localhost").is_ok());
        assert!(matches!(
            check_url("http://a.example"),
            Err(Error::InsecureUrl { .. })
        ));
        assert!(matches!(check_url("nope"), Err(Error::BadUrl { .. })));
    }

    #[test]
    fn overrides_win() {
        let discovered = Endpoints {
            token: Some("https://a/token".into()),
            revocation: Some("https://a/revoke".into()),
            ..Default::default()
        };
        let flags = Endpoints {
            token: Some("https://b/token".into()),
            ..Default::default()
        };
        let e = discovered.overlay(&flags);
        assert_eq!(e.token.as_deref(), Some("https://b/token"));
        assert_eq!(e.revocation.as_deref(), Some("https://a/revoke"));
    }

    #[test]
    fn complete_overrides_skip_discovery() {
        // Nothing listens on the issuer; resolution must not try.
        let flags = Endpoints {
            token: Some("http://127.0.0.1:9/token".into()),
            device_authorization: Some("http://127.0.0.1:9/device".into()),
            ..Default::default()
        };
        let needs = Needs {
            device: true,
            authorization: false,
        };
        let e = resolve(&Http::new(), "http://127.0.0.1:9", &flags, needs).unwrap();
        assert_eq!(e, flags);
    }
}

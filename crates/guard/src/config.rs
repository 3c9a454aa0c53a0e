//! What the operator sets (`devauth guard` flags), checked once at start.

use std::time::Duration;

use url::Url;

/// The guard's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The authorization server whose tokens are accepted (`iss`).
    pub issuer: String,
    /// The protected resource's identifier (RFC 8707, RFC 9728): the public
    /// URL clients use, and the `aud` a token must carry.
    pub resource: Url,
    /// The identifier exactly as given: what `aud` is compared with and the
    /// metadata's `resource` says.
    pub audience: String,
    /// Where valid requests go (`http://` only: the upstream sits next to
    /// the guard).
    pub upstream: Url,
    /// Scopes every request's token must hold.
    pub required_scopes: Vec<String>,
    /// Where the JWKS lives; `None`: from the issuer's metadata.
    pub jwks_uri: Option<String>,
    /// The header that carries the token's subject to the upstream.
    pub forward_user_header: Option<String>,
    /// Allowed clock skew for `exp` and `nbf`.
    pub leeway: Duration,
    /// How long fetched keys are used before they are fetched again.
    pub jwks_ttl: Duration,
    /// A human name for the resource in its metadata (`resource_name`).
    pub resource_name: Option<String>,
}

/// A setting that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A URL that does not parse or has the wrong scheme.
    #[error("{flag} {url}: {why}")]
    Url {
        /// The flag.
        flag: &'static str,
        /// The value given.
        url: String,
        /// What is wrong.
        why: String,
    },
    /// A header name that is not one.
    #[error("--forward-user-header {0:?} is not a valid header name")]
    Header(String),
}

impl Config {
    /// Settings with the defaults (30 s leeway, keys kept 5 minutes).
    pub fn new(issuer: &str, resource: &str, upstream: &str) -> Result<Self, ConfigError> {
        let parse = |flag, raw: &str, schemes: &[&str]| {
            let url = Url::parse(raw).map_err(|e| ConfigError::Url {
                flag,
                url: raw.to_owned(),
                why: e.to_string(),
            })?;
            if !schemes.contains(&url.scheme()) {
                return Err(ConfigError::Url {
                    flag,
                    url: raw.to_owned(),
                    why: format!("must be {}", schemes.join(" or ")),
                });
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err(ConfigError::Url {
                    flag,
                    url: raw.to_owned(),
                    why: "must have no query or fragment".into(),
                });
            }
            Ok(url)
        };
        let issuer_url = parse("--issuer", issuer, &["https", "http"])?;
        if issuer_url.scheme() == "http" && !devauth_proto::loopback::is_loopback(&issuer_url) {
            return Err(ConfigError::Url {
                flag: "--issuer",
                url: issuer.to_owned(),
                why: "plain http is only allowed on a loopback address".into(),
            });
        }
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            resource: parse("--resource", resource, &["https", "http"])?,
            audience: resource.to_owned(),
            upstream: parse("--upstream", upstream, &["http"])?,
            required_scopes: Vec::new(),
            jwks_uri: None,
            forward_user_header: None,
            leeway: Duration::from_secs(30),
            jwks_ttl: Duration::from_secs(300),
            resource_name: None,
        })
    }

    /// Sets the header that carries the subject upstream.
    pub fn forward_user_header(mut self, name: &str) -> Result<Self, ConfigError> {
        axum::http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ConfigError::Header(name.to_owned()))?;
        self.forward_user_header = Some(name.to_ascii_lowercase());
        Ok(self)
    }

    /// The resource's path, without a trailing slash (`""` for the root).
    pub fn resource_path(&self) -> &str {
        self.resource.path().trim_end_matches('/')
    }

    /// Where the metadata document is published for this resource (RFC
    /// 9728 §3.1: the well-known path inserted before the resource's path).
    pub fn metadata_url(&self) -> String {
        devauth_proto::resource_metadata::url_for(&self.resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_url_inserts_the_well_known_path() {
        let c = Config::new(
            "https://auth.example.com",
            "https://tools.example.com/mcp",
            "http://127.0.0.1:3000/mcp",
        )
        .unwrap();
        assert_eq!(
            c.metadata_url(),
            "https://tools.example.com/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        for (i, r, u) in [
            (
                "http://auth.example.com",
                "https://t/mcp",
                "http://127.0.0.1:1",
            ),
            ("https://a", "https://t/mcp?x=1", "http://127.0.0.1:1"),
            ("https://a", "https://t/mcp", "https://upstream"),
            ("not a url", "https://t/mcp", "http://127.0.0.1:1"),
        ] {
            assert!(Config::new(i, r, u).is_err(), "{i} {r} {u}");
        }
        let c = Config::new("https://a", "https://t/mcp", "http://127.0.0.1:1").unwrap();
        assert!(c.clone().forward_user_header("X-Auth-User").is_ok());
        assert!(c.forward_user_header("bad header").is_err());
    }
}

//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document;
//! the MCP spec's preferred way for a client to say who it is): a
//! `client_id` that is an https URL names a JSON document of client
//! metadata (RFC 7591 fields) served at that URL. With `--registration open`
//! the server fetches it, checks it as strictly as a registration, and uses
//! the client it describes; discovery says so with
//! `client_id_metadata_document_supported`.
//!
//! Fetching a URL chosen by anyone is server-side request forgery waiting to
//! happen, so the fetch is fenced:
//!
//! | fence | value |
//! |---|---|
//! | scheme | https (http only on loopback, and only with `--allow-private-client-metadata`) |
//! | target addresses | every address the name resolves to must be public — no loopback, private, link-local, CGNAT, multicast or unspecified ones — checked in the resolver, so the connection goes to the address that was checked (no DNS rebinding window); `--allow-private-client-metadata` lifts this for tests and intranets |
//! | redirects | none followed: a redirect is a failed fetch |
//! | size | [`MAX_DOCUMENT_BYTES`] |
//! | time | [`FETCH_TIMEOUT`] for the whole fetch |
//! | content | a JSON object whose `client_id` is the URL itself, `token_endpoint_auth_method` `none` (a public client: the document cannot hold a secret), and metadata that passes [`crate::registration::register`] |
//!
//! A document is used for as long as its `Cache-Control: max-age` says,
//! within [`MIN_MAX_AGE`]..[`MAX_MAX_AGE`] ([`DEFAULT_MAX_AGE`] without
//! one); a failure is remembered for [`FAILURE_TTL`], so a client cannot make
//! the server fetch on every request. The client it describes is stored (with
//! origin `metadata-document`), so grants and pages find it like any other,
//! and it is refreshed in the store each time the document is fetched again.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use devauth_proto::registration::ClientMetadata;

use crate::model::{Client, ClientOrigin, Timestamp};
use crate::store::{DurableStore, StoreError};

/// Largest document read.
pub const MAX_DOCUMENT_BYTES: u64 = 5 * 1024;
/// Time allowed for the whole fetch.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a document is used without `Cache-Control: max-age`.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// A shorter `max-age` is raised to this.
pub const MIN_MAX_AGE: Duration = Duration::from_secs(60);
/// A longer `max-age` is cut to this.
pub const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// How long a failed fetch is remembered.
pub const FAILURE_TTL: Duration = Duration::from_secs(30);
/// Most documents remembered; the cache starts over when full.
const MAX_ENTRIES: usize = 1024;

/// Whether `id` is a client ID metadata document URL: https with a path and
/// no fragment, user info or dot segments (or, when `allow_private`, http on
/// a loopback host).
pub fn is_document_url(id: &str, allow_private: bool) -> bool {
    // Every request's client id comes through here: most are plain ids.
    if !(id.starts_with("https://") || allow_private && id.starts_with("http://")) {
        return false;
    }
    let Ok(url) = url::Url::parse(id) else {
        return false;
    };
    // The id must be the URL exactly as it serialises (no normalisation games).
    if url.as_str() != id
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.path() == "/"
        || id.contains("/./")
        || id.contains("/../")
    {
        return false;
    }
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => allow_private && devauth_proto::loopback::is_loopback(&url),
        _ => false,
    }
}

/// Whether `ip` is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // CGNAT 100.64/10
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

/// A resolver that only hands out public addresses (unless told otherwise).
#[derive(Debug)]
struct PublicOnly {
    allow_private: bool,
}

impl ureq::unversioned::resolver::Resolver for PublicOnly {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let all = ureq::unversioned::resolver::DefaultResolver::default()
            .resolve(uri, config, timeout)?;
        let mut kept = self.empty();
        for addr in all
            .iter()
            .copied()
            .filter(|a: &SocketAddr| self.allow_private || is_public(a.ip()))
        {
            kept.push(addr);
        }
        if kept.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(kept)
    }
}

/// Why a document could not be used (said to the client as
/// `invalid_client`, to the operator in the log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client metadata document {url}: {why}")]
pub struct DocumentError {
    /// The document URL.
    pub url: String,
    /// What went wrong, in a few words.
    pub why: String,
}

#[derive(Debug, Clone)]
enum Cached {
    Client(Arc<Client>),
    Failed(DocumentError),
}

/// The fetcher and its cache (one per server process).
#[derive(Debug)]
pub struct Documents {
    agent: ureq::Agent,
    allow_private: bool,
    cache: Mutex<HashMap<String, (Instant, Cached)>>,
}

/// A fetched document: its text and how long it may be used.
struct Fetched {
    body: String,
    max_age: Duration,
}

impl Documents {
    /// A fetcher; `allow_private` lifts the address fence.
    pub fn new(allow_private: bool) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(FETCH_TIMEOUT))
            .https_only(!allow_private)
            .user_agent(concat!("devauth/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::new(),
            PublicOnly { allow_private },
        );
        Self {
            agent,
            allow_private,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `id` is a document URL this server would fetch.
    pub fn handles(&self, id: &str) -> bool {
        is_document_url(id, self.allow_private)
    }

    /// The client the document at `url` describes: from the cache while it
    /// is fresh, else fetched, checked and stored. `resource_scopes` are the
    /// scopes a client may register besides the server's own.
    pub async fn client(
        &self,
        store: &dyn DurableStore,
        url: &str,
        now: Timestamp,
        resource_scopes: &[String],
    ) -> Result<Result<Arc<Client>, DocumentError>, StoreError> {
        if let Some(cached) = self.fresh(url) {
            return Ok(match cached {
                Cached::Client(c) => Ok(c),
                Cached::Failed(e) => Err(e),
            });
        }
        let agent = self.agent.clone();
        let target = url.to_owned();
        let fetched = tokio::task::spawn_blocking(move || fetch(&agent, &target))
            .await
            .unwrap_or_else(|_| {
                Err(DocumentError {
                    url: url.to_owned(),
                    why: "the fetch failed".into(),
                })
            });
        let outcome = match fetched {
            Ok(f) => match client_of(url, &f.body, now, resource_scopes) {
                Ok(client) => {
                    let client = store_client(store, client).await?;
                    Ok((Arc::new(client), f.max_age))
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let mut cache = self.lock();
        if cache.len() >= MAX_ENTRIES {
            cache.clear();
        }
        Ok(match outcome {
            Ok((client, max_age)) => {
                metrics::counter!("devauth_client_metadata_fetches_total", "result" => "ok")
                    .increment(1);
                cache.insert(
                    url.to_owned(),
                    (Instant::now() + max_age, Cached::Client(client.clone())),
                );
                Ok(client)
            }
            Err(e) => {
                metrics::counter!("devauth_client_metadata_fetches_total", "result" => "refused")
                    .increment(1);
                tracing::warn!(url, why = %e.why, "client metadata document refused");
                cache.insert(
                    url.to_owned(),
                    (Instant::now() + FAILURE_TTL, Cached::Failed(e.clone())),
                );
                Err(e)
            }
        })
    }

    /// The cached outcome for `url`, while it is fresh.
    pub fn cached(&self, url: &str) -> Option<Result<Arc<Client>, DocumentError>> {
        self.fresh(url).map(|c| match c {
            Cached::Client(c) => Ok(c),
            Cached::Failed(e) => Err(e),
        })
    }

    fn fresh(&self, url: &str) -> Option<Cached> {
        let cache = self.lock();
        let (until, cached) = cache.get(url)?;
        (Instant::now() < *until).then(|| cached.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Cached)>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn fetch(agent: &ureq::Agent, url: &str) -> Result<Fetched, DocumentError> {
    let err = |why: String| DocumentError {
        url: url.to_owned(),
        why,
    };
    let mut resp = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .map_err(|e| match e {
            ureq::Error::HostNotFound => err("no public address for its host".into()),
            ureq::Error::Timeout(_) => err(format!("no answer within {FETCH_TIMEOUT:?}")),
            other => err(format!("cannot fetch it ({other})")),
        })?;
    let status = resp.status().as_u16();
    if (300..400).contains(&status) {
        return Err(err(
            "it redirects; documents must be served where their URL says".into(),
        ));
    }
    if status != 200 {
        return Err(err(format!("HTTP {status}")));
    }
    let json = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            let t = t.split(';').next().unwrap_or("").trim();
            t.eq_ignore_ascii_case("application/json") || t.ends_with("+json")
        });
    if !json {
        return Err(err("it is not served as application/json".into()));
    }
    let max_age = resp
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .and_then(max_age)
        .unwrap_or(DEFAULT_MAX_AGE)
        .clamp(MIN_MAX_AGE, MAX_MAX_AGE);
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_DOCUMENT_BYTES)
        .read_to_string()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => {
                err(format!("it is larger than {MAX_DOCUMENT_BYTES} bytes"))
            }
            ureq::Error::Timeout(_) => err(format!("no answer within {FETCH_TIMEOUT:?}")),
            other => err(format!("cannot read it ({other})")),
        })?;
    Ok(Fetched { body, max_age })
}

/// `max-age` of a `Cache-Control` value (`no-store`/`no-cache` count as 0).
fn max_age(value: &str) -> Option<Duration> {
    let mut age = None;
    for d in value.split(',').map(str::trim) {
        if d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        if let Some(v) = d.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse().ok().map(Duration::from_secs);
        }
    }
    age
}

/// Checks the document and returns the client it describes.
pub fn client_of(
    url: &str,
    body: &str,
    now: Timestamp,
    resource_scopes: &[String],
) -> Result<Client, DocumentError> {
    let err = |why: String| DocumentError {
        url: url.to_owned(),
        why,
    };
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|_| err("it is not JSON".into()))?;
    if value.get("client_id").and_then(|v| v.as_str()) != Some(url) {
        return Err(err("its client_id is not its own URL".into()));
    }
    if value.get("client_secret").is_some() {
        return Err(err(
            "it holds a client_secret, which a public document must not".into(),
        ));
    }
    let meta: ClientMetadata =
        serde_json::from_value(value).map_err(|_| err("it is not client metadata".into()))?;
    if meta.token_endpoint_auth_method.as_deref().unwrap_or("none") != "none" {
        return Err(err(
            "token_endpoint_auth_method must be none (a document cannot hold a secret)".into(),
        ));
    }
    let mut meta = meta;
    meta.token_endpoint_auth_method = Some("none".into());
    let registered = crate::registration::register(
        meta,
        url.to_owned(),
        ClientOrigin::MetadataDocument,
        now,
        resource_scopes,
    )
    .map_err(|refusal| err(refusal.description))?;
    Ok(registered.client)
}

/// Stores the client (replacing an earlier version of the same document),
/// keeping when it was first seen and last used.
async fn store_client(store: &dyn DurableStore, mut client: Client) -> Result<Client, StoreError> {
    match store.client(&client.id).await? {
        Some(existing) if existing.origin == ClientOrigin::MetadataDocument => {
            client.created_at = existing.created_at;
            client.used_at = existing.used_at;
            store.update_client(&client).await?;
            Ok(client)
        }
        // An operator made a client with this id: theirs wins.
        Some(existing) => Ok(existing),
        None => match store.add_client(&client).await {
            Ok(()) => Ok(client),
            // Another replica stored it first.
            Err(StoreError::AlreadyExists(_)) => {
                Ok(store.client(&client.id).await?.unwrap_or(client))
            }
            Err(e) => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_urls() {
        assert!(is_document_url(
            "https://app.example.com/oauth/client.json",
            false
        ));
        for bad in [
            "https://app.example.com/",
            "https://app.example.com",
            "http://app.example.com/c.json",
            "https://u:p@app.example.com/c.json",
            "https://app.example.com/c.json#x",
            "https://app.example.com/a/../c.json",
            "devauth-cli",
            "http://127.0.0.1:9/c.json",
        ] {
            assert!(!is_document_url(bad, false), "{bad}");
        }
        assert!(is_document_url("http://127.0.0.1:9/c.json", true));
        assert!(!is_document_url("http://10.0.0.1/c.json", true));
    }

    #[test]
    fn only_public_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "2606:4700::1111", "1.1.1.1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn cache_control() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
    }

    #[test]
    fn documents_are_checked_like_registrations() {
        let url = "https://app.example.com/client.json";
        let now = Timestamp::from_secs(1);
        let ok = format!(
            r#"{{"client_id":"{url}","client_name":"App","redirect_uris":["http://127.0.0.1/cb"],"grant_types":["authorization_code"],"response_types":["code"],"token_endpoint_auth_method":"none"}}"#
        );
        let c = client_of(url, &ok, now, &[]).unwrap();
        assert_eq!(c.id, url);
        assert_eq!(c.origin, ClientOrigin::MetadataDocument);
        assert!(c.secret_hash.is_none());
        let other_id = ok.replace(url, "https://evil.example.com/client.json");
        assert!(client_of(url, &other_id, now, &[]).is_err());
        let secret = ok.replace(
            r#""token_endpoint_auth_method":"none""#,
            r#""token_endpoint_auth_method":"client_secret_basic""#,
        );
        assert!(client_of(url, &secret, now, &[]).is_err());
        let web_redirect = ok.replace("http://127.0.0.1/cb", "http://evil.example.com/cb");
        assert!(client_of(url, &web_redirect, now, &[]).is_err());
    }
}

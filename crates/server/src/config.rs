//! Server settings, resolved once from flags, environment and config file by
//! the binary, then shared read-only.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Scopes this server knows. `openid` asks for an ID token, `offline_access`
/// for a refresh token; `profile` adds `preferred_username` (which
/// operator-made clients get in the ID token anyway: `routes::issue`).
pub const SUPPORTED_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// The client every server has: the devauth command line.
pub const DEFAULT_CLIENT_ID: &str = "devauth-cli";

/// Largest request body any endpoint accepts (OAuth endpoints answer a
/// larger one with 400 `invalid_request`, axum extractors with 413).
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// Everything the server needs to know at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The issuer URL (no trailing slash): `iss` of tokens, base of every endpoint URL.
    pub issuer: String,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Folder for the SQLite database and other local state.
    pub data_dir: PathBuf,
    /// Lifetime of device and user codes, seconds.
    pub code_ttl_secs: u32,
    /// Initial polling interval sent to devices, seconds.
    pub poll_interval_secs: u32,
    /// Lifetime of access tokens, seconds.
    pub access_token_ttl_secs: u32,
    /// Lifetime of refresh tokens, seconds.
    pub refresh_token_ttl_secs: u32,
    /// Device authorizations per IP per minute; 0 = off.
    pub device_rate_limit: u32,
    /// Whether to send `verification_uri_complete` (RFC 8628 §3.3.1).
    pub verification_uri_complete: bool,
    /// Proxies whose forwarding headers name the client (`--trusted-proxy`);
    /// empty = the TCP peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where `/metrics` is served instead of the main address, if anywhere else.
    pub metrics_listen: Option<SocketAddr>,
    /// Days audit events are kept; 0 = forever.
    pub audit_retention_days: u32,
    /// Who may register clients at `/oauth/register` (RFC 7591).
    pub registration: RegistrationPolicy,
    /// Registrations per IP per hour; 0 = off.
    pub registration_rate_limit: u32,
    /// How long a self-registered client that never received a token is
    /// kept, seconds.
    pub registered_client_ttl_secs: u32,
    /// Fetch client ID metadata documents from loopback and private
    /// addresses too (tests, intranets).
    pub allow_private_client_metadata: bool,
}

/// Who may register clients (RFC 7591), `devauth serve --registration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegistrationPolicy {
    /// No registration endpoint (the default): clients come from `devauth admin`.
    #[default]
    Off,
    /// Anyone may register a client (MCP clients expect this).
    Open,
    /// Only with an initial access token from `devauth admin registration-token`.
    Token,
}

impl RegistrationPolicy {
    /// Parses `off`, `open` or `token`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(Self::Off),
            "open" => Some(Self::Open),
            "token" => Some(Self::Token),
            _ => None,
        }
    }
}

impl Config {
    /// Defaults for an issuer and a data folder.
    pub fn new(issuer: impl Into<String>, listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            listen,
            data_dir,
            code_ttl_secs: 600,
            poll_interval_secs: 5,
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            device_rate_limit: 30,
            verification_uri_complete: true,
            trusted_proxies: Vec::new(),
            metrics_listen: None,
            audit_retention_days: 90,
            registration: RegistrationPolicy::Off,
            registration_rate_limit: 20,
            registered_client_ttl_secs: 7 * 24 * 3600,
            allow_private_client_metadata: false,
        }
    }

    /// Whether cookies must carry `Secure` (the issuer is https).
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// The longest lifetime of a signed token (access or ID token): how long a
    /// retired signing key stays published.
    pub fn max_token_ttl_secs(&self) -> i64 {
        i64::from(self.access_token_ttl_secs)
    }

    /// An absolute URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

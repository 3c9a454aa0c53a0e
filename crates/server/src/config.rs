//! Server settings, resolved once from flags, environment and config file,
//! then shared read-only.
//!
//! The binary merges flags and environment over the config file into one
//! [`Settings`] (every field optional); [`Config::resolve`] checks it and
//! fills in the defaults, so a value is refused the same way whether it came
//! from a flag or from the file.

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

/// Settings as the operator gave them, before defaults and checks: flags and
/// environment already merged over the config file. `None` keeps the default.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Device authorizations per IP per minute; 0 = off.
    pub device_rate_limit: Option<u32>,
    /// Lifetime of device and user codes, seconds (at least 1).
    pub code_ttl: Option<u32>,
    /// Initial polling interval, seconds (1 to 3600).
    pub poll_interval: Option<u32>,
    /// Lifetime of access and ID tokens, seconds (1 to 30 days).
    pub access_token_ttl: Option<u32>,
    /// Lifetime of refresh tokens, seconds (at least 1).
    pub refresh_token_ttl: Option<u32>,
    /// Whether to send `verification_uri_complete`.
    pub verification_uri_complete: Option<bool>,
    /// `off`, `open` or `token`.
    pub registration: Option<String>,
    /// Registrations per IP per hour; 0 = off.
    pub registration_rate_limit: Option<u32>,
    /// How long an unused self-registered client is kept, seconds (at least 60).
    pub registered_client_ttl: Option<u32>,
    /// Fetch client ID metadata documents from private addresses too.
    pub allow_private_client_metadata: bool,
    /// Days audit events are kept; 0 = forever.
    pub audit_retention: Option<u32>,
}

/// A setting out of its range (named as in the config file, where flags
/// drop the dashes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The issuer does not parse as a URL.
    #[error("--issuer {0:?} is not a URL")]
    IssuerNotUrl(String),
    /// `code_ttl` is 0.
    #[error("code_ttl must be at least 1 second")]
    CodeTtl,
    /// `poll_interval` is 0 or over an hour.
    #[error("poll_interval must be between 1 second and 1 hour (3600)")]
    PollInterval,
    /// `access_token_ttl` is 0 or over 30 days.
    #[error("access_token_ttl must be between 1 second and 30 days")]
    AccessTokenTtl,
    /// `refresh_token_ttl` is 0.
    #[error("refresh_token_ttl must be at least 1 second")]
    RefreshTokenTtl,
    /// `registered_client_ttl` is under a minute.
    #[error("registered_client_ttl must be at least 60 seconds")]
    RegisteredClientTtl,
    /// `registration` is not `off`, `open` or `token`.
    #[error("registration {0:?} must be off, open or token")]
    Registration(String),
}

/// Longest initial polling interval a setting may ask for, seconds.
const POLL_INTERVAL_SETTING_MAX_SECS: u32 = 3600;

/// Shortest lifetime of a self-registered client that never got a token, seconds.
const MIN_REGISTERED_CLIENT_TTL_SECS: u32 = 60;

impl Config {
    /// The configuration for `issuer`, listening on `listen` with data in
    /// `data_dir`: `settings` checked and laid over the defaults of
    /// [`Config::new`]. (`trusted_proxies` and `metrics_listen` are set by
    /// the caller, which parses and binds them.)
    pub fn resolve(
        issuer: String,
        listen: SocketAddr,
        data_dir: PathBuf,
        settings: &Settings,
    ) -> Result<Self, ConfigError> {
        if url::Url::parse(&issuer).is_err() {
            return Err(ConfigError::IssuerNotUrl(issuer));
        }
        let mut config = Self::new(issuer, listen, data_dir);
        if let Some(v) = settings.device_rate_limit {
            config.device_rate_limit = v;
        }
        if let Some(v) = settings.code_ttl {
            if v == 0 {
                return Err(ConfigError::CodeTtl);
            }
            config.code_ttl_secs = v;
        }
        if let Some(v) = settings.poll_interval {
            if !(1..=POLL_INTERVAL_SETTING_MAX_SECS).contains(&v) {
                return Err(ConfigError::PollInterval);
            }
            config.poll_interval_secs = v;
        }
        if let Some(v) = settings.access_token_ttl {
            if v == 0 || i64::from(v) > crate::store::FAMILY_RETENTION_SECS {
                return Err(ConfigError::AccessTokenTtl);
            }
            config.access_token_ttl_secs = v;
        }
        if let Some(v) = settings.refresh_token_ttl {
            if v == 0 {
                return Err(ConfigError::RefreshTokenTtl);
            }
            config.refresh_token_ttl_secs = v;
        }
        if let Some(v) = settings.verification_uri_complete {
            config.verification_uri_complete = v;
        }
        if let Some(v) = &settings.registration {
            config.registration =
                RegistrationPolicy::parse(v).ok_or_else(|| ConfigError::Registration(v.clone()))?;
        }
        if let Some(v) = settings.registration_rate_limit {
            config.registration_rate_limit = v;
        }
        if let Some(v) = settings.registered_client_ttl {
            if v < MIN_REGISTERED_CLIENT_TTL_SECS {
                return Err(ConfigError::RegisteredClientTtl);
            }
            config.registered_client_ttl_secs = v;
        }
        config.allow_private_client_metadata = settings.allow_private_client_metadata;
        if let Some(v) = settings.audit_retention {
            config.audit_retention_days = v;
        }
        Ok(config)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(settings: &Settings) -> Result<Config, ConfigError> {
        Config::resolve(
            "http://127.0.0.1:8080".into(),
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            PathBuf::from("/tmp/devauth-test"),
            settings,
        )
    }

    #[test]
    fn no_settings_are_the_defaults() {
        let c = resolve(&Settings::default()).unwrap();
        let d = Config::new(
            "http://127.0.0.1:8080",
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            PathBuf::from("/tmp/devauth-test"),
        );
        assert_eq!(format!("{c:?}"), format!("{d:?}"));
    }

    #[test]
    fn good_values_are_taken() {
        let c = resolve(&Settings {
            code_ttl: Some(42),
            poll_interval: Some(3600),
            access_token_ttl: Some(30 * 24 * 3600),
            refresh_token_ttl: Some(1),
            registration: Some("open".into()),
            registered_client_ttl: Some(60),
            device_rate_limit: Some(0),
            audit_retention: Some(0),
            verification_uri_complete: Some(false),
            allow_private_client_metadata: true,
            registration_rate_limit: Some(3),
        })
        .unwrap();
        assert_eq!(c.code_ttl_secs, 42);
        assert_eq!(c.poll_interval_secs, 3600);
        assert_eq!(c.access_token_ttl_secs, 30 * 24 * 3600);
        assert_eq!(c.refresh_token_ttl_secs, 1);
        assert_eq!(c.registration, RegistrationPolicy::Open);
        assert_eq!(c.registered_client_ttl_secs, 60);
        assert_eq!(c.device_rate_limit, 0);
        assert_eq!(c.audit_retention_days, 0);
        assert!(!c.verification_uri_complete);
        assert!(c.allow_private_client_metadata);
        assert_eq!(c.registration_rate_limit, 3);
    }

    #[test]
    fn bad_values_are_refused() {
        let cases = [
            (
                Settings {
                    code_ttl: Some(0),
                    ..Settings::default()
                },
                ConfigError::CodeTtl,
            ),
            (
                Settings {
                    poll_interval: Some(0),
                    ..Settings::default()
                },
                ConfigError::PollInterval,
            ),
            (
                Settings {
                    poll_interval: Some(3601),
                    ..Settings::default()
                },
                ConfigError::PollInterval,
            ),
            (
                Settings {
                    access_token_ttl: Some(0),
                    ..Settings::default()
                },
                ConfigError::AccessTokenTtl,
            ),
            (
                Settings {
                    access_token_ttl: Some(30 * 24 * 3600 + 1),
                    ..Settings::default()
                },
                ConfigError::AccessTokenTtl,
            ),
            (
                Settings {
                    refresh_token_ttl: Some(0),
                    ..Settings::default()
                },
                ConfigError::RefreshTokenTtl,
            ),
            (
                Settings {
                    registered_client_ttl: Some(59),
                    ..Settings::default()
                },
                ConfigError::RegisteredClientTtl,
            ),
            (
                Settings {
                    registration: Some("closed".into()),
                    ..Settings::default()
                },
                ConfigError::Registration("closed".into()),
            ),
        ];
        for (settings, want) in cases {
            assert_eq!(resolve(&settings).unwrap_err(), want, "{settings:?}");
        }
    }

    #[test]
    fn an_issuer_that_is_no_url_is_refused() {
        let err = Config::resolve(
            "auth.example.com".into(),
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            PathBuf::from("/tmp/devauth-test"),
            &Settings::default(),
        )
        .unwrap_err();
        assert_eq!(err, ConfigError::IssuerNotUrl("auth.example.com".into()));
        assert_eq!(
            err.to_string(),
            r#"--issuer "auth.example.com" is not a URL"#
        );
    }
}

//! The JSON documents of kiro-cli's `auth_kv` rows.
//!
//! Fields are snake_case in kiro-cli; camelCase is accepted too. Any field may
//! be null. The raw document is kept so a write-back changes only the fields
//! we own and keeps every other field, in the casing the row already uses.

use devauth_proto::Secret;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::ImportError;
use crate::rfc3339;

/// A token key of `auth_kv`, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenKey {
    /// `kirocli:social:token` (Google / GitHub login).
    Social,
    /// `kirocli:odic:token` (Builder ID, IAM Identity Center).
    Odic,
    /// `kirocli:external-idp:token`.
    ExternalIdp,
    /// `codewhisperer:odic:token` (the Amazon Q CLI).
    LegacyOdic,
}

impl TokenKey {
    /// Every token key, best first.
    pub const ALL: [TokenKey; 4] = [
        TokenKey::Social,
        TokenKey::Odic,
        TokenKey::ExternalIdp,
        TokenKey::LegacyOdic,
    ];

    /// The key as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Social => "kirocli:social:token",
            Self::Odic => "kirocli:odic:token",
            Self::ExternalIdp => "kirocli:external-idp:token",
            Self::LegacyOdic => "codewhisperer:odic:token",
        }
    }

    /// Parses a stored key.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The device-registration keys that go with this token, best first.
    pub fn registration_keys(self) -> &'static [&'static str] {
        match self {
            Self::Social | Self::ExternalIdp => &[],
            Self::Odic => &[REGISTRATION_KEYS[0], REGISTRATION_KEYS[1]],
            Self::LegacyOdic => &[REGISTRATION_KEYS[1], REGISTRATION_KEYS[0]],
        }
    }
}

/// The device-registration keys of `auth_kv`.
pub const REGISTRATION_KEYS: [&str; 2] = [
    "kirocli:odic:device-registration",
    "codewhisperer:odic:device-registration",
];

/// The key of the CodeWhisperer profile in the `state` table.
pub const PROFILE_STATE_KEY: &str = "api.codewhisperer.profile";

/// A field by its snake_case or camelCase name; `None` when absent or null.
fn field<'a>(map: &'a Map<String, Value>, snake: &str) -> Option<&'a Value> {
    let camel = camel_case(snake);
    map.get(snake)
        .or_else(|| map.get(&camel))
        .filter(|v| !v.is_null())
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn string(map: &Map<String, Value>, snake: &str) -> Option<String> {
    field(map, snake)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

fn time_field(map: &Map<String, Value>, snake: &str) -> Option<OffsetDateTime> {
    match field(map, snake)? {
        Value::String(s) => rfc3339::parse(s),
        Value::Number(n) => n
            .as_i64()
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()),
        _ => None,
    }
}

fn scopes(map: &Map<String, Value>) -> Vec<String> {
    match field(map, "scopes") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

fn parse_object(what: &str, raw: &str) -> Result<Map<String, Value>, ImportError> {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ImportError::Malformed {
            what: what.to_owned(),
            detail: "not a JSON object".into(),
        }),
        Err(e) => Err(ImportError::malformed(what, &e)),
    }
}

/// A token row, parsed, with its raw text.
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// Which key it was stored under.
    pub key: TokenKey,
    /// The value exactly as read (the compare-and-swap reference).
    pub raw: String,
    /// `access_token`.
    pub access_token: Option<Secret>,
    /// `refresh_token`.
    pub refresh_token: Option<Secret>,
    /// `expires_at`.
    pub expires_at: Option<OffsetDateTime>,
    /// `region`.
    pub region: Option<String>,
    /// `start_url`.
    pub start_url: Option<String>,
    /// `oauth_flow`.
    pub oauth_flow: Option<String>,
    /// `scopes`.
    pub scopes: Vec<String>,
    /// `profile_arn`.
    pub profile_arn: Option<String>,
    /// `token_endpoint` (external IdP).
    pub token_endpoint: Option<String>,
    /// `client_id` (external IdP).
    pub client_id: Option<String>,
}

impl TokenRow {
    /// Parses the value of a token row.
    pub fn parse(key: TokenKey, raw: &str) -> Result<Self, ImportError> {
        let map = parse_object(key.as_str(), raw)?;
        Ok(Self {
            key,
            raw: raw.to_owned(),
            access_token: string(&map, "access_token").map(Secret::new),
            refresh_token: string(&map, "refresh_token").map(Secret::new),
            expires_at: time_field(&map, "expires_at"),
            region: string(&map, "region"),
            start_url: string(&map, "start_url"),
            oauth_flow: string(&map, "oauth_flow"),
            scopes: scopes(&map),
            profile_arn: string(&map, "profile_arn"),
            token_endpoint: string(&map, "token_endpoint"),
            client_id: string(&map, "client_id"),
        })
    }

    /// Whether the row holds a login at all.
    pub fn has_token(&self) -> bool {
        self.access_token.is_some() || self.refresh_token.is_some()
    }
}

/// A device registration row.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The key it was stored under.
    pub key: String,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `client_secret`.
    pub client_secret: Option<Secret>,
    /// `client_secret_expires_at`.
    pub client_secret_expires_at: Option<OffsetDateTime>,
    /// `region`.
    pub region: Option<String>,
    /// `oauth_flow`.
    pub oauth_flow: Option<String>,
    /// `scopes`.
    pub scopes: Vec<String>,
}

impl Registration {
    /// Parses the value of a registration row.
    pub fn parse(key: &str, raw: &str) -> Result<Self, ImportError> {
        let map = parse_object(key, raw)?;
        Ok(Self {
            key: key.to_owned(),
            client_id: string(&map, "client_id"),
            client_secret: string(&map, "client_secret").map(Secret::new),
            client_secret_expires_at: time_field(&map, "client_secret_expires_at"),
            region: string(&map, "region"),
            oauth_flow: string(&map, "oauth_flow"),
            scopes: scopes(&map),
        })
    }
}

/// The `arn` of the `state` table's `api.codewhisperer.profile` document.
pub fn profile_arn_from_state(raw: &str) -> Option<String> {
    let map = parse_object(PROFILE_STATE_KEY, raw).ok()?;
    string(&map, "arn")
}

/// What a refresh changed, to be merged into a row.
#[derive(Debug, Clone)]
pub struct RowUpdate<'a> {
    /// New access token.
    pub access_token: &'a Secret,
    /// New refresh token (kept when `None`).
    pub refresh_token: Option<&'a Secret>,
    /// New expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// New profile ARN (kept when `None`).
    pub profile_arn: Option<&'a str>,
}

/// Merges `update` into the JSON document `raw`: only our fields change, in
/// the casing the document already uses (snake_case when neither is there);
/// every other field is kept as it was.
pub fn merge(raw: &str, update: &RowUpdate<'_>) -> Result<String, ImportError> {
    let mut map = parse_object("token row", raw)?;
    let mut set = |snake: &str, value: Value| {
        let camel = camel_case(snake);
        let name = if !map.contains_key(snake) && map.contains_key(&camel) {
            camel
        } else {
            snake.to_owned()
        };
        map.insert(name, value);
    };
    set(
        "access_token",
        Value::String(update.access_token.expose().to_owned()),
    );
    if let Some(rt) = update.refresh_token {
        set("refresh_token", Value::String(rt.expose().to_owned()));
    }
    if let Some(t) = update.expires_at {
        set("expires_at", Value::String(rfc3339::format(t)));
    }
    if let Some(arn) = update.profile_arn {
        set("profile_arn", Value::String(arn.to_owned()));
    }
    serde_json::to_string(&map).map_err(|e| ImportError::malformed("token row", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_casings_parse_and_null_is_absent() {
        let snake = TokenRow::parse(
            TokenKey::Odic,
            r#"{"access_token":"a","refresh_token":"r","expires_at":"2025-01-01T00:00:00.123456789Z","region":"eu-west-1","start_url":null,"scopes":["x","y"]}"#,
        )
        .unwrap();
        let camel = TokenRow::parse(
            TokenKey::Odic,
            r#"{"accessToken":"a","refreshToken":"r","expiresAt":"2025-01-01T01:00:00.123456789+01:00","region":"eu-west-1","startUrl":null,"scopes":["x","y"]}"#,
        )
        .unwrap();
        for row in [&snake, &camel] {
            assert_eq!(row.access_token.as_ref().unwrap().expose(), "a");
            assert_eq!(row.refresh_token.as_ref().unwrap().expose(), "r");
            assert_eq!(row.region.as_deref(), Some("eu-west-1"));
            assert_eq!(row.start_url, None);
            assert_eq!(row.scopes, ["x", "y"]);
        }
        assert_eq!(snake.expires_at, camel.expires_at);
    }

    #[test]
    fn merge_keeps_unknown_fields_and_casing() {
        let raw = r#"{"accessToken":"old","refreshToken":"r1","expiresAt":"2025-01-01T00:00:00Z","provider":"Github","nested":{"k":[1,2]}}"#;
        let at = Secret::new("new");
        let rt = Secret::new("r2");
        let merged = merge(
            raw,
            &RowUpdate {
                access_token: &at,
                refresh_token: Some(&rt),
                expires_at: rfc3339::parse("2025-01-01T01:00:00Z"),
                profile_arn: None,
            },
        )
        .unwrap();
        let v: Value = serde_json::from_str(&merged).unwrap();
        assert_eq!(v["accessToken"], "new");
        assert_eq!(v["refreshToken"], "r2");
        assert_eq!(v["expiresAt"], "2025-01-01T01:00:00Z");
        assert_eq!(v["provider"], "Github");
        assert_eq!(v["nested"]["k"][1], 2);
        assert!(v.get("access_token").is_none());
    }

    #[test]
    fn malformed_json_error_does_not_quote_the_value() {
        let err = TokenRow::parse(TokenKey::Social, r#"{"access_token": "sekrit-tok"#).unwrap_err();
        assert!(!err.to_string().contains("sekrit"), "{err}");
        let err = TokenRow::parse(
            TokenKey::Social,
            r#"{"access_token": 5, "refresh_token": "sekrit"}"#,
        );
        // a wrong type is simply not a token, never an error quoting it
        assert!(err.unwrap().access_token.is_none());
    }
}

//! Builds kiro-cli databases and AWS SSO cache files the way those tools
//! write them, for tests: the real schema (`migrations`, `state`, `auth_kv`,
//! `conversations`, WAL journal), each login kind, snake_case or camelCase.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::{Value, json};

/// Field casing of a fixture document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Casing {
    /// kiro-cli's own.
    Snake,
    /// Accepted too.
    Camel,
}

/// Creates an empty kiro-cli database at `path` (parents too).
pub fn create_kiro_db(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, migration_time INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB);
         CREATE TABLE IF NOT EXISTS auth_kv (key TEXT PRIMARY KEY, value TEXT);
         CREATE TABLE IF NOT EXISTS conversations (key TEXT PRIMARY KEY, value TEXT);
         INSERT OR IGNORE INTO migrations VALUES (1, 8, 1700000000);",
    )
    .unwrap();
}

/// Sets an `auth_kv` row.
pub fn put_auth(path: &Path, key: &str, value: &Value) {
    let conn = Connection::open(path).unwrap();
    conn.execute(
        "INSERT INTO auth_kv (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value.to_string()),
    )
    .unwrap();
}

/// Reads an `auth_kv` row.
pub fn get_auth(path: &Path, key: &str) -> Option<Value> {
    let conn = Connection::open(path).unwrap();
    conn.query_row("SELECT value FROM auth_kv WHERE key = ?1", [key], |r| {
        r.get::<_, String>(0)
    })
    .ok()
    .map(|s| serde_json::from_str(&s).unwrap())
}

/// Sets a `state` row (stored as a BLOB, as kiro-cli does).
pub fn put_state(path: &Path, key: &str, value: &Value) {
    let conn = Connection::open(path).unwrap();
    conn.execute(
        "INSERT INTO state (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value.to_string().into_bytes()),
    )
    .unwrap();
}

fn cased(casing: Casing, doc: Value) -> Value {
    match casing {
        Casing::Snake => doc,
        Casing::Camel => {
            let Value::Object(map) = doc else { return doc };
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let mut out = String::new();
                        let mut up = false;
                        for c in k.chars() {
                            if c == '_' {
                                up = true;
                            } else if up {
                                out.extend(c.to_uppercase());
                                up = false;
                            } else {
                                out.push(c);
                            }
                        }
                        (out, v)
                    })
                    .collect(),
            )
        }
    }
}

/// A social login token row.
pub fn social_token(casing: Casing, refresh: &str, expires_at: &str) -> Value {
    cased(
        casing,
        json!({
            "access_token": format!("at-for-{refresh}"),
            "expires_at": expires_at,
            "refresh_token": refresh,
            "profile_arn": "arn:aws:codewhisperer:us-east-1:123456789012:profile/SOCIAL",
            "provider": "Github",
            "region": null,
            "future_field": {"kept": [1, 2, 3]},
        }),
    )
}

/// A Builder ID / Identity Center token row (`start_url` None = Builder ID).
pub fn odic_token(
    casing: Casing,
    refresh: &str,
    expires_at: &str,
    start_url: Option<&str>,
) -> Value {
    cased(
        casing,
        json!({
            "access_token": format!("at-for-{refresh}"),
            "expires_at": expires_at,
            "refresh_token": refresh,
            "region": "eu-central-1",
            "start_url": start_url,
            "oauth_flow": "DeviceCode",
            "scopes": ["codewhisperer:completions", "codewhisperer:analysis"],
            "future_field": "kept",
        }),
    )
}

/// An external IdP token row.
pub fn external_idp_token(
    casing: Casing,
    refresh: &str,
    expires_at: &str,
    token_endpoint: &str,
) -> Value {
    cased(
        casing,
        json!({
            "access_token": format!("at-for-{refresh}"),
            "expires_at": expires_at,
            "refresh_token": refresh,
            "token_endpoint": token_endpoint,
            "client_id": "external-client",
            "scopes": ["openid", "offline_access"],
            "issuer_url": "https://idp.example.invalid",
        }),
    )
}

/// A device registration row.
pub fn registration(casing: Casing, client_id: &str, expires_at: &str) -> Value {
    cased(
        casing,
        json!({
            "client_id": client_id,
            "client_secret": format!("secret-of-{client_id}"),
            "client_secret_expires_at": expires_at,
            "region": "eu-central-1",
            "oauth_flow": "DeviceCode",
            "scopes": ["codewhisperer:completions"],
        }),
    )
}

/// Writes an AWS CLI v2 SSO cache login file.
pub fn aws_cache_file(
    dir: &Path,
    name: &str,
    refresh: &str,
    expires_at: &str,
    registration_expires_at: &str,
) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("{name}.json"));
    let doc = json!({
        "startUrl": format!("https://{name}.awsapps.com/start"),
        "region": "us-west-2",
        "accessToken": format!("at-for-{refresh}"),
        "expiresAt": expires_at,
        "clientId": format!("client-{name}"),
        "clientSecret": format!("secret-{name}"),
        "registrationExpiresAt": registration_expires_at,
        "refreshToken": refresh,
        "cliField": "kept",
    });
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

/// A kiro-cli database at `dir/data.sqlite3` holding one social login
/// (snake_case, as kiro-cli writes it) whose refresh token is `refresh`.
pub fn kiro_db_with_social_login(dir: &Path, refresh: &str, expires_at: &str) -> PathBuf {
    let db = dir.join("data.sqlite3");
    create_kiro_db(&db);
    put_auth(
        &db,
        "kirocli:social:token",
        &social_token(Casing::Snake, refresh, expires_at),
    );
    db
}

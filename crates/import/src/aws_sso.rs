//! The AWS CLI v2 SSO token cache: `~/.aws/sso/cache/*.json`.
//!
//! A login file holds `startUrl`, `region`, `accessToken`, `expiresAt`, and
//! for refreshable logins `clientId`, `clientSecret`, `registrationExpiresAt`,
//! `refreshToken`. Files without `accessToken` (the client registrations the
//! CLI caches next to them) are not logins and are skipped. Writes replace a
//! file atomically (temp file + rename, mode 0600) and only when it still
//! holds what we read, so a refresh the CLI made meanwhile is never lost.

use std::path::{Path, PathBuf};

use devauth_proto::Secret;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::credential::{Credential, Kind, Mode, SourceRef};
use crate::error::{ImportError, Missing};
use crate::kiro::Cas;
use crate::rfc3339;

/// `~/.aws/sso/cache` under `home`.
pub fn default_cache_dir(home: &Path) -> PathBuf {
    home.join(".aws").join("sso").join("cache")
}

/// One login file of the cache.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    /// The file.
    pub path: PathBuf,
    /// Its text exactly as read (the compare-and-swap reference).
    pub raw: String,
    /// `startUrl`.
    pub start_url: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// `accessToken`.
    pub access_token: Secret,
    /// `expiresAt`.
    pub expires_at: Option<OffsetDateTime>,
    /// `refreshToken`.
    pub refresh_token: Option<Secret>,
    /// `clientId`.
    pub client_id: Option<String>,
    /// `clientSecret`.
    pub client_secret: Option<Secret>,
    /// `registrationExpiresAt`.
    pub registration_expires_at: Option<OffsetDateTime>,
}

fn string(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn time_field(map: &Map<String, Value>, name: &str) -> Option<OffsetDateTime> {
    map.get(name)
        .and_then(Value::as_str)
        .and_then(rfc3339::parse)
}

impl CacheEntry {
    /// Parses a cache file's text; `Ok(None)` when it is not a login.
    pub fn parse(path: &Path, raw: &str) -> Result<Option<Self>, ImportError> {
        let what = path.display().to_string();
        let map = match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(ImportError::Malformed {
                    what,
                    detail: "not a JSON object".into(),
                });
            }
            Err(e) => return Err(ImportError::malformed(what, &e)),
        };
        let Some(access_token) = string(&map, "accessToken") else {
            return Ok(None);
        };
        Ok(Some(Self {
            path: path.to_path_buf(),
            raw: raw.to_owned(),
            start_url: string(&map, "startUrl"),
            region: string(&map, "region"),
            access_token: Secret::new(access_token),
            expires_at: time_field(&map, "expiresAt"),
            refresh_token: string(&map, "refreshToken").map(Secret::new),
            client_id: string(&map, "clientId"),
            client_secret: string(&map, "clientSecret").map(Secret::new),
            registration_expires_at: time_field(&map, "registrationExpiresAt"),
        }))
    }

    /// Reads and parses one file.
    pub fn read(path: &Path) -> Result<Option<Self>, ImportError> {
        let raw = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ImportError::NotFound {
                    what: Missing::AwsSsoCacheFile,
                    path: path.to_path_buf(),
                }
            } else {
                ImportError::io(path, e)
            }
        })?;
        Self::parse(path, &raw)
    }

    /// Whether the login can be refreshed at all.
    pub fn refreshable(&self) -> bool {
        self.refresh_token.is_some() && self.client_id.is_some() && self.client_secret.is_some()
    }

    /// The credential for this login, or why it cannot be adopted.
    pub fn adopt(&self, mode: Mode, now: OffsetDateTime) -> Result<Credential, ImportError> {
        if let Some(at) = self.registration_expires_at.filter(|t| *t <= now) {
            return Err(ImportError::RegistrationExpired {
                what: self.path.display().to_string(),
                at: rfc3339::format(at),
                tool: "`aws sso login`",
            });
        }
        Ok(Credential {
            kind: Kind::AwsSso,
            mode,
            source: SourceRef::AwsSso {
                file: self.path.clone(),
            },
            access_token: self.access_token.clone(),
            refresh_token: self.refresh_token.clone(),
            expires_at: self.expires_at,
            region: self.region.clone(),
            start_url: self.start_url.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            registration_expires_at: self.registration_expires_at,
            token_endpoint: None,
            profile_arn: None,
            scopes: Vec::new(),
        })
    }
}

/// What a scan of the cache folder found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Login files, sorted by path.
    pub entries: Vec<CacheEntry>,
    /// Files that could not be read, with why (they are left alone).
    pub skipped: Vec<ImportError>,
}

/// Reads every `*.json` file of `dir`.
pub fn scan(dir: &Path) -> Result<Scan, ImportError> {
    let read = std::fs::read_dir(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ImportError::NotFound {
                what: Missing::AwsSsoCache,
                path: dir.to_path_buf(),
            }
        } else {
            ImportError::io(dir, e)
        }
    })?;
    let mut paths: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
        .collect();
    paths.sort();
    let mut scan = Scan::default();
    for path in paths {
        match CacheEntry::read(&path) {
            Ok(Some(entry)) => scan.entries.push(entry),
            Ok(None) => {}
            Err(e) => scan.skipped.push(e),
        }
    }
    Ok(scan)
}

/// The name the AWS CLI gives a login file: the hex SHA-1 of the
/// `sso-session` name, or of the start URL for a profile without one
/// (botocore's `SSOTokenLoader`). SHA-1 only names the file here.
pub fn cache_file_name(key: &str) -> String {
    use sha1::Digest as _;
    let digest = sha1::Sha1::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.json")
}

/// A login as `aws sso login` writes it.
#[derive(Debug, Clone)]
pub struct NewLogin<'a> {
    /// `startUrl`.
    pub start_url: &'a str,
    /// `region`.
    pub region: &'a str,
    /// `accessToken`.
    pub access_token: &'a Secret,
    /// `expiresAt`.
    pub expires_at: OffsetDateTime,
    /// `refreshToken`.
    pub refresh_token: Option<&'a Secret>,
    /// `clientId`.
    pub client_id: &'a str,
    /// `clientSecret`.
    pub client_secret: &'a Secret,
    /// `registrationExpiresAt`.
    pub registration_expires_at: OffsetDateTime,
}

/// Writes `login` to `path` (atomically, mode 0600, creating the folder),
/// replacing a login the file held: what `aws sso login` does.
pub fn write_login(path: &Path, login: &NewLogin<'_>) -> Result<(), ImportError> {
    let mut map = Map::new();
    map.insert("startUrl".into(), login.start_url.into());
    map.insert("region".into(), login.region.into());
    map.insert("accessToken".into(), login.access_token.expose().into());
    map.insert(
        "expiresAt".into(),
        rfc3339::format_seconds(login.expires_at).into(),
    );
    map.insert("clientId".into(), login.client_id.into());
    map.insert("clientSecret".into(), login.client_secret.expose().into());
    map.insert(
        "registrationExpiresAt".into(),
        rfc3339::format_seconds(login.registration_expires_at).into(),
    );
    if let Some(rt) = login.refresh_token {
        map.insert("refreshToken".into(), rt.expose().into());
    }
    let text = serde_json::to_string(&map)
        .map_err(|e| ImportError::malformed("AWS SSO cache file", &e))?;
    if let Some(dir) = path.parent() {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| ImportError::io(dir, e))?;
    }
    devauth_client::atomic_file::write(path, text.as_bytes())
        .map_err(|e| ImportError::io(e.path, e.source))
}

/// Merges a refresh into a cache file's JSON, keeping every other field.
pub fn merge(
    raw: &str,
    access_token: &Secret,
    refresh_token: Option<&Secret>,
    expires_at: Option<OffsetDateTime>,
) -> Result<String, ImportError> {
    let mut map = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(ImportError::Malformed {
                what: "AWS SSO cache file".into(),
                detail: "not a JSON object".into(),
            });
        }
        Err(e) => return Err(ImportError::malformed("AWS SSO cache file", &e)),
    };
    map.insert("accessToken".into(), access_token.expose().into());
    if let Some(rt) = refresh_token {
        map.insert("refreshToken".into(), rt.expose().into());
    }
    if let Some(t) = expires_at {
        map.insert("expiresAt".into(), rfc3339::format_seconds(t).into());
    }
    serde_json::to_string(&map).map_err(|e| ImportError::malformed("AWS SSO cache file", &e))
}

/// Replaces `path` with `new` (atomically, mode 0600) only if it still holds
/// `expected`.
///
/// The AWS CLI takes no lock, so a write it makes between our check and our
/// rename could still be lost; the window is a few microseconds.
pub fn compare_and_swap(path: &Path, expected: &str, new: &str) -> Result<Cas, ImportError> {
    let current = match std::fs::read_to_string(path) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(ImportError::io(path, e)),
    };
    if current.as_deref() != Some(expected) {
        return Ok(Cas::Changed(current));
    }
    devauth_client::atomic_file::write(path, new.as_bytes())
        .map_err(|e| ImportError::io(e.path, e.source))?;
    Ok(Cas::Written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_file_names_are_botocore_s() {
        // hashlib.sha1(b"https://my-sso-portal.awsapps.com/start").hexdigest()
        assert_eq!(
            cache_file_name("https://my-sso-portal.awsapps.com/start"),
            "c7aaaf71fcc8777ae2475525ed049d39fe16c484.json"
        );
    }

    #[test]
    fn a_written_login_reads_back_as_a_refreshable_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache").join(cache_file_name("s"));
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let (at, rt, cs) = (Secret::new("at"), Secret::new("rt"), Secret::new("cs"));
        write_login(
            &path,
            &NewLogin {
                start_url: "https://d-1.awsapps.com/start",
                region: "eu-west-1",
                access_token: &at,
                expires_at: now,
                refresh_token: Some(&rt),
                client_id: "cid",
                client_secret: &cs,
                registration_expires_at: now + time::Duration::days(90),
            },
        )
        .unwrap();
        let e = CacheEntry::read(&path).unwrap().unwrap();
        assert!(e.refreshable());
        assert_eq!(e.region.as_deref(), Some("eu-west-1"));
        assert_eq!(e.expires_at, Some(now));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

//! A scripted OAuth server for the client tests: std `TcpListener`, one
//! thread per connection, `Connection: close`. It serves RFC 8414 discovery,
//! device authorization, the token endpoint (device code from a script of
//! answers, refresh tokens with rotation and family revocation on reuse,
//! client credentials) and RFC 7009 revocation, and records every request
//! with the instant it arrived, so tests assert on what the client did.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// One scripted answer to a device-code poll.
#[derive(Debug, Clone)]
pub enum Poll {
    Pending,
    SlowDown,
    Denied,
    Expired,
    /// Close the connection without answering.
    Close,
    /// An arbitrary status and body.
    Raw(u16, String),
    /// Approve: issue tokens.
    Grant,
}

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// `interval` in the device response (`None`: omitted).
    pub interval: Option<u64>,
    pub expires_in: u64,
    /// Device-code poll answers, in order; `Grant` once exhausted.
    pub polls: Vec<Poll>,
    /// Lifetime of issued access tokens.
    pub access_ttl: u64,
    /// Rotate refresh tokens on use (reuse revokes the family).
    pub rotate: bool,
    /// Time the refresh grant takes (widens race windows).
    pub refresh_delay: Duration,
    /// A confidential client (id, secret) for client credentials.
    pub confidential: Option<(String, String)>,
    /// Publish a revocation endpoint.
    pub revocation: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            interval: Some(1),
            expires_in: 60,
            polls: Vec::new(),
            access_ttl: 3600,
            rotate: true,
            refresh_delay: Duration::ZERO,
            confidential: None,
            revocation: true,
        }
    }
}

/// A request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: String,
    pub form: HashMap<String, String>,
    pub authorization: Option<String>,
    pub at: Instant,
}

impl Seen {
    pub fn grant(&self) -> Option<&str> {
        self.form.get("grant_type").map(String::as_str)
    }
}

#[derive(Debug, Default)]
struct State {
    seen: Vec<Seen>,
    polls: VecDeque<Poll>,
    counter: u64,
    current_refresh: Option<String>,
    used_refresh: HashSet<String>,
    refreshes: u32,
    family_revoked: bool,
    revoked: Vec<String>,
    valid_access: HashSet<String>,
    /// `/authorize` request: (code_challenge, redirect_uri).
    authorize: Option<(String, String)>,
}

/// The running server.
pub struct Server {
    pub url: String,
    state: Arc<Mutex<State>>,
}

pub const USER_CODE: &str = "BCDF-GHJK";

impl Server {
    pub fn start(cfg: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State {
            polls: cfg.polls.iter().cloned().collect(),
            ..Default::default()
        }));
        let server = Self {
            url: url.clone(),
            state: state.clone(),
        };
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (url, cfg, state) = (url.clone(), cfg.clone(), state.clone());
                std::thread::spawn(move || handle(stream, &url, &cfg, &state));
            }
        });
        server
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn seen_grant(&self, grant: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path == "/token" && s.grant() == Some(grant))
            .collect()
    }

    /// Successful refreshes.
    pub fn refreshes(&self) -> u32 {
        self.state.lock().unwrap().refreshes
    }

    pub fn revoked(&self) -> Vec<String> {
        self.state.lock().unwrap().revoked.clone()
    }

    pub fn family_revoked(&self) -> bool {
        self.state.lock().unwrap().family_revoked
    }

    /// Revokes the refresh token family (as an admin would).
    pub fn revoke_family(&self) {
        let mut s = self.state.lock().unwrap();
        s.current_refresh = None;
        s.family_revoked = true;
    }

    /// Whether `token` is an access token this server issued and did not revoke.
    pub fn is_valid_access(&self, token: &str) -> bool {
        self.state.lock().unwrap().valid_access.contains(token)
    }

    /// Times of device-code polls, relative to the device authorization request.
    pub fn poll_offsets(&self) -> Vec<Duration> {
        let seen = self.seen();
        let Some(start) = seen.iter().find(|s| s.path == "/device").map(|s| s.at) else {
            return Vec::new();
        };
        seen.iter()
            .filter(|s| s.grant() == Some("urn:ietf:params:oauth:grant-type:device_code"))
            .map(|s| s.at - start)
            .collect()
    }
}

fn fake_jwt(claims: &Value) -> String {
    let b = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.c2ln", b(&json!({"alg":"none"})), b(claims))
}

fn issue(state: &mut State, cfg: &Config, with_refresh: bool) -> Value {
    state.counter += 1;
    let n = state.counter;
    let access = format!("at-{n}-{}", "x".repeat(8));
    state.valid_access.insert(access.clone());
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": cfg.access_ttl,
        "scope": "openid offline_access",
        "id_token": fake_jwt(&json!({"sub": "user-1", "preferred_username": "alice"})),
    });
    if with_refresh {
        let refresh = format!("rt-{n}");
        state.current_refresh = Some(refresh.clone());
        body["refresh_token"] = json!(refresh);
    }
    body
}

fn oauth_error(code: &str) -> (u16, String) {
    (
        400,
        json!({"error": code, "error_description": format!("scripted {code}")}).to_string(),
    )
}

fn route(req: &Seen, url: &str, cfg: &Config, state: &Mutex<State>) -> Option<(u16, String)> {
    let form = &req.form;
    match req.path.as_str() {
        "/.well-known/oauth-authorization-server" => {
            let mut meta = json!({
                "issuer": url,
                "token_endpoint": format!("{url}/token"),
                "device_authorization_endpoint": format!("{url}/device"),
                "authorization_endpoint": format!("{url}/authorize"),
                "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token", "client_credentials"],
                "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
            });
            if cfg.revocation {
                meta["revocation_endpoint"] = json!(format!("{url}/revoke"));
            }
            Some((200, meta.to_string()))
        }
        "/authorize" => {
            let q: HashMap<String, String> = url::form_urlencoded::parse(req.query.as_bytes())
                .into_owned()
                .collect();
            let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
            if q.get("code_challenge_method").map(String::as_str) != Some("S256")
                || q.get("client_id").map(String::as_str) != Some("devauth-cli")
            {
                return Some(oauth_error("invalid_request"));
            }
            state.lock().unwrap().authorize = Some((
                q.get("code_challenge").cloned().unwrap_or_default(),
                redirect.clone(),
            ));
            let location = format!(
                "{redirect}?code=web-code&state={}",
                url::form_urlencoded::byte_serialize(
                    q.get("state").cloned().unwrap_or_default().as_bytes()
                )
                .collect::<String>()
            );
            Some((302, location))
        }
        "/device" => {
            let mut body = json!({
                "device_code": "dc-secret-device-code",
                "user_code": USER_CODE,
                "verification_uri": format!("{url}/verify"),
                "verification_uri_complete": format!("{url}/verify?user_code={USER_CODE}"),
                "expires_in": cfg.expires_in,
            });
            if let Some(i) = cfg.interval {
                body["interval"] = json!(i);
            }
            Some((200, body.to_string()))
        }
        "/token" => match form.get("grant_type").map(String::as_str) {
            Some("urn:ietf:params:oauth:grant-type:device_code") => {
                let next = state
                    .lock()
                    .unwrap()
                    .polls
                    .pop_front()
                    .unwrap_or(Poll::Grant);
                match next {
                    Poll::Pending => Some(oauth_error("authorization_pending")),
                    Poll::SlowDown => Some(oauth_error("slow_down")),
                    Poll::Denied => Some(oauth_error("access_denied")),
                    Poll::Expired => Some(oauth_error("expired_token")),
                    Poll::Close => None,
                    Poll::Raw(status, body) => Some((status, body)),
                    Poll::Grant => Some((
                        200,
                        issue(&mut state.lock().unwrap(), cfg, true).to_string(),
                    )),
                }
            }
            Some("refresh_token") => {
                std::thread::sleep(cfg.refresh_delay);
                let mut s = state.lock().unwrap();
                let presented = form.get("refresh_token").cloned().unwrap_or_default();
                if s.current_refresh.as_deref() == Some(presented.as_str()) {
                    s.refreshes += 1;
                    if cfg.rotate {
                        s.used_refresh.insert(presented);
                        Some((200, issue(&mut s, cfg, true).to_string()))
                    } else {
                        let mut body = issue(&mut s, cfg, false);
                        body["refresh_token"] = json!(presented);
                        s.current_refresh = Some(presented);
                        Some((200, body.to_string()))
                    }
                } else {
                    if s.used_refresh.contains(&presented) {
                        // reuse of a rotated token: revoke the whole family
                        s.current_refresh = None;
                        s.family_revoked = true;
                    }
                    Some(oauth_error("invalid_grant"))
                }
            }
            Some("authorization_code") => {
                use sha2::Digest as _;
                let mut s = state.lock().unwrap();
                let Some((challenge, redirect)) = s.authorize.clone() else {
                    return Some(oauth_error("invalid_grant"));
                };
                let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(verifier.as_bytes()));
                if form.get("code").map(String::as_str) != Some("web-code")
                    || form.get("redirect_uri") != Some(&redirect)
                    || computed != challenge
                {
                    return Some(oauth_error("invalid_grant"));
                }
                Some((200, issue(&mut s, cfg, true).to_string()))
            }
            Some("client_credentials") => {
                let Some((id, secret)) = &cfg.confidential else {
                    return Some(oauth_error("unauthorized_client"));
                };
                let want = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
                );
                if req.authorization.as_deref() == Some(want.as_str()) {
                    Some((
                        200,
                        issue(&mut state.lock().unwrap(), cfg, false).to_string(),
                    ))
                } else {
                    Some((401, json!({"error": "invalid_client"}).to_string()))
                }
            }
            _ => Some(oauth_error("unsupported_grant_type")),
        },
        "/revoke" => {
            let mut s = state.lock().unwrap();
            if let Some(t) = form.get("token") {
                s.revoked.push(t.clone());
                s.valid_access.remove(t);
                if s.current_refresh.as_deref() == Some(t.as_str()) {
                    s.current_refresh = None;
                }
            }
            Some((200, String::new()))
        }
        _ => Some((404, json!({"error": "not_found"}).to_string())),
    }
}

fn handle(stream: TcpStream, url: &str, cfg: &Config, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let at = Instant::now();
    let target = line.split(' ').nth(1).unwrap_or("/").to_owned();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target.clone(), String::new()),
    };
    let mut len = 0usize;
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((&h, ""));
        let v = v.trim().to_owned();
        if k.eq_ignore_ascii_case("content-length") {
            len = v.parse().unwrap_or(0);
        } else if k.eq_ignore_ascii_case("authorization") {
            authorization = Some(v);
        }
    }
    let mut body = vec![0u8; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let req = Seen {
        path,
        query,
        form,
        authorization,
        at,
    };
    state.lock().unwrap().seen.push(req.clone());
    let Some((status, body)) = route(&req, url, cfg, state) else {
        return; // scripted connection drop
    };
    let mut stream = stream;
    if status == 302 {
        let _ = write!(
            stream,
            "HTTP/1.1 302 Found\r\nLocation: {body}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    }
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The binary under test.
pub fn bin() -> std::path::PathBuf {
    crate::devauth_bin()
}

/// The `devauth` binary with a clean environment and `DEVAUTH_HOME=home`.
pub fn devauth(home: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(bin());
    for var in [
        "DEVAUTH_TOKEN",
        "DEVAUTH_PROFILE",
        "DEVAUTH_STORE",
        "DEVAUTH_ISSUER",
        "DEVAUTH_CLIENT_SECRET",
        "DEVAUTH_LOG",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "BROWSER",
        "TMUX",
        "SSH_CONNECTION",
        "SSH_TTY",
        "CI",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "BUILDKITE",
        "JENKINS_URL",
        "TF_BUILD",
        "CIRCLECI",
        // A desktop's session bus would put the tests' tokens in the real keyring.
        "DBUS_SESSION_BUS_ADDRESS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("DEVAUTH_HOME", home);
    cmd.stdin(std::process::Stdio::null());
    cmd
}

/// Runs the command to completion, returning (exit code, stdout, stderr).
pub fn run(cmd: &mut std::process::Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `devauth login` against the server, asserting success.
pub fn login(home: &Path, server: &Server) {
    let (code, _, err) = run(devauth(home).args(["login", "--issuer", &server.url]));
    assert_eq!(code, 0, "login failed: {err}");
}

/// Reads the stored profile file as JSON.
pub fn profile_file(home: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(home.join("profiles").join(format!("{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Rewrites the stored access token's expiry into the past.
pub fn expire_access_token(home: &Path, name: &str) {
    let path = home.join("profiles").join(format!("{name}.json"));
    let mut v = profile_file(home, name);
    v["tokens"]["expires_at"] = json!("2000-01-01T00:00:00Z");
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

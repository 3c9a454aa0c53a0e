//! A local refresh server for tests and benchmarks, speaking the three wire
//! formats devauth-import refreshes with, on 127.0.0.1 and an ephemeral port:
//!
//! - `POST /token`: AWS SSO OIDC CreateToken (JSON, camelCase);
//! - `POST /refreshToken`: Kiro's social refresh (JSON);
//! - `POST /oauth/token`: RFC 6749 refresh (form-encoded).
//!
//! How it answers is written into the refresh token itself, so thousands of
//! profiles need no setup: a token is `BEHAVIOUR.ID.GEN`, and
//!
//! - `ok`: success, rotating to `ok.ID.GEN+1` (access token `at.ID.GEN+1`);
//! - `norot`: success without a new refresh token;
//! - `perm`: `invalid_grant`; `exp`: `expired_token`; `client`: `invalid_client`
//!   (Kiro: a 401 rejection without an OAuth code, for all three);
//! - `tempN`, `slowN`, `throttleN`: the first N calls of family ID fail with
//!   503, `slow_down` or 429, then it behaves like `ok` (rotating to `tempN.ID.GEN+1`).
//!
//! A refresh token that was already used (rotated away) is rejected with
//! `invalid_grant` and counted in [`Stats::reused`]: a correct client never
//! uses one twice. The server also counts requests per family and the most
//! requests in flight at once.
//!
//! Shared by the import and agent crates' tests, the devauth binary's tests
//! and the benchmark's server (`crates/import/examples/refresh_server.rs`).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server saw.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Requests per path.
    pub by_path: HashMap<String, usize>,
    /// Requests per token family (the ID part).
    pub by_family: HashMap<String, usize>,
    /// Requests that reused a rotated refresh token.
    pub reused: usize,
    /// Most requests in flight at once.
    pub max_in_flight: usize,
    /// Every request body's `clientId`/`client_id` seen (CreateToken, RFC 6749).
    pub client_ids: HashSet<String>,
    /// Requests whose body lacked a field the wire format requires.
    pub malformed: usize,
}

#[derive(Default)]
struct State {
    stats: Stats,
    used: HashSet<String>,
    failures: HashMap<String, u32>,
}

/// The running server; it stops when dropped.
pub struct RefreshServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl RefreshServer {
    /// Starts on 127.0.0.1 with an ephemeral port; each request waits
    /// `delay` before it is answered.
    pub fn start(delay: Duration) -> Self {
        Self::start_on("127.0.0.1:0", delay)
    }

    /// Starts on `addr`.
    pub fn start_on(addr: &str, delay: Duration) -> Self {
        Self::start_full(addr, delay, Arc::new(|_: &str| {}))
    }

    /// Starts on 127.0.0.1; `hook` runs (with the refresh token) when a
    /// request arrives, before it is answered — to change a source
    /// "meanwhile", deterministically.
    pub fn start_with_hook(hook: Hook) -> Self {
        Self::start_full("127.0.0.1:0", Duration::ZERO, hook)
    }

    fn start_full(addr: &str, delay: Duration, hook: Hook) -> Self {
        let listener = TcpListener::bind(addr).expect("bind the refresh server");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let inf = Arc::new(AtomicUsize::new(0));
        let hook = hook.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (st, inf, sp, hook) = (st.clone(), inf.clone(), sp.clone(), hook.clone());
                std::thread::spawn(move || serve(conn, &st, &inf, &sp, delay, &*hook));
            }
        });
        Self { addr, state, stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A copy of the counters.
    pub fn stats(&self) -> Stats {
        self.state.lock().unwrap().stats.clone()
    }

    /// Requests seen for family `id`.
    pub fn family(&self, id: &str) -> usize {
        self.stats().by_family.get(id).copied().unwrap_or(0)
    }

    /// Total requests.
    pub fn total(&self) -> usize {
        self.stats().by_path.values().sum()
    }
}

impl Drop for RefreshServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

struct Request {
    path: String,
    content_type: String,
    body: Vec<u8>,
    close: bool,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut len = 0usize;
    let mut content_type = String::new();
    let mut close = false;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => len = value.parse().ok()?,
            "content-type" => content_type = value.to_ascii_lowercase(),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        path,
        content_type,
        body,
        close,
    })
}

fn serve(
    conn: TcpStream,
    state: &Mutex<State>,
    in_flight: &AtomicUsize,
    stop: &AtomicBool,
    delay: Duration,
    hook: &(dyn Fn(&str) + Send + Sync),
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = conn.try_clone().expect("clone the connection");
    let mut reader = BufReader::new(conn);
    while let Some(req) = read_request(&mut reader) {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        {
            let mut s = state.lock().unwrap();
            s.stats.max_in_flight = s.stats.max_in_flight.max(now);
        }
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        hook(&refresh_token_of(&req));
        let (status, headers, body) = answer(&req, state);
        in_flight.fetch_sub(1, Ordering::SeqCst);
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            404 => "Not Found",
            429 => "Too Many Requests",
            _ => "Service Unavailable",
        };
        let mut out = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\ncache-control: no-store\r\n",
            body.len()
        );
        for (name, value) in headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        if req.close {
            out.push_str("connection: close\r\n");
        }
        out.push_str("\r\n");
        out.push_str(&body);
        if writer.write_all(out.as_bytes()).is_err() || req.close {
            return;
        }
    }
}

/// Runs when a request arrives, with its refresh token.
pub type Hook = Arc<dyn Fn(&str) + Send + Sync>;

fn refresh_token_of(req: &Request) -> String {
    if req.path == "/oauth/token" {
        let form: HashMap<String, String> =
            serde_urlencoded::from_bytes(&req.body).unwrap_or_default();
        return form.get("refresh_token").cloned().unwrap_or_default();
    }
    serde_json::from_slice::<serde_json::Value>(&req.body)
        .ok()
        .and_then(|b| json_field(&b, "refreshToken"))
        .unwrap_or_default()
}

fn json_field(body: &serde_json::Value, name: &str) -> Option<String> {
    body.get(name).and_then(|v| v.as_str()).map(str::to_owned)
}

type Answer = (u16, Vec<(&'static str, String)>, String);

fn answer(req: &Request, state: &Mutex<State>) -> Answer {
    let mut s = state.lock().unwrap();
    *s.stats.by_path.entry(req.path.clone()).or_default() += 1;
    let (token, client_id) = match req.path.as_str() {
        "/token" | "/refreshToken" => {
            let body: serde_json::Value =
                serde_json::from_slice(&req.body).unwrap_or(serde_json::Value::Null);
            let ok_shape = req.content_type.starts_with("application/json")
                && if req.path == "/token" {
                    json_field(&body, "grantType").as_deref() == Some("refresh_token")
                        && json_field(&body, "clientId").is_some()
                        && json_field(&body, "clientSecret").is_some()
                } else {
                    true
                };
            if !ok_shape {
                s.stats.malformed += 1;
                return (400, vec![], r#"{"error":"invalid_request"}"#.into());
            }
            (
                json_field(&body, "refreshToken"),
                json_field(&body, "clientId"),
            )
        }
        "/oauth/token" => {
            let form: HashMap<String, String> =
                serde_urlencoded::from_bytes(&req.body).unwrap_or_default();
            if !req
                .content_type
                .starts_with("application/x-www-form-urlencoded")
                || form.get("grant_type").map(String::as_str) != Some("refresh_token")
            {
                s.stats.malformed += 1;
                return (400, vec![], r#"{"error":"invalid_request"}"#.into());
            }
            (
                form.get("refresh_token").cloned(),
                form.get("client_id").cloned(),
            )
        }
        _ => return (404, vec![], r#"{"error":"not_found"}"#.into()),
    };
    if let Some(id) = client_id {
        s.stats.client_ids.insert(id);
    }
    let Some(token) = token else {
        s.stats.malformed += 1;
        return (400, vec![], r#"{"error":"invalid_request"}"#.into());
    };
    let mut parts = token.splitn(3, '.');
    let (Some(behaviour), Some(id), Some(generation)) = (parts.next(), parts.next(), parts.next())
    else {
        return error(&req.path, 400, "invalid_grant");
    };
    let generation: u64 = generation.parse().unwrap_or(0);
    *s.stats.by_family.entry(id.to_owned()).or_default() += 1;
    if s.used.contains(&token) {
        s.stats.reused += 1;
        return error(&req.path, 400, "invalid_grant");
    }
    let fail_first = |prefix: &str| {
        behaviour
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<u32>().ok())
    };
    let temporary = if let Some(n) = fail_first("temp") {
        Some((n, 503, "server_error"))
    } else if let Some(n) = fail_first("slow") {
        Some((n, 400, "slow_down"))
    } else {
        fail_first("throttle").map(|n| (n, 429, "throttled"))
    };
    if let Some((n, status, code)) = temporary {
        let seen = s.failures.entry(id.to_owned()).or_default();
        if *seen < n {
            *seen += 1;
            return error(&req.path, status, code);
        }
    }
    match behaviour {
        "perm" => return error(&req.path, 400, "invalid_grant"),
        "exp" => return error(&req.path, 400, "expired_token"),
        "client" => return error(&req.path, 401, "invalid_client"),
        _ => {}
    }
    let rotate = behaviour != "norot";
    if rotate {
        s.used.insert(token.clone());
    }
    let next = generation + 1;
    let access = format!("at.{id}.{next}");
    let refresh = format!("{behaviour}.{id}.{next}");
    let body = match req.path.as_str() {
        "/token" => {
            let mut b = serde_json::json!({"accessToken": access, "expiresIn": 3600, "tokenType": "Bearer"});
            if rotate {
                b["refreshToken"] = refresh.into();
            }
            b
        }
        "/refreshToken" => {
            let mut b = serde_json::json!({"accessToken": access, "expiresIn": 3600,
                "profileArn": format!("arn:aws:codewhisperer:us-east-1:123456789012:profile/{id}")});
            if rotate {
                b["refreshToken"] = refresh.into();
            }
            b
        }
        _ => {
            let mut b = serde_json::json!({"access_token": access, "expires_in": 3600, "token_type": "Bearer"});
            if rotate {
                b["refresh_token"] = refresh.into();
            }
            b
        }
    };
    (200, vec![], body.to_string())
}

fn error(path: &str, status: u16, code: &str) -> Answer {
    let mut headers = vec![];
    if status == 429 || status == 503 {
        headers.push(("retry-after", "1".to_owned()));
    }
    if path == "/refreshToken" {
        // Kiro rejects a refresh token without an OAuth error code
        let body = match code {
            "invalid_grant" | "expired_token" | "invalid_client" => {
                return (
                    401,
                    headers,
                    r#"{"message":"Invalid refresh token provided"}"#.into(),
                );
            }
            "slow_down" => return (429, headers, r#"{"message":"Too many requests"}"#.into()),
            _ => r#"{"message":"Service unavailable"}"#.to_owned(),
        };
        return (status, headers, body);
    }
    if path == "/token" {
        let exception = match code {
            "invalid_grant" => "InvalidGrantException",
            "expired_token" => "ExpiredTokenException",
            "invalid_client" => "InvalidClientException",
            "slow_down" => "SlowDownException",
            _ => "InternalServerException",
        };
        headers.push((
            "x-amzn-errortype",
            format!("{exception}:http://internal.amazon.com/coral/com.amazonaws.ssooidc/"),
        ));
        return (
            status,
            headers,
            serde_json::json!({"error": code, "error_description": "refused"}).to_string(),
        );
    }
    (
        status,
        headers,
        serde_json::json!({"error": code, "error_description": "refused"}).to_string(),
    )
}

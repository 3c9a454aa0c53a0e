//! A stand-in HTTP server for one provider: it records every request and
//! answers from a handler, so each test states the provider's documented
//! wire format (form or JSON bodies, status codes, error headers) in a few
//! lines. Only 127.0.0.1 is bound.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One request the stand-in saw.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request target (path and query).
    pub path: String,
    /// Header names in lower case, with their values.
    pub headers: HashMap<String, String>,
    /// The body parsed as a form (empty when it is not one).
    pub form: HashMap<String, String>,
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub json: serde_json::Value,
    /// When it arrived.
    pub at: Instant,
}

impl Request {
    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// A string member of the JSON body, or "".
    pub fn json_str(&self, name: &str) -> &str {
        self.json[name].as_str().unwrap_or("")
    }
}

/// An answer: status, content type, extra headers, body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// `application/json`.
pub const JSON: &str = "application/json";

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, JSON, body)
    }

    /// An answer of any content type.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// What every test keeps of a stand-in.
pub type Seen = Arc<Mutex<Vec<Request>>>;

type Handler = Box<dyn Fn(&Request, usize, &str) -> Reply + Send + Sync>;

/// Starts a stand-in: `handler(request, n, base)` answers the n-th request
/// to a path (1-based), knowing the server's own base URL.
pub fn start(
    handler: impl Fn(&Request, usize, &str) -> Reply + Send + Sync + 'static,
) -> (String, Seen) {
    let handler: Handler = Box::new(handler);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let own = base.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(500) {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap_or(0);
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let len = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            let form = if json.is_null() {
                url::form_urlencoded::parse(&body).into_owned().collect()
            } else {
                HashMap::new()
            };
            let req = Request {
                path: path.clone(),
                headers,
                form,
                json,
                at: Instant::now(),
            };
            let n = {
                let mut log = log.lock().unwrap();
                log.push(req.clone());
                log.iter().filter(|r| r.path == path).count()
            };
            let reply = handler(&req, n, &own);
            let mut head = format!(
                "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                reply.status,
                reply.content_type,
                reply.body.len()
            );
            for (k, v) in &reply.headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            let _ = write!(conn, "{head}\r\n{}", reply.body);
        }
    });
    (base, seen)
}

/// The requests seen so far to `path`.
pub fn to(seen: &Seen, path: &str) -> Vec<Request> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == path)
        .cloned()
        .collect()
}

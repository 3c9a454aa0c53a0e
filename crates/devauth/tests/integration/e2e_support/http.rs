//! Just enough HTTP/1.0 over a loopback `TcpStream` to ask the server
//! something behind the client's back (userinfo, introspection, metrics):
//! the binary's own HTTP client is not a dependency of its tests.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;

/// A response: status and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.body))
    }
}

fn exchange(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Response {
    let authority = base
        .strip_prefix("http://")
        .expect("the test server speaks plain http")
        .trim_end_matches('/');
    assert!(
        authority.starts_with("127.0.0.1:"),
        "tests only talk to loopback, not {authority}"
    );
    let mut stream = TcpStream::connect(authority).expect("connect to the server");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: devauth-e2e-test\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in {head:?}"));
    Response {
        status,
        body: body.to_owned(),
    }
}

/// `GET /oauth/userinfo` with a Bearer token.
pub fn userinfo(base: &str, access_token: &str) -> Response {
    exchange(
        base,
        "GET",
        "/oauth/userinfo",
        &[("Authorization", format!("Bearer {access_token}"))],
        "",
    )
}

/// A confidential client that may introspect.
pub struct Introspector {
    pub id: String,
    pub secret: String,
}

/// `POST path` with a form `body`, no client authentication.
pub fn post_form(base: &str, path: &str, body: &str) -> Response {
    exchange(
        base,
        "POST",
        path,
        &[(
            "Content-Type",
            "application/x-www-form-urlencoded".to_owned(),
        )],
        body,
    )
}

/// `POST path` with a JSON `body` and extra headers.
pub fn post_json(base: &str, path: &str, headers: &[(&str, String)], body: &str) -> Response {
    let mut all = vec![
        ("Content-Type", "application/json".to_owned()),
        ("Accept", "application/json, text/event-stream".to_owned()),
    ];
    all.extend_from_slice(headers);
    exchange(base, "POST", path, &all, body)
}

/// `POST path` with a form `body` and `client_secret_basic` as `(id, secret)`.
pub fn post_form_basic(base: &str, path: &str, (id, secret): (&str, &str), body: &str) -> Response {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(id), enc(secret)));
    exchange(
        base,
        "POST",
        path,
        &[
            ("Authorization", format!("Basic {basic}")),
            (
                "Content-Type",
                "application/x-www-form-urlencoded".to_owned(),
            ),
        ],
        body,
    )
}

impl Introspector {
    /// `POST /oauth/introspect` (RFC 7662) with `client_secret_basic`;
    /// asserts a 200 and returns the JSON.
    pub fn introspect(&self, base: &str, token: &str) -> serde_json::Value {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .finish();
        let response = post_form_basic(base, "/oauth/introspect", (&self.id, &self.secret), &body);
        assert_eq!(response.status, 200, "introspection: {}", response.body);
        response.json()
    }
}

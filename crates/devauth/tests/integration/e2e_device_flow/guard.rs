//! `devauth guard` in front of a stand-in MCP server, with tokens from the
//! real `devauth serve` (client credentials with `resource`, RFC 8707):
//! protected-resource metadata, the 401/403 challenges, audience, scope,
//! issuer and expiry checks, the subject forwarded in a header a client
//! cannot spoof, no token passed upstream, `Mcp-Session-Id` both ways, and
//! an SSE response streamed event by event.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::e2e_support::command;
use crate::e2e_support::server::Server;
use devauth_testkit::Guarded;

const RESOURCE: &str = "https://tools.example.test/mcp";
const OTHER: &str = "https://other.example.test/api";
/// Seconds the server's access tokens live (one test waits them out).
const TTL: u32 = 6;

/// What the upstream saw of one request: its headers, lower-cased names.
type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// A stand-in MCP server: answers every request with an SSE stream of two
/// events, the second only once `release` fires, so a client that sees the
/// first before it is sent proves nothing buffers the stream.
fn upstream() -> (String, Seen, mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let (release, released) = mpsc::channel::<()>();
    let released = Arc::new(Mutex::new(released));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let log = log.clone();
            let released = released.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut headers = Vec::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                headers.push(("request-line".to_owned(), line.trim().to_owned()));
                let mut len = 0;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    let (k, v) = h.split_once(':').unwrap();
                    let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
                    if k == "content-length" {
                        len = v.parse().unwrap();
                    }
                    headers.push((k, v));
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                log.lock().unwrap().push(headers);
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nMcp-Session-Id: session-1\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n\
                      event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\n\r\n",
                );
                let _ = conn.flush();
                let _ = released
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(20));
                let _ = conn.write_all(
                    b"event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[]}}\r\n\r\n",
                );
            });
        }
    });
    (base, seen, release)
}

/// A running `devauth guard`.
struct Guard {
    url: String,
    _process: Guarded,
}

fn guard(upstream: &str, extra: &[&str]) -> Guard {
    let child = command::bare()
        .args([
            "guard",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &format!("{upstream}/mcp"),
            "--resource",
            RESOURCE,
            "--scope",
            "mcp:admin",
            "--forward-user-header",
            "X-Auth-User",
            "--leeway",
            "0",
        ])
        .args(extra)
        .env("DEVAUTH_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start devauth guard");
    let mut process = Guarded::new(child, "devauth guard");
    let url = process.wait_for_line(Duration::from_secs(30), |line| {
        let rest = line.split_once("devauth guard: listening on ")?.1;
        Some(rest.split_whitespace().next()?.to_owned())
    });
    Guard {
        url,
        _process: process,
    }
}

/// An HTTP/1.1 request; returns the status line + headers, and a reader
/// positioned at the body.
fn send(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, BufReader<TcpStream>) {
    let authority = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut got = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        got.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    (status, got, reader)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A client-credentials token from the server for `resource` and `scope`.
fn token(server: &Server, secret: &str, resource: &str, scope: &str) -> String {
    let body = format!(
        "grant_type=client_credentials&resource={}&scope={}",
        url::form_urlencoded::byte_serialize(resource.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(scope.as_bytes()).collect::<String>(),
    );
    let r = crate::e2e_support::http::post_form_basic(
        &server.url,
        "/oauth/token",
        ("mcp-caller", secret),
        &body,
    );
    assert_eq!(r.status, 200, "token: {}", r.body);
    r.json()["access_token"].as_str().unwrap().to_owned()
}

fn start_server() -> (Server, String) {
    let secret = Arc::new(Mutex::new(String::new()));
    let keep = secret.clone();
    let server = Server::start_with(TTL, move |dir| {
        for (url, scopes) in [
            (RESOURCE, ["mcp:tools", "mcp:admin"]),
            (OTHER, ["api:read", "api:write"]),
        ] {
            let mut cmd = command::bare();
            cmd.args(["admin", "--data-dir", dir, "resource", "add", url]);
            for s in scopes {
                cmd.args(["--scope", s]);
            }
            let out = command::run(&mut cmd);
            assert_eq!(out.code, 0, "resource add: {}", out.stderr);
        }
        let out = command::run(command::bare().args([
            "admin",
            "--data-dir",
            dir,
            "client",
            "add",
            "mcp-caller",
            "--name",
            "An MCP caller",
            "--grant",
            "client_credentials",
        ]));
        assert_eq!(out.code, 0, "client add: {}", out.stderr);
        *keep.lock().unwrap() = out.stdout.trim().to_owned();
        Vec::new()
    });
    let secret = secret.lock().unwrap().clone();
    (server, secret)
}

#[test]
fn guard_lets_only_tokens_for_its_resource_through_and_streams_the_answer() {
    let (server, secret) = start_server();
    let (up, seen, release) = upstream();
    let g = guard(&up, &["--issuer", &server.url]);

    // RFC 9728 metadata, path-suffixed and at the root.
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let (status, headers, mut body) = send(&g.url, "GET", path, &[]);
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
        let mut text = String::new();
        body.read_to_string(&mut text).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["resource"], RESOURCE);
        assert_eq!(doc["authorization_servers"][0], server.url.as_str());
        assert_eq!(doc["bearer_methods_supported"][0], "header");
    }

    // No token: 401 naming the metadata and the scope; nothing reaches upstream.
    let (status, headers, _) = send(&g.url, "POST", "/mcp", &[]);
    assert_eq!(status, 401);
    let challenge = header(&headers, "www-authenticate").unwrap();
    assert!(
        challenge.contains(
            r#"resource_metadata="https://tools.example.test/.well-known/oauth-protected-resource/mcp""#
        ) && challenge.contains(r#"scope="mcp:admin""#),
        "{challenge}"
    );
    assert!(seen.lock().unwrap().is_empty());

    // A token for another resource, a token without the scope, a broken one.
    let other = token(&server, &secret, OTHER, "api:read");
    let weak = token(&server, &secret, RESOURCE, "mcp:tools");
    let good = token(&server, &secret, RESOURCE, "mcp:admin");
    let mut tampered = good.clone();
    tampered.insert(good.len() - 3, 'A');
    tampered.truncate(good.len());
    for (t, status, error) in [
        (&other, 401, "for another resource"),
        (&weak, 403, "insufficient_scope"),
        (&tampered, 401, "invalid_token"),
        (&"not-a-jwt".to_owned(), 401, "invalid_token"),
    ] {
        let auth = format!("Bearer {t}");
        let (got, headers, _) = send(&g.url, "POST", "/mcp", &[("Authorization", &auth)]);
        assert_eq!(got, status, "{error}");
        let challenge = header(&headers, "www-authenticate").unwrap();
        assert!(challenge.contains(error), "{challenge}");
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing refused reached the upstream"
    );

    // The good token passes; the answer streams.
    let auth = format!("Bearer {good}");
    let (status, headers, mut body) = send(
        &g.url,
        "POST",
        "/mcp",
        &[
            ("Authorization", &auth),
            ("X-Auth-User", "admin"),
            ("Mcp-Session-Id", "session-1"),
        ],
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("text/event-stream"));
    assert_eq!(header(&headers, "mcp-session-id"), Some("session-1"));
    // The first event arrives while the upstream still holds the second.
    let mut first = String::new();
    while !first.ends_with("\r\n\r\n") && !first.ends_with("\n\n") {
        let mut line = String::new();
        assert!(body.read_line(&mut line).unwrap() > 0, "stream ended early");
        first.push_str(&line);
    }
    assert!(first.contains("notifications/progress"), "{first}");
    release.send(()).unwrap();
    let mut rest = String::new();
    body.read_to_string(&mut rest).unwrap();
    assert!(rest.contains(r#""id":1"#), "{rest}");

    let upstream_saw = seen.lock().unwrap()[0].clone();
    assert_eq!(
        header(&upstream_saw, "request-line"),
        Some("POST /mcp HTTP/1.1")
    );
    assert_eq!(header(&upstream_saw, "x-auth-user"), Some("mcp-caller"));
    assert_eq!(header(&upstream_saw, "authorization"), None);
    assert_eq!(header(&upstream_saw, "mcp-session-id"), Some("session-1"));
    assert_eq!(
        upstream_saw
            .iter()
            .filter(|(k, _)| k == "x-auth-user")
            .count(),
        1,
        "the client's own X-Auth-User was replaced"
    );

    // Paths outside the resource are not proxied.
    let (status, _, _) = send(&g.url, "POST", "/other", &[("Authorization", &auth)]);
    assert_eq!(status, 404);

    // The same token once it has expired (no leeway).
    std::thread::sleep(Duration::from_secs(u64::from(TTL) + 1));
    let (status, headers, _) = send(&g.url, "POST", "/mcp", &[("Authorization", &auth)]);
    assert_eq!(status, 401);
    assert!(
        header(&headers, "www-authenticate")
            .unwrap()
            .contains("expired")
    );
}

#[test]
fn a_token_from_another_issuer_is_refused() {
    let (server, secret) = start_server();
    let (up, seen, _release) = upstream();
    // The same keys, but the guard trusts an issuer of another name.
    let port = server.url.rsplit(':').next().unwrap();
    let g = guard(
        &up,
        &[
            "--issuer",
            &format!("http://localhost:{port}"),
            "--jwks-uri",
            &format!("{}/oauth/jwks.json", server.url),
        ],
    );
    let good = token(&server, &secret, RESOURCE, "mcp:admin");
    let auth = format!("Bearer {good}");
    let (status, headers, _) = send(&g.url, "POST", "/mcp", &[("Authorization", &auth)]);
    assert_eq!(status, 401);
    assert!(
        header(&headers, "www-authenticate")
            .unwrap()
            .contains("another issuer")
    );
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn the_guard_does_not_start_without_the_issuers_keys() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = command::run(command::bare().args([
        "guard",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        "http://127.0.0.1:9/mcp",
        "--issuer",
        &format!("http://127.0.0.1:{port}"),
        "--resource",
        RESOURCE,
    ]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("signing keys"), "{}", out.stderr);
}

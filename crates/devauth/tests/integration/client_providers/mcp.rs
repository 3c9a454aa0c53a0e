//! `devauth mcp` against a stand-in MCP server and authorization server on
//! one base URL, for the paths that must fail clearly or keep working: an
//! authorization server without PKCE, registration refused, a server
//! without auth, an SSE answer cut short, and step-up on
//! `insufficient_scope`.

use std::io::Write as _;
use std::process::Stdio;

use super::stand_in::{self, Reply};
use crate::client_support::{devauth, run};

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

/// An MCP server at `/mcp` that wants a login, its metadata, and an
/// authorization server that lacks PKCE (`pkce == false`) or refuses
/// registration.
fn protected(pkce: bool) -> String {
    let (base, _) = stand_in::start(move |req, _, base| match req.path.as_str() {
        "/mcp" => Reply::json(401, r#"{"error":"unauthorized"}"#).with_header(
            "WWW-Authenticate",
            format!(
                r#"Bearer resource_metadata="{base}/.well-known/oauth-protected-resource/mcp""#
            ),
        ),
        "/.well-known/oauth-protected-resource/mcp" => Reply::json(
            200,
            format!(
                r#"{{"resource":"{base}/mcp","authorization_servers":["{base}"],"scopes_supported":["mcp:tools"]}}"#
            ),
        ),
        "/.well-known/oauth-authorization-server" => {
            let pkce = if pkce {
                r#","code_challenge_methods_supported":["S256"]"#
            } else {
                ""
            };
            Reply::json(
                200,
                format!(
                    r#"{{"issuer":"{base}","token_endpoint":"{base}/token","device_authorization_endpoint":"{base}/device","registration_endpoint":"{base}/register"{pkce}}}"#
                ),
            )
        }
        "/register" => Reply::json(
            400,
            r#"{"error":"invalid_client_metadata","error_description":"registration is closed"}"#,
        ),
        _ => Reply::json(404, "{}"),
    });
    format!("{base}/mcp")
}

#[test]
fn an_authorization_server_without_pkce_is_refused_clearly() {
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) =
        run(devauth(home.path()).args(["mcp", "login", &protected(false), "--no-qr"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("PKCE S256"), "{err}");
}

#[test]
fn refused_registration_says_to_pass_a_client_id() {
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) =
        run(devauth(home.path()).args(["mcp", "login", &protected(true), "--no-qr"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("refused to register a client (registration is closed)")
            && err.contains("--client-id"),
        "{err}"
    );
}

/// Runs `devauth mcp proxy url` with `lines` on stdin; returns stdout lines as JSON.
fn proxy(url: &str, lines: &[&str]) -> Vec<serde_json::Value> {
    let home = tempfile::tempdir().unwrap();
    let mut child = devauth(home.path())
        .args(["mcp", "proxy", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON-RPC on stdout ({e}): {l}"))
        })
        .collect()
}

#[test]
fn the_proxy_carries_large_messages_whole_both_ways() {
    // Far beyond the proxy's connection buffers (64 KiB in, 16 KiB out).
    const BIG: usize = 600 * 1024;
    let (base, _) = stand_in::start(|req, _, _| {
        let pad = req.json["params"]["arguments"]["pad"]
            .as_str()
            .unwrap_or("");
        let answer = serde_json::json!({
            "jsonrpc": "2.0", "id": req.json["id"],
            "result": {"got": pad.len(), "echo": "y".repeat(BIG)},
        });
        Reply::json(200, answer.to_string())
    });
    let call = serde_json::json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"pad": "x".repeat(BIG)}},
    })
    .to_string();
    let out = proxy(&format!("{base}/big"), &[&call]);
    assert_eq!(out[0]["id"], 7);
    assert_eq!(out[0]["result"]["got"], BIG, "the request arrived whole");
    assert_eq!(
        out[0]["result"]["echo"].as_str().map(str::len),
        Some(BIG),
        "the answer came back whole"
    );
}

#[test]
fn the_proxy_works_without_a_login_where_none_is_needed_and_never_leaves_a_request_waiting() {
    let (base, _) = stand_in::start(|req, _, _| {
        match (req.path.as_str(), req.json_str("method")) {
        ("/open", _) => Reply::json(
            200,
            r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"open","version":"1"}}}"#,
        ),
        // An SSE answer that ends after a notification, without the response.
        ("/cut", _) => Reply::new(
            200,
            "text/event-stream",
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n",
        ),
        // Step-up: the server wants a scope the caller lacks.
        ("/admin", _) => Reply::json(403, r#"{"error":"insufficient_scope"}"#).with_header(
            "WWW-Authenticate",
            r#"Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="http://127.0.0.1:1/x""#,
        ),
        _ => Reply::json(404, "{}"),
    }
    });
    let out = proxy(&format!("{base}/open"), &[INITIALIZE]);
    assert_eq!(out[0]["result"]["serverInfo"]["name"], "open");

    let out = proxy(&format!("{base}/cut"), &[INITIALIZE]);
    assert_eq!(out[0]["method"], "notifications/progress");
    assert_eq!(out[1]["id"], 1);
    assert!(
        out[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("closed the stream"),
        "{out:?}"
    );

    let url = format!("{base}/admin");
    let out = proxy(&url, &[INITIALIZE]);
    let msg = out[0]["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("devauth mcp login {url}")) && msg.contains("--scope mcp:admin"),
        "{msg}"
    );
}

#[test]
fn the_proxy_sends_a_request_again_when_the_connection_drops() {
    // The first two connections are dropped unanswered; the third answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::Read as _;
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            if n < 2 {
                drop(conn);
                continue;
            }
            let body = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"back","version":"1"}}}"#;
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let out = proxy(&url, &[INITIALIZE]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["result"]["serverInfo"]["name"], "back");

    // Nobody listening at all: after the retries, an error, not silence.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/mcp", l.local_addr().unwrap())
    };
    let out = proxy(&dead, &[INITIALIZE]);
    assert_eq!(out[0]["id"], 1);
    assert!(
        out[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{out:?}"
    );
}

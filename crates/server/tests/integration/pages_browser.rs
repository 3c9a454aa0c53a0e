//! End to end in a real headless Chromium: the person's side of the device
//! flow (`tests/browser/approve.mjs`, driven by playwright-core) against a
//! real server, while the test plays the device.
//!
//! The browser is the test kit's ([`devauth_testkit::Browser`]): without
//! Chromium, `node` or playwright-core the tests print why and pass, unless
//! `DEVAUTH_REQUIRE_SERVICES=1`, when they fail.

use crate::pages_support;

use std::path::Path;
use std::time::Duration;

use devauth_server::model::DeviceGrantState;
use devauth_testkit::{Browser, Guarded};
use pages_support::TestServer;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// The device's side: asks for a device authorization over HTTP.
fn device_authorization(s: &TestServer) -> serde_json::Value {
    let mut response = agent()
        .post(&format!("{}/oauth/device_authorization", s.base))
        .header("User-Agent", "devauth-e2e/1.0 (test device)")
        .send_form([
            ("client_id", "devauth-cli"),
            ("scope", "openid offline_access"),
        ])
        .expect("device authorization");
    assert_eq!(response.status().as_u16(), 200);
    response
        .body_mut()
        .read_json()
        .expect("device authorization JSON")
}

/// One poll of the token endpoint: `Ok(tokens)` or `Err(error code)`.
fn poll(s: &TestServer, device_code: &str) -> Result<serde_json::Value, String> {
    let mut response = agent()
        .post(&format!("{}/oauth/token", s.base))
        .send_form([
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
            ("client_id", "devauth-cli"),
        ])
        .expect("token request");
    let status = response.status().as_u16();
    let body: serde_json::Value = response.body_mut().read_json().expect("token JSON");
    if status == 200 {
        Ok(body)
    } else {
        Err(body["error"]
            .as_str()
            .unwrap_or("(no error code)")
            .to_owned())
    }
}

/// Plays the device while `script` plays the person: polls the token
/// endpoint, moving the mock clock by the interval before each poll (so no
/// poll is too soon), until an answer other than `authorization_pending`,
/// or one after the script ended. Returns the answer and the script's
/// JSON line.
fn poll_while(
    s: &TestServer,
    device_code: &str,
    mut script: Guarded,
) -> (Result<serde_json::Value, String>, String) {
    let mut pending_polls = 0;
    loop {
        let browser_done = !script.alive();
        s.clock.advance_secs(5);
        match poll(s, device_code) {
            Err(e) if e == "authorization_pending" && !browser_done => {
                pending_polls += 1;
                assert!(
                    pending_polls < 200,
                    "still pending after {pending_polls} polls"
                );
                std::thread::sleep(Duration::from_millis(500));
            }
            answer => return (answer, Browser::finished(&mut script)),
        }
    }
}

fn server() -> TestServer {
    let s = TestServer::start();
    s.add_user("alice", "correct horse battery staple");
    s
}

#[test]
fn chromium_approves_a_device_while_it_polls() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let s = server();
    let auth = device_authorization(&s);
    let device_code = auth["device_code"].as_str().expect("device_code");
    let user_code = auth["user_code"].as_str().expect("user_code");
    assert_eq!(poll(&s, device_code), Err("authorization_pending".into()));
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("devauth-confirm-page.png");
    let script = browser.node(
        "browser/approve.mjs",
        &[
            auth["verification_uri"].as_str().expect("verification_uri"),
            &user_code.to_lowercase(),
            "alice",
            "correct horse battery staple",
            "approve",
            shot.to_str().expect("utf-8 path"),
        ],
    );
    let (answer, out) = poll_while(&s, device_code, script);
    assert!(out.contains("\"result\":\"approved\""), "{out}");
    let tokens = answer.expect("tokens after approval");
    assert!(
        tokens["access_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{tokens}"
    );
    // The approval is redeemed once.
    s.clock.advance_secs(5);
    assert_eq!(poll(&s, device_code), Err("invalid_grant".into()));
    assert!(shot.is_file(), "no screenshot at {}", shot.display());
    eprintln!("confirm page screenshot: {}", shot.display());
}

#[test]
fn chromium_denies_a_device_and_the_next_poll_says_access_denied() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let s = server();
    let auth = device_authorization(&s);
    let device_code = auth["device_code"].as_str().expect("device_code");
    let user_code = auth["user_code"].as_str().expect("user_code");
    let script = browser.node(
        "browser/approve.mjs",
        &[
            &format!("{}/device", s.base),
            user_code,
            "alice",
            "correct horse battery staple",
            "deny",
        ],
    );
    let (answer, out) = poll_while(&s, device_code, script);
    assert!(out.contains("\"result\":\"denied\""), "{out}");
    assert_eq!(answer, Err("access_denied".into()));
    let canonical = devauth_proto::UserCode::normalize(user_code).expect("user code");
    assert!(matches!(
        s.grant(canonical.as_str()).state,
        DeviceGrantState::Denied { .. }
    ));
}

/// A one-shot HTTP listener standing in for a native app's loopback
/// redirect: answers the first request with a small page and returns its
/// request target.
fn loopback_callback() -> (u16, std::thread::JoinHandle<String>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("callback request");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut request_line = String::new();
        reader.read_line(&mut request_line).expect("request line");
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
            line.clear();
        }
        let mut stream = stream;
        let body = "signed in; you can close this tab";
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    });
    (port, handle)
}

fn authorize_url(s: &TestServer, redirect: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", "devauth-cli")
        .append_pair("redirect_uri", redirect)
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "st-browser")
        .append_pair("scope", "openid offline_access");
    format!("{}/oauth/authorize?{}", s.base, q.finish())
}

#[test]
fn chromium_authorizes_a_loopback_client() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let s = TestServer::start();
    s.add_user("alice", "correct horse battery staple");
    let (port, callback) = loopback_callback();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let out = browser.run(
        "browser/authorize.mjs",
        &[
            &authorize_url(&s, &redirect),
            "alice",
            "correct horse battery staple",
            "approve",
        ],
    );
    assert!(out.contains("\"ok\":true"), "{out}");
    let target = callback.join().expect("callback thread");
    let url = url::Url::parse(&format!("http://127.0.0.1{target}")).expect("target");
    let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(url.path(), "/callback");
    assert_eq!(params.get("state").map(String::as_str), Some("st-browser"));
    assert_eq!(params.get("iss"), Some(&s.base));
    let code = params.get("code").expect("a code in the redirect");
    // The client redeems it with the PKCE verifier.
    let exchange = |verifier: &str| {
        let mut response = agent()
            .post(&format!("{}/oauth/token", s.base))
            .send_form([
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect.as_str()),
                ("client_id", "devauth-cli"),
                ("code_verifier", verifier),
            ])
            .expect("token request");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.body_mut().read_json().expect("token JSON");
        (status, body)
    };
    let (status, tokens) = exchange("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    assert_eq!(status, 200, "{tokens}");
    assert!(
        tokens["access_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    // Single use.
    let (status, again) = exchange("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

//! End to end in a real headless Chromium: the person's side of the device
//! flow (`tests/browser/approve.mjs`, driven by playwright-core) against a
//! real server, while the test plays the device.
//!
//! Needs `/usr/bin/chromium` (or `DEVAUTH_CHROMIUM`), `node`, and
//! `node_modules/playwright-core` (run `npm ci` at the workspace root).
//! Without them the tests print why and pass, unless
//! `DEVAUTH_REQUIRE_SERVICES=1`, when they fail.

use crate::pages_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use devauth_server::model::DeviceGrantState;
use pages_support::TestServer;

/// The longest the browser script may run before it is killed.
const SCRIPT_LIMIT: Duration = Duration::from_secs(120);

struct Tools {
    node: PathBuf,
    scripts: PathBuf,
    workspace: PathBuf,
}

/// The tools, or `None` after printing why the test is skipped.
fn tools() -> Option<Tools> {
    let workspace = devauth_testkit::workspace_root();
    let chromium = std::env::var_os("DEVAUTH_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let node = devauth_testkit::on_path("node");
    let missing = if !chromium.is_file() {
        Some(format!("no Chromium at {}", chromium.display()))
    } else if node.is_none() {
        Some("no `node` on PATH".to_owned())
    } else if !workspace.join("node_modules/playwright-core").is_dir() {
        Some("no node_modules/playwright-core (run `npm ci`)".to_owned())
    } else {
        None
    };
    if !devauth_testkit::require_service("browser test", missing.as_deref()) {
        return None;
    }
    Some(Tools {
        node: node?,
        scripts: workspace.join("tests/browser"),
        workspace,
    })
}

/// A running browser script.
struct Script(std::process::Child);

impl Script {
    fn start(tools: &Tools, script: &str, args: &[&str]) -> Self {
        let child = Command::new(&tools.node)
            .arg(tools.scripts.join(script))
            .args(args)
            .current_dir(&tools.workspace)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node");
        Self(child)
    }

    fn running(&mut self) -> bool {
        self.0.try_wait().expect("wait for node").is_none()
    }

    /// Waits for the end (bounded) and returns the JSON line.
    fn finish(mut self) -> String {
        let started = Instant::now();
        while self.running() {
            if started.elapsed() > SCRIPT_LIMIT {
                let _ = self.0.kill();
                let _ = self.0.wait();
                panic!("browser script ran past {SCRIPT_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = self.0.wait_with_output().expect("node output");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "browser script failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

/// Runs a browser script to its end (bounded) and returns its JSON line.
fn run_script(tools: &Tools, script: &str, args: &[&str]) -> String {
    Script::start(tools, script, args).finish()
}

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
/// or one after the script ended.
fn poll_while(
    s: &TestServer,
    device_code: &str,
    mut script: Script,
) -> (Result<serde_json::Value, String>, String) {
    let mut pending_polls = 0;
    loop {
        let browser_done = !script.running();
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
            answer => return (answer, script.finish()),
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
    let Some(tools) = tools() else { return };
    let s = server();
    let auth = device_authorization(&s);
    let device_code = auth["device_code"].as_str().expect("device_code");
    let user_code = auth["user_code"].as_str().expect("user_code");
    assert_eq!(poll(&s, device_code), Err("authorization_pending".into()));
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("devauth-confirm-page.png");
    let script = Script::start(
        &tools,
        "approve.mjs",
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
    let Some(tools) = tools() else { return };
    let s = server();
    let auth = device_authorization(&s);
    let device_code = auth["device_code"].as_str().expect("device_code");
    let user_code = auth["user_code"].as_str().expect("user_code");
    let script = Script::start(
        &tools,
        "approve.mjs",
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
    let Some(tools) = tools() else { return };
    let s = TestServer::start();
    s.add_user("alice", "correct horse battery staple");
    let (port, callback) = loopback_callback();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let out = run_script(
        &tools,
        "authorize.mjs",
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

//! Interop with the official MCP TypeScript SDK (`@modelcontextprotocol/sdk`
//! from npm): an SDK MCP server behind `devauth guard`, and the SDK's own
//! client, with its OAuth support, logging in against `devauth serve` —
//! discovery from the guard's 401, dynamic registration, authorization code
//! with PKCE and `resource` — while headless Chromium plays the person; then
//! `tools/list` and tool calls, one streaming log notifications over SSE.
//!
//! Skips (printing why) without Chromium, node, playwright-core or the SDK,
//! unless `DEVAUTH_REQUIRE_SERVICES=1`.

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::e2e_support::command;
use crate::e2e_support::http;
use crate::e2e_support::jwt;
use crate::e2e_support::login::{Ended, Login};
use crate::e2e_support::server::Server;
use devauth_testkit::Guarded;
use devauth_testkit::{Browser, Choice};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Chromium, playwright-core and the official MCP TypeScript SDK, or
/// `None` after printing why the test is skipped.
fn tools() -> Option<Browser> {
    Browser::find_with(
        "the MCP SDK end-to-end test",
        &["@modelcontextprotocol/sdk"],
    )
}

/// `devauth serve` (registration open, the guard's URL as a resource), an
/// SDK MCP server, and `devauth guard` in front of it.
struct Stack {
    server: Server,
    guard_port: u16,
    resource: String,
    mcp_server: Guarded,
    guard: Guarded,
}

fn stack(browser: &Browser, access_ttl: u32) -> Stack {
    let guard_port = free_port();
    let resource = format!("http://127.0.0.1:{guard_port}/mcp");
    let server = Server::start_with(access_ttl, |dir| {
        let out = command::run(command::bare().args([
            "admin",
            "--data-dir",
            dir,
            "resource",
            "add",
            &resource,
            "--scope",
            "mcp:tools",
        ]));
        assert_eq!(out.code, 0, "resource add: {}", out.stderr);
        vec![
            "--registration".into(),
            "open".into(),
            // The metadata document test serves its document on loopback.
            "--allow-private-client-metadata".into(),
        ]
    });

    let upstream_port = free_port().to_string();
    let mut mcp_server = browser.node("interop/mcp_sdk.mjs", &["server", &upstream_port]);
    mcp_server.wait_for_line(Duration::from_secs(30), |l| {
        l.contains("mcp server listening").then_some(())
    });

    let child = command::bare()
        .args([
            "guard",
            "--listen",
            &format!("127.0.0.1:{guard_port}"),
            "--upstream",
            &format!("http://127.0.0.1:{upstream_port}/mcp"),
            "--issuer",
            &server.url,
            "--resource",
            &resource,
            "--scope",
            "mcp:tools",
            "--forward-user-header",
            "X-Auth-User",
        ])
        .env("DEVAUTH_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start devauth guard");
    let mut guard = Guarded::new(child, "devauth guard");
    guard.wait_for_line(Duration::from_secs(30), |l| {
        l.contains("devauth guard: listening").then_some(())
    });
    Stack {
        server,
        guard_port,
        resource,
        mcp_server,
        guard,
    }
}

/// `devauth ARGS` (an `mcp login` with the device flow) while Chromium
/// approves as `demo`; asserts it succeeded.
fn approved_mcp_login(browser: &Browser, st: &Stack, home: &Path, args: &[&str]) -> Ended {
    let mut login = Login::start_command(home, args);
    let screen = login.screen();
    browser.decide(
        &screen.verification_uri,
        &screen.user_code,
        "demo",
        &st.server.demo_password,
        Choice::Approve,
    );
    let ended = login.wait();
    assert!(ended.status.success(), "{}", ended.stderr);
    ended
}

/// The profile file `devauth mcp login` makes for the stack's guard.
fn profile_path(home: &Path, st: &Stack) -> std::path::PathBuf {
    home.join("profiles")
        .join(format!("mcp-127.0.0.1-{}.json", st.guard_port))
}

#[test]
fn the_mcp_sdk_client_logs_in_through_the_guard_and_streams_a_tool_call() {
    let Some(browser) = tools() else {
        return;
    };
    let Stack {
        server,
        guard_port,
        resource,
        mcp_server,
        guard,
    } = stack(&browser, 300);

    let mut client = browser.node(
        "interop/mcp_sdk.mjs",
        &["client", &resource, "demo", &server.demo_password],
    );
    let (status, stdout, stderr) = client.wait_exit(Duration::from_secs(120));
    let report: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no report from the SDK client: {status}\n{stdout}\n{stderr}"));
    assert!(
        status.success() && report["ok"] == true,
        "the SDK client failed: {report}\n{stderr}\nguard:\n{}\nserver:\n{}\nmcp server:\n{}",
        guard.transcript(),
        server.log(),
        mcp_server.transcript()
    );

    // It registered itself, and asked for the guard's resource with PKCE.
    assert!(report["client_id"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(report["authorize"]["resource"], resource.as_str());
    assert_eq!(report["authorize"]["code_challenge_method"], "S256");
    // The token is for this resource and this person.
    let claims = jwt::claims(report["access_token"].as_str().unwrap());
    let aud = &claims["aud"];
    assert!(
        aud == resource.as_str()
            || aud
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == resource.as_str())),
        "aud {aud}"
    );
    // The MCP server saw who called, from the guard's header.
    assert_eq!(report["whoami"], claims["sub"]);
    assert_eq!(report["tools"], serde_json::json!(["countdown", "whoami"]));
    // The call's log notifications came over its SSE stream, then the result.
    assert_eq!(
        report["notes"],
        serde_json::json!(["tick 3", "tick 2", "tick 1"])
    );
    assert_eq!(report["countdown"], "liftoff");

    // A headless client with the device grant and `resource` (RFC 8628 +
    // RFC 8707, as `devauth mcp` and curl do it) reaches the same server.
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    // (The resource's scope can only be asked for with the resource.)
    let device_token = |resource: Option<&str>| -> String {
        let form = match resource {
            Some(r) => format!(
                "client_id=devauth-cli&scope=mcp%3Atools&resource={}",
                enc(r)
            ),
            None => "client_id=devauth-cli&scope=openid".to_owned(),
        };
        let start = http::post_form(&server.url, "/oauth/device_authorization", &form);
        assert_eq!(start.status, 200, "{}", start.body);
        let start = start.json();
        browser.decide(
            start["verification_uri"].as_str().unwrap(),
            start["user_code"].as_str().unwrap(),
            "demo",
            &server.demo_password,
            Choice::Approve,
        );
        let token = http::post_form(
            &server.url,
            "/oauth/token",
            &format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=devauth-cli&device_code={}",
                enc(start["device_code"].as_str().unwrap())
            ),
        );
        assert_eq!(token.status, 200, "{}", token.body);
        token.json()["access_token"].as_str().unwrap().to_owned()
    };
    let access = device_token(Some(&resource));
    assert_eq!(jwt::claims(&access)["aud"], resource.as_str());
    let guard_url = format!("http://127.0.0.1:{guard_port}");
    let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl-like","version":"1"}}}"#;
    let ok = http::post_json(
        &guard_url,
        "/mcp",
        &[("Authorization", format!("Bearer {access}"))],
        initialize,
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("devauth-interop"), "{}", ok.body);
    // A device-grant token asked without the resource is not for this one.
    let unbound = device_token(None);
    assert_ne!(jwt::claims(&unbound)["aud"], resource.as_str());
    let refused = http::post_json(
        &guard_url,
        "/mcp",
        &[("Authorization", format!("Bearer {unbound}"))],
        initialize,
    );
    assert_eq!(refused.status, 401, "{}", refused.body);
}

#[test]
fn devauth_mcp_logs_in_headlessly_and_hands_out_headers() {
    let Some(browser) = tools() else {
        return;
    };
    let st = stack(&browser, 300);
    let home = tempfile::tempdir().unwrap();
    // Discovery from the guard's 401, registration, device flow with resource.
    let ended = approved_mcp_login(
        &browser,
        &st,
        home.path(),
        &["mcp", "login", &st.resource, "--no-qr"],
    );
    let profile = format!("mcp-127.0.0.1-{}", st.guard_port);
    assert!(ended.stderr.contains(&profile), "{}", ended.stderr);
    // The registration is kept for the next login to this authorization server.
    let registered = std::fs::read_dir(home.path().join("mcp/clients"))
        .unwrap()
        .count();
    assert_eq!(registered, 1);

    // Headers for an MCP client's header helper; they open the guard.
    let out = command::run(command::client(home.path()).args(["mcp", "headers", &st.resource]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let headers: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let auth = headers["Authorization"].as_str().unwrap().to_owned();
    assert!(auth.starts_with("Bearer "));
    let claims = jwt::claims(auth.trim_start_matches("Bearer "));
    assert_eq!(claims["aud"], st.resource.as_str());
    let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let ok = http::post_json(
        &format!("http://127.0.0.1:{}", st.guard_port),
        "/mcp",
        &[("Authorization", auth)],
        initialize,
    );
    assert_eq!(ok.status, 200, "{}", ok.body);

    // `status` shows it like any other profile.
    let out = command::run(command::client(home.path()).args(["status", "--profile", &profile]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("mcp:tools") && out.stdout.contains("Refresh token:  present"),
        "{}",
        out.stdout
    );
    // Unknown server: exit 3 naming the command to run.
    let out = command::run(command::client(home.path()).args([
        "mcp",
        "headers",
        "https://other.example.test/mcp",
    ]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("devauth mcp login https://other.example.test/mcp"),
        "{}",
        out.stderr
    );

    // The stdio bridge: JSON-RPC lines in, the server's answers out, the
    // tool's SSE notifications relayed before its result.
    let mut proxy = command::client(home.path())
        .args(["mcp", "proxy", &st.resource])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = proxy.stdin.take().unwrap();
        for line in [
            initialize,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"countdown","arguments":{"n":3}}}"#,
        ] {
            writeln!(stdin, "{line}").unwrap();
        }
    }
    let out = proxy.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let by_id = |id: i64| lines.iter().position(|v| v["id"] == id);
    let init = &lines[by_id(1).expect("initialize answered")];
    assert_eq!(
        init["result"]["serverInfo"]["name"],
        "devauth-interop",
        "{stdout}\nproxy: {}\nguard: {}\nmcp server: {}",
        String::from_utf8_lossy(&out.stderr),
        st.guard.transcript(),
        st.mcp_server.transcript()
    );
    let list = &lines[by_id(2).expect("tools/list answered")];
    assert_eq!(list["result"]["tools"].as_array().unwrap().len(), 2);
    let call = by_id(3).expect("tools/call answered");
    assert_eq!(lines[call]["result"]["content"][0]["text"], "liftoff");
    let ticks: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, v)| v["method"] == "notifications/message")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(ticks.len(), 3, "{stdout}");
    assert!(
        ticks.iter().all(|&i| i < call),
        "notifications before the result: {stdout}"
    );
    drop(st.guard);
    drop(st.mcp_server);
}

#[test]
fn the_sdks_stdio_client_runs_devauth_mcp_proxy_across_a_token_expiry() {
    let Some(browser) = tools() else {
        return;
    };
    // Access tokens live 4 s: the second call comes after the first token died.
    let st = stack(&browser, 4);
    let home = tempfile::tempdir().unwrap();

    // Before any login: the bridge answers `initialize` with the command to run.
    let mut bare = command::client(home.path())
        .args(["mcp", "proxy", &st.resource])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = bare.stdin.take().unwrap();
        writeln!(
            stdin,
            r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"t","version":"1"}}}}}}"#
        )
        .unwrap();
    }
    let out = bare.wait_with_output().unwrap();
    let answer: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(answer["id"], 1);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("devauth mcp login {}", st.resource)),
        "{answer}"
    );

    approved_mcp_login(
        &browser,
        &st,
        home.path(),
        &["mcp", "login", &st.resource, "--no-qr"],
    );
    let profile = profile_path(home.path(), &st);
    let first_token = std::fs::read(&profile).unwrap();

    // The SDK's stdio client spawns the bridge itself, passing it the home.
    let bin = crate::devauth_bin();
    let (status, stdout, stderr) = {
        let out = browser
            .script("tests/interop/mcp_sdk.mjs")
            .arg("stdio-client")
            .arg(&bin)
            .args(["mcp", "proxy", &st.resource])
            .env("DEVAUTH_HOME", home.path())
            .env("DEVAUTH_STORE", "file")
            .env("WAIT_SECS", "6")
            .output()
            .unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let report: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no report: {status}\n{stdout}\n{stderr}"));
    assert!(
        status.success() && report["ok"] == true,
        "{report}\n{stderr}"
    );
    assert_eq!(report["tools"], serde_json::json!(["countdown", "whoami"]));
    assert_eq!(report["first"], "liftoff");
    assert_eq!(report["notes"], serde_json::json!(["tick 2", "tick 1"]));
    // The call after the expiry went through on a refreshed token.
    assert!(
        report["second"].as_str().is_some_and(|s| !s.is_empty()),
        "{report}"
    );
    assert_ne!(
        std::fs::read(&profile).unwrap(),
        first_token,
        "the bridge refreshed"
    );
}

#[test]
fn devauth_mcp_login_web_asks_for_the_resource_with_pkce() {
    let Some(browser) = tools() else {
        return;
    };
    let st = stack(&browser, 300);
    let home = tempfile::tempdir().unwrap();
    let mut login = Login::start_command(
        home.path(),
        &["mcp", "login", &st.resource, "--web", "--no-browser"],
    );
    let url = login.url_to_open();
    let parsed = url::Url::parse(&url).unwrap();
    let param = |k: &str| {
        parsed
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("resource").as_deref(), Some(st.resource.as_str()));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    let mut person = browser.node(
        "browser/authorize.mjs",
        &[&url, "demo", &st.server.demo_password, "approve"],
    );
    let (status, stdout, stderr) = person.wait_exit(Duration::from_secs(120));
    assert!(status.success(), "{stdout}\n{stderr}");
    let ended = login.wait();
    assert!(ended.status.success(), "{}", ended.stderr);
    let out = command::run(command::client(home.path()).args(["mcp", "headers", &st.resource]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let headers: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let token = headers["Authorization"]
        .as_str()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_owned();
    assert_eq!(jwt::claims(&token)["aud"], st.resource.as_str());
    let profile: serde_json::Value =
        serde_json::from_slice(&std::fs::read(profile_path(home.path(), &st)).unwrap()).unwrap();
    assert_eq!(profile["source"]["kind"], "loopback");
}

#[test]
fn devauth_mcp_login_can_name_itself_with_a_client_metadata_document() {
    let Some(browser) = tools() else {
        return;
    };
    let st = stack(&browser, 300);
    // The document, served on loopback (the server allows that here).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let doc_url = format!(
        "http://{}/devauth-client.json",
        listener.local_addr().unwrap()
    );
    let doc = format!(
        r#"{{"client_id":"{doc_url}","client_name":"devauth via a metadata document","grant_types":["urn:ietf:params:oauth:grant-type:device_code","refresh_token"],"response_types":[],"token_endpoint_auth_method":"none"}}"#
    );
    std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 2048];
            let _ = conn.read(&mut buf);
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{doc}",
                doc.len()
            );
        }
    });
    let home = tempfile::tempdir().unwrap();
    approved_mcp_login(
        &browser,
        &st,
        home.path(),
        &[
            "mcp",
            "login",
            &st.resource,
            "--no-qr",
            "--client-metadata-url",
            &doc_url,
        ],
    );
    let profile: serde_json::Value =
        serde_json::from_slice(&std::fs::read(profile_path(home.path(), &st)).unwrap()).unwrap();
    assert_eq!(profile["client_id"], doc_url.as_str());
    assert!(
        !home.path().join("mcp/clients").exists(),
        "no registration was made"
    );
}

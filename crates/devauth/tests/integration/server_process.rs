//! The real `devauth serve` binary as a process: it survives SIGKILL with
//! nothing lost, and an independent OIDC client (panva's openid-client, run
//! by node) completes the device flow against it.
//!
//! Each test uses its own temporary data folder and an ephemeral loopback
//! port. Approvals are written straight into the server's SQLite file with
//! the store's Pending → Approved transition (what the consent page does).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use devauth_server::clock::{Clock as _, SystemClock};
use devauth_server::store::sqlite::SqliteStore;
use devauth_testkit::TestServer;

use crate::devauth_bin;

const DEVICE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Upper bound for anything to happen; a test stuck longer fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(90);

/// `devauth serve --listen LISTEN --poll-interval 1` in `home`.
fn serve(home: &Path, listen: &str) -> TestServer {
    serve_with(home, &["--listen", listen, "--poll-interval", "1"], &[])
}

/// `devauth serve ARGS` with `env` in `home`.
fn serve_with(home: &Path, args: &[&str], env: &[(&str, &str)]) -> TestServer {
    crate::start_serve(home, args, env, PATIENCE)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(PATIENCE))
        .build()
        .into()
}

fn post(base: &str, path: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let mut res = agent()
        .post(format!("{base}{path}"))
        .send_form(form.iter().copied())
        .unwrap();
    let status = res.status().as_u16();
    let body = res.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

fn get(base: &str, path: &str) -> serde_json::Value {
    let mut res = agent().get(format!("{base}{path}")).call().unwrap();
    serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap()
}

fn poll(base: &str, device_code: &str) -> (u16, serde_json::Value) {
    // The server asked for 1 s between polls; keep to it.
    std::thread::sleep(Duration::from_millis(1100));
    post(
        base,
        "/oauth/token",
        &[
            ("grant_type", DEVICE),
            ("device_code", device_code),
            ("client_id", "devauth-cli"),
        ],
    )
}

/// Runs `devauth admin ARGS` with `stdin`; returns (exit code, stdout, stderr).
fn admin(home: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    // --create: these tests set up a server's home before it first starts.
    let out = devauth_testkit::run_with_stdin(
        Command::new(devauth_bin())
            .args(["admin", "--create"])
            .args(args)
            .env("DEVAUTH_HOME", home),
        stdin.as_bytes(),
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn add_user(home: &Path, name: &str) {
    let (code, _, stderr) = admin(
        home,
        &["user", "add", name, "--password-stdin"],
        "a password\n",
    );
    assert_eq!(code, 0, "{stderr}");
}

fn db(home: &Path) -> PathBuf {
    home.join("server").join("devauth.db")
}

/// Approves `user_code` for `username` directly in the database file.
fn approve(home: &Path, user_code: &str, username: &str) -> String {
    use devauth_server::store::{DurableStore as _, FlowStore as _};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(&db(home)).await.unwrap();
        let user = store.user_by_name(username).await.unwrap().expect("user");
        let grant = store
            .device_grant_by_user_code(&user_code.replace('-', ""))
            .await
            .unwrap()
            .expect("grant");
        let version = grant.version;
        let approved = grant.approve(user.id.clone(), SystemClock.now()).unwrap();
        assert!(store.update_device_grant(&approved, version).await.unwrap());
        store.close().await;
        user.id
    })
}

fn jwt_kid(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[test]
fn sigkill_while_pending_and_after_approval_loses_nothing() {
    let home = tempfile::tempdir().unwrap();
    add_user(home.path(), "alice");
    let mut s1 = serve(home.path(), "127.0.0.1:0");
    let jwks_before = get(&s1.base, "/oauth/jwks.json");
    let (status, da) = post(
        &s1.base,
        "/oauth/device_authorization",
        &[
            ("client_id", "devauth-cli"),
            ("scope", "openid offline_access"),
        ],
    );
    assert_eq!(status, 200, "{da}");
    let dc = da["device_code"].as_str().unwrap().to_owned();
    let uc = da["user_code"].as_str().unwrap().to_owned();
    let (status, body) = poll(&s1.base, &dc);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let listen = format!("127.0.0.1:{}", s1.port());
    s1.kill();

    // Pending survived the crash.
    let mut s2 = serve(home.path(), &listen);
    let (status, body) = poll(&s2.base, &dc);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let user_id = approve(home.path(), &uc, "alice");
    s2.kill();

    // The approval survived the crash; the flow completes.
    let mut s3 = serve(home.path(), &listen);
    let (status, tokens) = poll(&s3.base, &dc);
    assert_eq!(status, 200, "{tokens}");
    let at = tokens["access_token"].as_str().unwrap();
    // The signing keys were kept, not regenerated.
    assert_eq!(get(&s3.base, "/oauth/jwks.json"), jwks_before);
    let kid = jwt_kid(at);
    assert!(
        jwks_before["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid.as_str())
    );
    let mut res = agent()
        .get(format!("{}/oauth/userinfo", s3.base))
        .header("authorization", format!("Bearer {at}"))
        .call()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let info: serde_json::Value =
        serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(info["sub"], user_id.as_str());
    // Single use holds across restarts.
    let (status, body) = poll(&s3.base, &dc);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    s3.kill();

    let s4 = serve(home.path(), &listen);
    let (status, body) = post(
        &s4.base,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", "devauth-cli"),
        ],
    );
    assert_eq!(status, 200, "{body}");

    // SIGTERM: a graceful, successful exit.
    let mut s4 = s4;
    let status = s4.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn openid_client_completes_the_device_flow() {
    let Some(node) =
        devauth_testkit::Node::find("the openid-client interop test", &["openid-client"])
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    add_user(home.path(), "bob");
    let s = serve(home.path(), "127.0.0.1:0");
    let mut node = node
        .script("tests/interop/device_flow.mjs")
        .arg(&s.base)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = node.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut next = || -> serde_json::Value {
        match rx.recv_timeout(PATIENCE) {
            Ok(line) => serde_json::from_str(&line).unwrap(),
            Err(e) => {
                let _ = node.kill();
                panic!("openid-client said nothing: {e}");
            }
        }
    };
    let first = next();
    let uc = first["user_code"]
        .as_str()
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let user_id = approve(home.path(), &uc, "bob");
    let done = next();
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(done["sub"], user_id.as_str());
    assert_eq!(done["refreshed_sub"], user_id.as_str());
    assert_eq!(done["iss"], s.base.as_str());
    assert_eq!(done["aud"], "devauth-cli");
    assert_eq!(done["preferred_username"], "bob");
    assert!(node.wait().unwrap().success());
}

#[test]
fn admin_manages_users_clients_and_keys() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (code, _, err) = admin(h, &["user", "add", "alice"], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--password-stdin"), "{err}");
    add_user(h, "alice");
    let (code, _, err) = admin(h, &["user", "add", "alice", "--password-stdin"], "x\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already exists"));
    let (code, out, _) = admin(h, &["user", "disable", "alice"], "");
    assert_eq!(code, 0);
    assert!(out.is_empty());
    let (_, out, _) = admin(h, &["user", "list"], "");
    assert!(
        out.starts_with("NAME\tID\tSTATE\tCREATED\nalice\t") && out.contains("\tdisabled\t"),
        "{out}"
    );
    let (code, _, _) = admin(h, &["user", "disable", "nobody"], "");
    assert_eq!(code, 2);
    // Enabled again, a new password, removed.
    let (code, _, _) = admin(h, &["user", "enable", "alice"], "");
    assert_eq!(code, 0);
    let (_, out, _) = admin(h, &["user", "list"], "");
    assert!(out.contains("\tactive\t"), "{out}");
    let (code, _, err) = admin(
        h,
        &["user", "set-password", "alice", "--password-stdin"],
        "a new long one\n",
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = admin(h, &["user", "set-password", "alice"], "x\n");
    assert_eq!(code, 2, "the password is never a flag, nor implied");
    let (code, _, _) = admin(
        h,
        &["user", "set-password", "nobody", "--password-stdin"],
        "x\n",
    );
    assert_eq!(code, 2);
    add_user(h, "temp");
    let (code, _, _) = admin(h, &["user", "remove", "temp"], "");
    assert_eq!(code, 0);
    let (_, out, _) = admin(h, &["user", "list"], "");
    assert!(!out.contains("temp\t"), "{out}");
    let (code, _, _) = admin(h, &["user", "remove", "temp"], "");
    assert_eq!(code, 2);

    let (code, secret, err) = admin(
        h,
        &[
            "client",
            "add",
            "svc",
            "--name",
            "Service",
            "--grant",
            "client_credentials",
            "--scope",
            "api:read",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let secret = secret.trim().to_owned();
    assert_eq!(secret.len(), 43, "only the secret on stdout");
    assert!(!err.contains(&secret), "the secret goes to stdout only");
    let (code, _, err) = admin(
        h,
        &["client", "add", "x", "--name", "X", "--grant", "password"],
        "",
    );
    assert_eq!(code, 2, "{err}");
    let (_, out, _) = admin(h, &["client", "list"], "");
    assert!(out.starts_with("ID\tKIND\tGRANTS\t"), "{out}");
    assert!(
        out.contains("devauth-cli\tpublic\tdevice_code,refresh_token,authorization_code\t"),
        "grants as typed: {out}"
    );
    assert!(
        out.contains("svc\tconfidential\tclient_credentials\tService"),
        "{out}"
    );
    // A resource server gets the right to introspect others' tokens; a
    // public client cannot be given it.
    let (code, _, err) = admin(h, &["client", "update", "svc", "--introspect", "true"], "");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = admin(
        h,
        &["client", "update", "devauth-cli", "--introspect", "true"],
        "",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("public client"), "{err}");
    let (code, _, err) = admin(h, &["client", "update", "nobody", "--name", "N"], "");
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = admin(
        h,
        &["client", "update", "svc", "--id-token-alg", "HS256"],
        "",
    );
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = admin(
        h,
        &["client", "update", "svc", "--id-token-alg", "es256"],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = admin(h, &["client", "list"], "");
    assert!(
        out.contains("svc\tconfidential\tclient_credentials\tService\tintrospect\tES256"),
        "{out}"
    );
    assert!(out.contains("\t-\tRS256"), "{out}");
    // Initial access tokens for `serve --registration token`: printed once,
    // stored hashed.
    let (code, token, err) = admin(h, &["registration-token", "--ttl", "3600"], "");
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_owned();
    assert_eq!(token.len(), 43, "only the token on stdout");
    assert!(err.contains("shown only this once"), "{err}");
    let (code, _, _) = admin(h, &["registration-token", "--ttl", "5"], "");
    assert_eq!(code, 2, "a ttl under a minute is refused");
    let db_bytes = std::fs::read(db(h)).unwrap();
    assert!(!db_bytes.windows(token.len()).any(|w| w == token.as_bytes()));
    // Protected resources (RFC 8707).
    let mcp = "https://tools.example.test/mcp";
    let (code, _, err) = admin(
        h,
        &[
            "resource",
            "add",
            mcp,
            "--scope",
            "mcp:tools",
            "--scope",
            "mcp:read",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = admin(h, &["resource", "add", mcp], "");
    assert_eq!(code, 2, "a duplicate: {err}");
    for bad in [
        "tools.example.test",
        "https://x.example/#f",
        "ftp://x.example/",
    ] {
        let (code, _, err) = admin(h, &["resource", "add", bad], "");
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("not a resource URL"), "{err}");
    }
    let (_, out, _) = admin(h, &["resource", "list"], "");
    assert!(
        out.contains(&format!("{mcp}\tmcp:read mcp:tools\t")),
        "{out}"
    );
    let (code, _, err) = admin(h, &["resource", "remove", mcp], "");
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = admin(h, &["resource", "remove", mcp], "");
    assert_eq!(code, 2);
    let (_, out, _) = admin(h, &["resource", "list"], "");
    assert!(!out.contains(mcp), "{out}");
    let db_bytes = std::fs::read(db(h)).unwrap();
    assert!(
        !db_bytes
            .windows(secret.len())
            .any(|w| w == secret.as_bytes()),
        "the database holds only the secret's hash"
    );

    let (_, keys_before, _) = admin(h, &["keys", "list"], "");
    assert_eq!(
        keys_before.lines().count(),
        3,
        "a header and two keys: {keys_before}"
    );
    assert_eq!(keys_before.matches("\tcurrent").count(), 2);
    let (code, _, err) = admin(h, &["keys", "rotate"], "");
    assert_eq!(code, 0, "{err}");
    let (_, keys_after, _) = admin(h, &["keys", "list"], "");
    assert_eq!(keys_after.lines().count(), 5, "{keys_after}");
    // Published first, signing a minute later: the old pair still signs.
    assert_eq!(
        keys_after.matches("\tcurrent, retires ").count(),
        2,
        "{keys_after}"
    );
    assert_eq!(
        keys_after.matches("\tnext, signs from ").count(),
        2,
        "{keys_after}"
    );

    // The server publishes all four and signs with the old key until the switch.
    let s = serve(h, "127.0.0.1:0");
    let mut res = agent()
        .post(format!("{}/oauth/token", s.base))
        .header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("svc:{secret}"))
            ),
        )
        .send_form([("grant_type", "client_credentials")])
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let t: serde_json::Value =
        serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(t["scope"], "api:read");
    let kid = jwt_kid(t["access_token"].as_str().unwrap());
    let current_rs = keys_after
        .lines()
        .find(|l| l.contains("\tRS256\t") && l.contains("\tcurrent, retires "))
        .unwrap()
        .split('\t')
        .next()
        .unwrap();
    assert_eq!(kid, current_rs);
    assert_eq!(
        get(&s.base, "/oauth/jwks.json")["keys"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn serve_reads_environment_and_config_file() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("server.json");
    std::fs::write(
        &config,
        r#"{"device_rate_limit": 1, "code_ttl": 42, "poll_interval": 9}"#,
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let s = serve_with(
        home.path(),
        &["--config", config],
        &[
            ("DEVAUTH_LISTEN", "127.0.0.1:0"),
            ("DEVAUTH_POLL_INTERVAL", "3"),
        ],
    );
    let (status, da) = post(
        &s.base,
        "/oauth/device_authorization",
        &[("client_id", "devauth-cli")],
    );
    assert_eq!(status, 200, "{da}");
    assert_eq!(da["expires_in"], 42, "from the config file");
    assert_eq!(da["interval"], 3, "the environment wins over the file");
    let (status, body) = post(
        &s.base,
        "/oauth/device_authorization",
        &[("client_id", "devauth-cli")],
    );
    assert_eq!((status, body["error"].as_str()), (429, Some("slow_down")));
    let disc = get(&s.base, "/.well-known/openid-configuration");
    assert_eq!(disc["issuer"], s.base.as_str());
    assert!(home.path().join("server/devauth.db").is_file());
}

#[test]
fn unsupported_or_unreachable_storage_urls_fail_clearly_without_the_password() {
    let home = tempfile::tempdir().unwrap();
    for (args, code, says) in [
        (
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                "mysql://admin:s3cret-pw@127.0.0.1/x",
            ][..],
            2,
            "unsupported database URL",
        ),
        (
            &[
                "admin",
                "user",
                "list",
                "--redis-url",
                "memcached://127.0.0.1",
            ][..],
            2,
            "unsupported Redis URL",
        ),
        (
            // Nothing listens on port 1: the store cannot be opened.
            &[
                "admin",
                "user",
                "list",
                "--database-url",
                "postgres://admin:s3cret-pw@127.0.0.1:1/test",
            ][..],
            1,
            "cannot open the stores (durable=postgres",
        ),
    ] {
        let out = Command::new(devauth_bin())
            .args(args)
            .env("DEVAUTH_HOME", home.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("s3cret-pw"), "password leaked: {err}");
    }
    let out = Command::new(devauth_bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            "/nonexistent/devauth.json",
        ])
        .env("DEVAUTH_HOME", home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("config file"));
}

#[test]
fn logs_are_json_and_never_contain_secrets() {
    let home = tempfile::tempdir().unwrap();
    add_user(home.path(), "judy");
    let mut s = serve_with(
        home.path(),
        &["--listen", "127.0.0.1:0", "--poll-interval", "1", "--demo"],
        &[("DEVAUTH_LOG", "debug")],
    );
    let (_, da) = post(
        &s.base,
        "/oauth/device_authorization",
        &[
            ("client_id", "devauth-cli"),
            ("scope", "openid offline_access"),
        ],
    );
    let dc = da["device_code"].as_str().unwrap().to_owned();
    poll(&s.base, &dc);
    approve(home.path(), da["user_code"].as_str().unwrap(), "judy");
    let (status, t) = poll(&s.base, &dc);
    assert_eq!(status, 200, "{t}");
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let (_, t2) = post(
        &s.base,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", "devauth-cli"),
        ],
    );
    let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
    post(
        &s.base,
        "/oauth/revoke",
        &[("token", &rt2), ("client_id", "devauth-cli")],
    );
    // Reuse of the first refresh token: an audit event, no secret.
    std::thread::sleep(Duration::from_millis(100));
    post(
        &s.base,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", "devauth-cli"),
        ],
    );
    assert!(s.terminate().success());
    std::thread::sleep(Duration::from_millis(200));
    let lines = s.lines();
    let demo_password = lines
        .iter()
        .find_map(|l| l.split("`demo`, password ").nth(1))
        .expect("the demo password is printed once")
        .trim_end_matches(['│', ' '])
        .to_owned();
    let secrets = [
        dc.as_str(),
        rt.as_str(),
        rt2.as_str(),
        t["access_token"].as_str().unwrap(),
        t["id_token"].as_str().unwrap(),
        t2["access_token"].as_str().unwrap(),
    ];
    let mut json_lines = 0;
    for line in &lines {
        for secret in secrets {
            assert!(
                !line.contains(secret),
                "a secret leaked into the logs: {line}"
            );
        }
        if line.starts_with("devauth serve:") {
            continue;
        }
        assert!(!line.contains(&demo_password), "{line}");
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
        assert!(v["level"].is_string());
        json_lines += 1;
    }
    assert!(
        lines.iter().any(|l| l.contains("device_code.issued")),
        "audit lines are logged"
    );
    assert!(lines.iter().any(|l| l.contains("token.revoked")));
    assert!(json_lines > 5);
}

/// Sends `METHOD PATH` raw (any method name, any path) and returns the status.
fn raw_status(base: &str, method: &str, path: &str) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut c = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    c.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        c,
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = c.read_to_string(&mut text);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn text(url: &str) -> (u16, String) {
    let mut res = agent().get(url).call().unwrap();
    let status = res.status().as_u16();
    (status, res.body_mut().read_to_string().unwrap())
}

#[test]
fn metrics_labels_stay_bounded_whatever_clients_send() {
    let home = tempfile::tempdir().unwrap();
    let s = serve(home.path(), "127.0.0.1:0");
    // One of each kind first, and a scrape, so every series exists.
    raw_status(&s.base, "MADEUP", "/random/x");
    raw_status(&s.base, "GET", "/no-such-page");
    text(&format!("{}/metrics", s.base));
    let (_, before) = text(&format!("{}/metrics", s.base));
    for i in 0..200 {
        let method = format!("MADEUP{i}");
        let status = raw_status(&s.base, &method, &format!("/random/{i}?x={i}"));
        assert!(status >= 400, "{method}: {status}");
        raw_status(&s.base, "GET", &format!("/no-such-page-{i}"));
    }
    let (status, after) = text(&format!("{}/metrics", s.base));
    assert_eq!(status, 200);
    assert!(!after.contains("MADEUP"), "made-up methods became labels");
    assert!(
        !after.contains("/random/") && !after.contains("no-such-page"),
        "paths became labels"
    );
    assert!(after.contains("method=\"other\""), "{after}");
    assert!(after.contains("route=\"unmatched\""), "{after}");
    // 400 more odd requests add no series at all.
    let series = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(series(&after), series(&before), "{after}");
}

#[test]
fn metrics_can_live_on_an_address_of_their_own() {
    let home = tempfile::tempdir().unwrap();
    let s = serve_with(
        home.path(),
        &["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"],
        &[],
    );
    let line = s
        .lines()
        .into_iter()
        .find(|l| l.contains("metrics on http://"))
        .expect("the metrics address is printed");
    let url = line[line.find("http://").unwrap()..].trim().to_owned();
    assert_eq!(raw_status(&s.base, "GET", "/healthz"), 200);
    let (status, body) = text(&url);
    assert_eq!(status, 200);
    assert!(body.contains("devauth_"), "{body}");
    // The public listener no longer serves them.
    assert_eq!(raw_status(&s.base, "GET", "/metrics"), 404);
    assert_eq!(raw_status(&s.base, "GET", "/healthz"), 200);
}

/// POSTs a device authorization as if forwarded for `xff`; the status.
fn device_auth_via(base: &str, xff: Option<&str>, forwarded: Option<&str>) -> u16 {
    let mut req = agent().post(format!("{base}/oauth/device_authorization"));
    if let Some(v) = xff {
        req = req.header("X-Forwarded-For", v);
    }
    if let Some(v) = forwarded {
        req = req.header("Forwarded", v);
    }
    req.send_form([("client_id", "devauth-cli")])
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn forwarding_headers_count_only_from_a_trusted_proxy() {
    // Without --trusted-proxy, made-up forwarding headers change nothing:
    // every request is 127.0.0.1's, and the per-IP limit (2) holds.
    let home = tempfile::tempdir().unwrap();
    let s = serve_with(
        home.path(),
        &["--listen", "127.0.0.1:0", "--device-rate-limit", "2"],
        &[],
    );
    let spoofed: Vec<u16> = ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
        .iter()
        .map(|ip| device_auth_via(&s.base, Some(ip), Some(&format!("for={ip}"))))
        .collect();
    assert_eq!(spoofed, vec![200, 200, 429], "headers were trusted");
    drop(s);

    // Behind a trusted proxy (127.0.0.1 here), each client has its own
    // budget, and a client cannot pick its address by writing on the left.
    let home = tempfile::tempdir().unwrap();
    let s = serve_with(
        home.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--device-rate-limit",
            "2",
            "--trusted-proxy",
            "127.0.0.1/32",
        ],
        &[],
    );
    assert_eq!(device_auth_via(&s.base, Some("203.0.113.7"), None), 200);
    assert_eq!(device_auth_via(&s.base, Some("203.0.113.7"), None), 200);
    assert_eq!(device_auth_via(&s.base, Some("203.0.113.7"), None), 429);
    // Another client through the same proxy is not limited by the first.
    assert_eq!(device_auth_via(&s.base, Some("203.0.113.8"), None), 200);
    // The first client spoofing a fresh address on the left is still itself.
    assert_eq!(
        device_auth_via(&s.base, Some("192.0.2.99, 203.0.113.7"), None),
        429
    );
    // RFC 7239 Forwarded is read too, and wins over X-Forwarded-For.
    assert_eq!(
        device_auth_via(
            &s.base,
            Some("203.0.113.7"),
            Some("for=\"[2001:db8::5]:4711\"")
        ),
        200
    );
    // A bad --trusted-proxy is a usage error.
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(devauth_bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--trusted-proxy",
            "proxy.example",
        ])
        .env("DEVAUTH_HOME", home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trusted-proxy"));
}

#[cfg(unix)]
#[test]
fn a_data_folder_others_can_read_is_reported_at_start() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("restored");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = serve_with(
        home.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let said = s.lines().join("\n");
    assert!(
        said.contains("can be read by other users") && said.contains("chmod go-rwx"),
        "{said}"
    );
    drop(s);
    // A private folder gets no warning.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let s = serve_with(
        home.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!s.lines().join("\n").contains("can be read by other users"));
}

#[test]
fn first_contact_home_page_wildcard_listen_and_the_demo_password() {
    // A wildcard address is no issuer: refuse and ask for --issuer.
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(devauth_bin())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env("DEVAUTH_HOME", home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs --issuer"), "{err}");

    // The address serve prints answers with a page saying what it is.
    let s = serve_with(home.path(), &["--listen", "127.0.0.1:0", "--demo"], &[]);
    let (status, body) = text(&format!("{}/", s.base));
    assert_eq!(status, 200);
    assert!(body.contains("href=\"/device\""), "{body}");
    assert!(body.contains(&format!(
        "{}/.well-known/oauth-authorization-server",
        s.base
    )));
    // The demo password comes last, boxed, after "listening".
    std::thread::sleep(Duration::from_millis(200));
    let lines = s.lines();
    let listening = lines
        .iter()
        .position(|l| l.contains("listening on"))
        .unwrap();
    let password = lines
        .iter()
        .position(|l| l.contains("`demo`, password "))
        .expect("the demo password is shown");
    assert!(password > listening, "{lines:?}");
    assert!(lines[password - 1].contains('┌') && lines[password + 1].contains('└'));
}

#[test]
fn admin_removes_clients() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (code, _, err) = admin(
        h,
        &["client", "add", "gone", "--name", "Gone", "--public"],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = admin(h, &["client", "remove", "gone"], "");
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = admin(h, &["client", "list"], "");
    assert!(!out.contains("gone\t"), "{out}");
    let (code, _, _) = admin(h, &["client", "remove", "gone"], "");
    assert_eq!(code, 2);
}

#[test]
fn admin_names_its_database_and_does_not_make_one_unasked() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(devauth_bin())
            .args(args)
            .env("DEVAUTH_HOME", home.path())
            .env_remove("DEVAUTH_DATA_DIR")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let db = home.path().join("server/devauth.db");
    // No database where `serve` would keep it: say where that is, make nothing.
    let (code, err) = run(&["admin", "client", "list"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&db.display().to_string()) && err.contains("--create"),
        "{err}"
    );
    assert!(!db.exists(), "nothing was created");
    // Asked for: made, and named.
    let (code, err) = run(&["admin", "--create", "client", "list"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(&format!("devauth admin: database {}", db.display())),
        "{err}"
    );
    assert!(db.is_file());
    // From then on it is found.
    let (code, err) = run(&["admin", "client", "list"]);
    assert_eq!(code, Some(0), "{err}");
}

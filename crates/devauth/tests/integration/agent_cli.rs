//! `devauth agent` through the real binary: a `--once` pass that refreshes
//! and writes back into kiro-cli's database, `--profile` keeping one profile, a dead login that ends in
//! `needs-login` with notifications, `--listen` with a clean SIGTERM, and
//! `--watch` healing a profile after a new login.

use devauth_testkit::fixtures;
use devauth_testkit::refresh_server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fixtures::*;
use refresh_server::RefreshServer;

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    devauth_home: PathBuf,
    server: RefreshServer,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        Self {
            devauth_home: root.join("devauth"),
            home,
            root,
            _dir: dir,
            server: RefreshServer::start(Duration::ZERO),
        }
    }

    fn kiro_db(&self) -> PathBuf {
        self.home.join(".local/share/kiro-cli/data.sqlite3")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("DEVAUTH_HOME", &self.devauth_home)
            .env("AWS_ENDPOINT_URL_SSO_OIDC", self.server.url())
            .env("DEVAUTH_KIRO_AUTH_ENDPOINT", self.server.url());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn profile(&self, name: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.devauth_home.join(format!("profiles/{name}.json")))
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn record(&self, name: &str) -> Option<serde_json::Value> {
        let text =
            std::fs::read_to_string(self.devauth_home.join(format!("profiles/{name}.agent")))
                .ok()?;
        serde_json::from_str(&text).ok()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An ISO time `secs` from the real now (the binary reads the real clock).
fn from_now(secs: i64) -> String {
    #[expect(
        clippy::disallowed_methods,
        reason = "the binary under test reads the real clock"
    )]
    let now = time::OffsetDateTime::from(std::time::SystemTime::now());
    devauth_import::rfc3339::format_seconds(now + time::Duration::seconds(secs))
}

#[test]
fn once_refreshes_and_writes_back_into_kiro_cli() {
    let env = Env::new();
    create_kiro_db(&env.kiro_db());
    put_auth(
        &env.kiro_db(),
        "kirocli:social:token",
        &social_token(Casing::Snake, "ok.s.0", &from_now(60)),
    );
    assert!(env.run(&["import", "kiro-cli"]).status.success());

    let out = env.run(&["agent", "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 refreshed"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(env.server.total(), 1);

    let row = get_auth(&env.kiro_db(), "kirocli:social:token").unwrap();
    assert_eq!(
        row["refresh_token"], "ok.s.1",
        "kiro-cli gets the rotated token"
    );
    assert_eq!(row["access_token"], "at.s.1");
    assert_eq!(row["provider"], "Github", "unknown fields kept");
    assert_eq!(row["future_field"]["kept"][2], 3);
    let p = env.profile("default");
    assert_eq!(p["tokens"]["refresh_token"], "ok.s.1");
    assert_eq!(env.record("default").unwrap()["state"], "active");

    // a second pass finds nothing to do
    let out = env.run(&["agent", "--once", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["fresh"], 1);
    assert_eq!(summary["refreshed"], 0);
    assert_eq!(env.server.total(), 1, "no second refresh for one expiry");
    assert!(!text(&out.stderr).contains("ok.s."), "no token in the logs");
}

/// Accepts one HTTP request on 127.0.0.1 and hands over its body.
#[test]
fn profile_keeps_only_the_named_profile() {
    let env = Env::new();
    for name in ["work", "home"] {
        let db = env.root.join(format!("{name}.sqlite3"));
        create_kiro_db(&db);
        put_auth(
            &db,
            "kirocli:social:token",
            &social_token(Casing::Snake, &format!("ok.{name}.0"), &from_now(60)),
        );
        let out = env.run(&[
            "import",
            "kiro-cli",
            "--db",
            db.to_str().unwrap(),
            "--profile",
            name,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let home_before = env.profile("home");

    let out = env.run(&["agent", "--once", "--profile", "work"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(summary.contains("1 profiles: "), "{summary}");
    assert!(summary.contains("1 refreshed"), "{summary}");
    assert_eq!(env.server.total(), 1, "one refresh call, for work only");
    assert_ne!(env.profile("work"), home_before);
    assert_eq!(env.profile("home"), home_before, "home left alone");
    assert!(env.record("home").is_none(), "no agent record for home");

    // Without --profile, every profile: now home is due, work is fresh.
    let out = env.run(&["agent", "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(summary.contains("2 profiles: "), "{summary}");
    assert!(summary.contains("1 refreshed"), "{summary}");
    assert_eq!(env.server.total(), 2);
    assert_ne!(env.profile("home"), home_before);
}

fn webhook() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut len = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let mut conn = conn;
        conn.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
        tx.send(String::from_utf8(body).unwrap()).unwrap();
    });
    (url, rx)
}

#[test]
fn a_dead_login_ends_in_needs_login_and_is_announced() {
    let env = Env::new();
    let cache = env.root.join("sso");
    aws_cache_file(
        &cache,
        "corp",
        "perm.corp.0",
        &from_now(60),
        &from_now(86_400),
    );
    let out = env.run(&[
        "import",
        "aws-sso",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--profile",
        "corp",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let (hook, body) = webhook();
    let marker = env.root.join("notified");
    let cmd = format!(
        "printf '%s %s %s' \"$DEVAUTH_PROFILE\" \"$DEVAUTH_PREVIOUS_STATE\" \"$DEVAUTH_STATE\" > '{}'",
        marker.display()
    );
    let out = env.run(&[
        "agent",
        "--once",
        "--notify-command",
        &cmd,
        "--notify-webhook",
        &hook,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 need a new login"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("corp: new -> needs-login"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "corp  needs-login"
    );
    let event: serde_json::Value =
        serde_json::from_str(&body.recv_timeout(Duration::from_secs(30)).unwrap()).unwrap();
    assert_eq!(event["profile"], "corp");
    assert_eq!(event["state"], "needs-login");
    assert!(
        event["reason"].as_str().unwrap().contains("invalid_grant"),
        "{event}"
    );
    assert!(
        !event.to_string().contains("perm.corp"),
        "no token in events"
    );

    assert_eq!(env.profile("corp")["state"]["state"], "needs-login");
    let rec = env.record("corp").unwrap();
    assert_eq!(rec["state"], "needs-login");
    assert_eq!(rec["last_error_class"], "permanent");
    // `devauth token` fails fast with exit 3 instead of trying again
    let out = env.run(&["token", "--profile", "corp", "--min-ttl", "3600"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));

    // the agent does not try again either
    let requests = env.server.total();
    let out = env.run(&["agent", "--once"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(env.server.total(), requests);
}

/// Starts the agent and waits for a stderr line containing `wanted`.
fn start_agent(env: &Env, args: &[&str], wanted: &str) -> (Child, mpsc::Receiver<String>, String) {
    let mut child = env
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the agent starts");
        if line.contains(wanted) {
            break line;
        }
    };
    (child, rx, line)
}

fn http_get(addr: &str, path: &str) -> String {
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    write!(conn, "GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).unwrap();
    out
}

fn sigterm_and_wait(child: &mut Child) -> std::process::ExitStatus {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("the agent did not stop on SIGTERM");
}

#[test]
fn listen_serves_health_and_metrics_and_sigterm_stops_cleanly() {
    let env = Env::new();
    let cache = env.root.join("sso");
    aws_cache_file(
        &cache,
        "lab",
        "ok.lab.0",
        &from_now(7200),
        &from_now(86_400),
    );
    assert!(
        env.run(&["import", "aws-sso", "--cache-dir", cache.to_str().unwrap()])
            .status
            .success()
    );

    let (mut child, _lines, line) = start_agent(
        &env,
        &["agent", "--listen", "127.0.0.1:0", "--interval", "1"],
        "listening on http://",
    );
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let health = http_get(&addr, "/healthz");
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok\n"),
        "{health}"
    );
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = http_get(&addr, "/metrics");
        if metrics.contains("devauth_agent_passes_total 1")
            || metrics.contains("devauth_agent_passes_total 2")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        metrics.contains("devauth_agent_token_expiry_seconds{profile=\"default\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("devauth_agent_refresh_failures_total{class=\"temporary\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("devauth_agent_profiles{state=\"active\"} 1"),
        "{metrics}"
    );
    assert!(http_get(&addr, "/nope").starts_with("HTTP/1.1 404"));

    let status = sigterm_and_wait(&mut child);
    assert!(status.success(), "{status}");
    assert_eq!(env.server.total(), 0, "a fresh token is not refreshed");
    let leftovers: Vec<_> = std::fs::read_dir(env.devauth_home.join("profiles"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no half-written file: {leftovers:?}");
}

#[test]
fn watch_heals_a_needs_login_profile_after_a_new_login() {
    let env = Env::new();
    create_kiro_db(&env.kiro_db());
    put_auth(
        &env.kiro_db(),
        "kirocli:social:token",
        &social_token(Casing::Snake, "perm.w.0", &from_now(60)),
    );
    assert!(env.run(&["import", "kiro-cli"]).status.success());

    let (mut child, lines, _) = start_agent(
        &env,
        &["agent", "--watch", "--interval", "3600"],
        "default: new -> needs-login",
    );
    // the person logs in to kiro-cli again
    put_auth(
        &env.kiro_db(),
        "kirocli:social:token",
        &social_token(Casing::Snake, "ok.w2.0", &from_now(7200)),
    );
    let healed = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the agent notices the new login");
        if line.contains("needs-login -> active") {
            break line;
        }
    };
    assert!(healed.contains("a new login was found"), "{healed}");
    let status = sigterm_and_wait(&mut child);
    assert!(status.success());
    assert_eq!(env.profile("default")["state"]["state"], "active");
    assert_eq!(env.profile("default")["tokens"]["refresh_token"], "ok.w2.0");
    assert_eq!(env.record("default").unwrap()["state"], "active");
}

/// The binary under test.
fn bin() -> PathBuf {
    crate::devauth_bin()
}

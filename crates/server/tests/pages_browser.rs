//! End to end in a real headless Chromium: the person's side of the device
//! flow (`tests/browser/approve.mjs`, driven by playwright-core) against a
//! real server, while the test plays the device.
//!
//! Needs `/usr/bin/chromium` (or `DEVAUTH_CHROMIUM`), `node`, and
//! `node_modules/playwright-core` (run `npm ci` at the workspace root).
//! Without them the tests print why and pass, unless
//! `DEVAUTH_REQUIRE_SERVICES=1`, when they fail.

#[expect(dead_code, reason = "each test file uses part of the shared harness")]
mod pages_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use devauth_server::model::DeviceGrantState;
use pages_support::TestServer;

/// The longest the browser script may run before it is killed.
const SCRIPT_LIMIT: Duration = Duration::from_secs(120);

struct Tools {
    node: PathBuf,
    script: PathBuf,
    workspace: PathBuf,
}

/// The tools, or `None` after printing why the test is skipped.
fn tools() -> Option<Tools> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let chromium = std::env::var_os("DEVAUTH_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let node = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("node"))
            .find(|p| p.is_file())
    });
    let missing = if !chromium.is_file() {
        Some(format!("no Chromium at {}", chromium.display()))
    } else if node.is_none() {
        Some("no `node` on PATH".to_owned())
    } else if !workspace.join("node_modules/playwright-core").is_dir() {
        Some("no node_modules/playwright-core (run `npm ci`)".to_owned())
    } else {
        None
    };
    if let Some(why) = missing {
        if std::env::var("DEVAUTH_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("browser test cannot run: {why}");
        }
        eprintln!("SKIPPED: browser test: {why}");
        return None;
    }
    Some(Tools {
        node: node?,
        script: workspace.join("tests/browser/approve.mjs"),
        workspace,
    })
}

/// Runs the browser script to its end (bounded) and returns its JSON line.
fn run_script(tools: &Tools, args: &[&str]) -> String {
    let mut child = Command::new(&tools.node)
        .arg(&tools.script)
        .args(args)
        .current_dir(&tools.workspace)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait for node").is_some() {
            break;
        }
        if started.elapsed() > SCRIPT_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("browser script ran past {SCRIPT_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("node output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "browser script failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn server() -> TestServer {
    let s = TestServer::start();
    s.add_client("devauth-cli", "devauth command line", &[], "");
    s.add_user("alice", "correct horse battery staple");
    s
}

#[test]
fn chromium_approves_a_device() {
    let Some(tools) = tools() else { return };
    let s = server();
    s.add_grant("devauth-cli", "BCDFGHJK");
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("devauth-confirm-page.png");
    let out = run_script(
        &tools,
        &[
            &format!("{}/device", s.base),
            "bcdf-ghjk",
            "alice",
            "correct horse battery staple",
            "approve",
            shot.to_str().expect("utf-8 path"),
        ],
    );
    assert!(out.contains("\"result\":\"approved\""), "{out}");
    match s.grant("BCDFGHJK").state {
        DeviceGrantState::Approved { user_id, .. } => assert_eq!(user_id, "u-alice"),
        other => panic!("grant is {other:?}"),
    }
    assert!(shot.is_file(), "no screenshot at {}", shot.display());
    eprintln!("confirm page screenshot: {}", shot.display());
}

#[test]
fn chromium_denies_a_device() {
    let Some(tools) = tools() else { return };
    let s = server();
    s.add_grant("devauth-cli", "CDFGHJKL");
    let out = run_script(
        &tools,
        &[
            &format!("{}/device", s.base),
            "CDFG-HJKL",
            "alice",
            "correct horse battery staple",
            "deny",
        ],
    );
    assert!(out.contains("\"result\":\"denied\""), "{out}");
    assert!(matches!(
        s.grant("CDFGHJKL").state,
        DeviceGrantState::Denied { .. }
    ));
}

//! `devauth login --web`: loopback redirect + PKCE with a stand-in browser
//! ($BROWSER = a script that follows the redirects with curl), the fallback
//! to the device flow when no browser can open, and Ctrl-C.

use crate::client_support;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use client_support::{Config, Poll, Server, devauth, run};

#[test]
fn web_login_with_pkce_through_a_browser() {
    // curl plays the browser.
    let ok = devauth_testkit::runs_ok("curl", &["--version"]);
    if !devauth_testkit::require_service("curl", (!ok).then_some("it is not installed")) {
        return;
    }
    let server = Server::start(Config::default());
    let home = tempfile::tempdir().unwrap();
    let browser = home.path().join("browser.sh");
    std::fs::write(
        &browser,
        "#!/bin/sh\ncurl -s -L --max-time 20 -o /dev/null \"$1\" &\n",
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, _, err) = run(devauth(home.path())
        .args(["login", "--web", "--issuer", &server.url])
        .env("BROWSER", &browser));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("Logged in to") && err.contains("as alice"),
        "{err}"
    );
    assert_eq!(server.seen_grant("authorization_code").len(), 1);
    assert!(
        server
            .seen_grant("urn:ietf:params:oauth:grant-type:device_code")
            .is_empty()
    );
    let (code, tok, _) = run(devauth(home.path()).arg("token"));
    assert_eq!(code, 0);
    assert!(server.is_valid_access(tok.trim()));
}

#[test]
fn web_falls_back_to_the_device_flow_without_a_browser() {
    let server = Server::start(Config::default());
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = run(devauth(home.path())
        .args(["login", "--web", "--issuer", &server.url])
        .env("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("SSH session"), "{err}");
    assert!(err.contains("using the device flow instead"), "{err}");
    assert_eq!(
        server
            .seen_grant("urn:ietf:params:oauth:grant-type:device_code")
            .len(),
        1
    );
}

#[test]
fn ctrl_c_stops_login_cleanly() {
    let server = Server::start(Config {
        polls: vec![Poll::Pending; 100],
        ..Default::default()
    });
    let home = tempfile::tempdir().unwrap();
    let child = devauth(home.path())
        .args(["login", "--issuer", &server.url])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // wait until it polls, then interrupt
    for _ in 0..100 {
        if !server.poll_offsets().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!server.poll_offsets().is_empty(), "login never polled");
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("Interrupted"), "{err}");
    assert!(!home.path().join("profiles/default.json").exists());
}

//! Many `devauth token` processes at once, and processes killed mid-write:
//! the lock makes exactly one refresh happen, and the atomic write keeps the
//! file parseable whatever happens.

use crate::client_support;

use std::process::Stdio;
use std::time::Duration;

use client_support::{Config, Server, devauth, expire_access_token, login, profile_file, run};

#[test]
fn twenty_processes_one_refresh() {
    let server = Server::start(Config {
        rotate: true,
        refresh_delay: Duration::from_millis(300),
        ..Default::default()
    });
    let home = tempfile::tempdir().unwrap();
    login(home.path(), &server);
    expire_access_token(home.path(), "default");

    let children: Vec<_> = (0..20)
        .map(|_| {
            devauth(home.path())
                .arg("token")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outputs {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let token = String::from_utf8_lossy(&o.stdout);
        assert!(server.is_valid_access(token.trim()), "{token}");
    }
    assert_eq!(server.refreshes(), 1, "exactly one refresh");
    assert_eq!(server.seen_grant("refresh_token").len(), 1);
    assert!(!server.family_revoked(), "no refresh token was reused");
}

#[test]
fn kill_9_during_refreshes_never_leaves_a_broken_file() {
    let server = Server::start(Config {
        rotate: false,
        ..Default::default()
    });
    let home = tempfile::tempdir().unwrap();
    login(home.path(), &server);
    for i in 0..40u64 {
        // --min-ttl beyond the token's life: every run refreshes and writes
        let mut child = devauth(home.path())
            .args(["token", "--min-ttl", "100000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis((i * 7) % 80));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let v = profile_file(home.path(), "default");
        assert!(
            v["tokens"]["access_token"].is_string(),
            "iteration {i}: {v}"
        );
    }
    assert!(server.refreshes() > 0, "some runs got as far as refreshing");
    let (code, _, err) = run(devauth(home.path()).args(["status", "--json"]));
    assert_eq!(code, 0, "{err}");
    let (code, tok, _) = run(devauth(home.path()).arg("token"));
    assert_eq!(code, 0);
    assert!(server.is_valid_access(tok.trim()));
}

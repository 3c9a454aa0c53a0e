//! `devauth token`, `status`, `run`, `logout`, `profiles` and the
//! non-interactive logins, with the real binary and a temp DEVAUTH_HOME.

use crate::client_support;

use std::os::unix::fs::PermissionsExt as _;

use client_support::{Config, Server, devauth, expire_access_token, login, profile_file, run};
use serde_json::Value;

#[test]
fn login_token_status_run_logout_with_revocation() {
    let server = Server::start(Config::default());
    let home = tempfile::tempdir().unwrap();
    login(home.path(), &server);

    let (code, token, err) = run(devauth(home.path()).arg("token"));
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_owned();
    assert!(server.is_valid_access(&token), "{token}");
    assert!(err.is_empty(), "token prints nothing else: {err}");

    let (code, status, _) = run(devauth(home.path()).args(["status", "--json"]));
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["logged_in"], true);
    assert_eq!(v["state"], "active");
    assert_eq!(v["issuer"], server.url.as_str());
    assert_eq!(v["account"], "alice");
    assert_eq!(v["subject"], "user-1");
    assert_eq!(v["client_id"], "devauth-cli");
    assert_eq!(v["refresh_token"], "ok");
    assert_eq!(v["access_token"]["valid"], true);
    assert_eq!(v["store"]["backend"], "file");
    assert!(!status.contains(&token), "status never shows a token");
    let (code, text, _) = run(devauth(home.path()).arg("status"));
    assert_eq!(code, 0);
    assert!(text.contains("alice") && text.contains("file"), "{text}");
    assert!(!text.contains(&token));

    let (code, out, _) = run(devauth(home.path()).args([
        "run",
        "--env",
        "MY_TOKEN",
        "--",
        "sh",
        "-c",
        "printf %s \"$MY_TOKEN\"; exit 7",
    ]));
    assert_eq!(code, 7, "run exits with the child's code");
    assert_eq!(out, token);

    let (code, out, _) = run(devauth(home.path()).args(["profiles", "--json"]));
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["profiles"][0]["profile"], "default");
    assert_eq!(v["profiles"][0]["current"], true);

    let refresh = profile_file(home.path(), "default")["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, _, err) = run(devauth(home.path()).arg("logout"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("revoked"), "{err}");
    let revoked = server.revoked();
    assert!(
        revoked.contains(&refresh) && revoked.contains(&token),
        "{revoked:?}"
    );
    assert!(!server.is_valid_access(&token));
    assert!(!home.path().join("profiles/default.json").exists());

    let (code, _, err) = run(devauth(home.path()).arg("token"));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("devauth login"), "{err}");
    let (code, out, _) = run(devauth(home.path()).args(["status", "--json"]));
    assert_eq!(code, 3);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["logged_in"],
        false
    );
}

#[test]
fn logout_no_revoke_leaves_the_server_alone() {
    let server = Server::start(Config::default());
    let home = tempfile::tempdir().unwrap();
    login(home.path(), &server);
    let (code, _, _) = run(devauth(home.path()).args(["logout", "--no-revoke"]));
    assert_eq!(code, 0);
    assert!(server.revoked().is_empty());
    assert!(!home.path().join("profiles/default.json").exists());
}

#[test]
fn expired_access_token_is_refreshed_once() {
    let server = Server::start(Config::default());
    let home = tempfile::tempdir().unwrap();
    login(home.path(), &server);
    expire_access_token(home.path(), "default");
    let (code, t1, err) = run(devauth(home.path()).arg("token"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.refreshes(), 1);
    let (_, t2, _) = run(devauth(home.path()).arg("token"));
    assert_eq!(t1, t2, "a fresh token is reused");
    assert_eq!(server.refreshes(), 1);
    assert!(server.is_valid_access(t1.trim()));
    // --min-ttl longer than the token lives forces a refresh
    let (_, t3, _) = run(devauth(home.path()).args(["token", "--min-ttl", "7200"]));
    assert_ne!(t1, t3);
    assert_eq!(server.refreshes(), 2);
}

#[test]
fn rejected_refresh_token_means_needs_login_exit_3_not_retried() {
    let server = Server::start(Config::default());
    let home = tempfile::tempdir().unwrap();
    login(home.path(), &server);
    expire_access_token(home.path(), "default");
    server.revoke_family();
    for _ in 0..2 {
        let (code, out, err) = run(devauth(home.path()).arg("token"));
        assert_eq!(code, 3, "{err}");
        assert!(out.is_empty());
        assert!(err.contains("devauth login"), "{err}");
    }
    assert_eq!(
        server.seen_grant("refresh_token").len(),
        1,
        "a rejected refresh token is not retried"
    );
    let (code, out, _) = run(devauth(home.path()).args(["status", "--json"]));
    assert_eq!(code, 3);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["state"], "needs-login");
    assert_eq!(v["refresh_token"], "rejected");
    // Even with an access token whose expiry lies ahead, the text view
    // agrees with --json and `token`: nothing here is usable.
    let path = home.path().join("profiles").join("default.json");
    let mut p = profile_file(home.path(), "default");
    p["tokens"]["expires_at"] = "2099-01-01T00:00:00Z".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&p).unwrap()).unwrap();
    let (code, out, _) = run(devauth(home.path()).arg("status"));
    assert_eq!(code, 3);
    let access = out
        .lines()
        .find(|l| l.starts_with("Access token:"))
        .unwrap();
    assert!(access.contains("unusable"), "{out}");
    assert!(!out.contains("valid for"), "{out}");
    let (_, out, _) = run(devauth(home.path()).args(["status", "--json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["access_token"]["valid"], false);
    let (code, _, _) = run(devauth(home.path()).args(["run", "--", "true"]));
    assert_eq!(code, 3);
    // a new login clears the state
    login(home.path(), &server);
    let (code, _, _) = run(devauth(home.path()).arg("token"));
    assert_eq!(code, 0);
}

#[test]
fn devauth_token_env_short_circuits_the_store() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("never-created");
    let (code, out, _) = run(devauth(&missing)
        .arg("token")
        .env("DEVAUTH_TOKEN", "ci-token"));
    assert_eq!((code, out.as_str()), (0, "ci-token\n"));
    let (code, out, _) = run(devauth(&missing)
        .args(["run", "--", "sh", "-c", "printf %s \"$DEVAUTH_TOKEN\""])
        .env("DEVAUTH_TOKEN", "ci-token"));
    assert_eq!((code, out.as_str()), (0, "ci-token"));
    assert!(!missing.exists(), "no store was touched");
}

#[test]
fn with_token_raw_and_json() {
    let home = tempfile::tempdir().unwrap();
    let out = devauth_testkit::run_with_stdin(
        devauth(home.path()).args(["login", "--with-token", "--profile", "ci"]),
        b"raw-token-123\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("raw-token-123"));
    let (code, tok, _) = run(devauth(home.path()).args(["token", "--profile", "ci"]));
    assert_eq!((code, tok.as_str()), (0, "raw-token-123\n"));

    // a JSON token response with a refresh token and a token endpoint: refreshable
    let server = Server::start(Config::default());
    login(home.path(), &server); // gives the server a live refresh token
    let rt = profile_file(home.path(), "default")["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let json = format!(r#"{{"access_token":"old","expires_in":0,"refresh_token":"{rt}"}}"#);
    let tmp = home.path().join("in.json");
    std::fs::write(&tmp, json).unwrap();
    let (code, _, err) = run(devauth(home.path())
        .args([
            "login",
            "--with-token",
            "--profile",
            "j",
            "--client-id",
            "devauth-cli",
        ])
        .args(["--token-endpoint", &format!("{}/token", server.url)])
        .stdin(std::fs::File::open(&tmp).unwrap()));
    assert_eq!(code, 0, "{err}");
    let (code, tok, err) = run(devauth(home.path()).args(["token", "--profile", "j"]));
    assert_eq!(code, 0, "{err}");
    assert!(server.is_valid_access(tok.trim()));

    // empty stdin is refused
    let (code, _, err) = run(devauth(home.path()).args(["login", "--with-token"]));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn client_credentials_from_env_and_stdin() {
    let server = Server::start(Config {
        confidential: Some(("svc".into(), "s3cret-value".into())),
        ..Default::default()
    });
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = run(devauth(home.path())
        .args([
            "login",
            "--client-credentials",
            "--client-id",
            "svc",
            "--issuer",
            &server.url,
        ])
        .env("DEVAUTH_CLIENT_SECRET", "s3cret-value"));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("s3cret") && !err.contains("s3cret"));
    let (code, tok, _) = run(devauth(home.path()).arg("token"));
    assert_eq!(code, 0);
    assert!(server.is_valid_access(tok.trim()));
    // expired: a new client_credentials grant, not a refresh
    expire_access_token(home.path(), "default");
    let (code, tok2, _) = run(devauth(home.path()).arg("token"));
    assert_eq!(code, 0);
    assert_ne!(tok, tok2);
    assert_eq!(server.seen_grant("client_credentials").len(), 2);

    // secret on stdin
    let secret = home.path().join("secret");
    std::fs::write(&secret, "s3cret-value\n").unwrap();
    let (code, _, err) = run(devauth(home.path())
        .args([
            "login",
            "--client-credentials",
            "--client-id",
            "svc",
            "--issuer",
            &server.url,
            "--profile",
            "b",
        ])
        .stdin(std::fs::File::open(&secret).unwrap()));
    assert_eq!(code, 0, "{err}");

    // a wrong secret is refused, and not echoed
    let (code, _, err) = run(devauth(home.path())
        .args([
            "login",
            "--client-credentials",
            "--client-id",
            "svc",
            "--issuer",
            &server.url,
            "--profile",
            "c",
        ])
        .env("DEVAUTH_CLIENT_SECRET", "wrong-secret-xyz"));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("invalid_client") && !err.contains("wrong-secret-xyz"),
        "{err}"
    );
    // a secret flag does not exist
    let (code, _, _) = run(devauth(home.path()).args([
        "login",
        "--client-credentials",
        "--client-id",
        "svc",
        "--client-secret",
        "x",
    ]));
    assert_eq!(code, 2);
}

#[test]
fn files_are_0600_in_a_0700_folder() {
    let server = Server::start(Config::default());
    let home = tempfile::tempdir().unwrap();
    let home = home.path().join("devauth-home");
    login(&home, &server);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&home.join("profiles")), 0o700);
    assert_eq!(mode(&home.join("profiles/default.json")), 0o600);
    assert_eq!(mode(&home.join("profiles/default.lock")), 0o600);
}

/// Without a session bus, a forced keyring is one clear error and nothing
/// is written (client_keyring.rs tests a real Secret Service).
#[test]
fn keyring_store_is_refused_clearly_without_a_session_bus() {
    let home = tempfile::tempdir().unwrap();
    let input = home.path().join("in.txt");
    std::fs::write(&input, "raw-token-kr\n").unwrap();
    let (code, _, err) = run(devauth(home.path())
        .args(["login", "--with-token"])
        .env("DEVAUTH_STORE", "keyring")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(std::fs::File::open(&input).unwrap()));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("OS keyring") && err.contains("DEVAUTH_STORE=file"),
        "{err}"
    );
    assert!(!home.path().join("profiles/default.json").exists());
}

#[test]
fn invalid_profile_names_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = run(devauth(home.path()).args(["token", "--profile", "../etc"]));
    assert_eq!(code, 2, "{err}");
}

/// A flag that means something only beside another is refused without it,
/// not silently ignored; nothing is contacted or stored.
#[test]
fn flags_that_need_a_companion_are_usage_errors_without_it() {
    let home = tempfile::tempdir().unwrap();
    for (args, needs) in [
        (
            &["login", "--issuer", "http://127.0.0.1:9", "--no-browser"][..],
            "--web",
        ),
        (&["agent", "--json"][..], "--once"),
    ] {
        let (code, out, err) = run(devauth(home.path()).args(args));
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}: {err}");
        assert!(err.contains(needs), "{args:?}: {err}");
    }
    assert!(!home.path().join("profiles").exists());
}

/// The documented `status --json` / `profiles --json` shapes (docs/troubleshooting.md).
#[test]
fn json_shapes_are_the_documented_ones() {
    let server = Server::start(Config::default());
    let home = tempfile::tempdir().unwrap();
    login(home.path(), &server);
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let (_, out, _) = run(devauth(home.path()).args(["status", "--json"]));
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        keys(&status),
        [
            "access_token",
            "account",
            "agent",
            "client_id",
            "issuer",
            "logged_in",
            "needs_login_reason",
            "needs_login_since",
            "profile",
            "refresh_token",
            "scopes",
            "source",
            "state",
            "store",
            "subject",
            "updated_at"
        ]
    );
    assert_eq!(
        keys(&status["access_token"]),
        ["expires_at", "expires_in", "valid"]
    );
    assert_eq!(keys(&status["store"]), ["backend", "path"]);
    assert_eq!(status["source"], "device_code");
    assert!(status["access_token"]["expires_in"].as_u64().unwrap() > 3000);

    let (_, out, _) = run(devauth(home.path()).args(["profiles", "--json"]));
    let profiles: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(keys(&profiles), ["current", "profiles", "store"]);
    let mut entry = profiles["profiles"][0].clone();
    assert_eq!(entry["current"], true);
    entry.as_object_mut().unwrap().remove("current");
    assert_eq!(keys(&entry), keys(&status));

    let (code, out, _) = run(devauth(home.path()).args(["status", "--json", "--profile", "none"]));
    assert_eq!(code, 3);
    let missing: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(keys(&missing), ["logged_in", "profile", "state", "store"]);
    assert_eq!(missing["state"], "not-logged-in");
}

/// `DEVAUTH_LOG=debug` shows the HTTP exchanges of login and refresh — URLs,
/// grant types, statuses, OAuth error codes — and never a token or a code.
#[test]
fn debug_logs_show_the_exchange_but_no_secret() {
    let server = Server::start(Config::default());
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = run(devauth(home.path())
        .args(["login", "--issuer", &server.url])
        .env("DEVAUTH_LOG", "debug"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("devauth::http"), "no debug log: {err}");
    assert!(err.contains("device_code"), "grant type not logged: {err}");
    expire_access_token(home.path(), "default");
    let before = profile_file(home.path(), "default");
    let (code, token, err2) = run(devauth(home.path())
        .arg("token")
        .env("DEVAUTH_LOG", "debug"));
    assert_eq!(code, 0, "{err2}");
    assert!(err2.contains("refresh_token"), "refresh not logged: {err2}");
    let after = profile_file(home.path(), "default");
    let logs = format!("{err}{err2}");
    for secret in [
        token.trim(),
        before["tokens"]["access_token"].as_str().unwrap(),
        before["tokens"]["refresh_token"].as_str().unwrap(),
        after["tokens"]["refresh_token"].as_str().unwrap(),
    ] {
        assert!(!secret.is_empty());
        assert!(!logs.contains(secret), "a secret reached the log: {logs}");
    }
}

#[test]
fn first_hour_login_again_logout_offline_status_env_and_run_env_names() {
    let home = tempfile::tempdir().unwrap();
    let server = Server::start(Config::default());
    login(home.path(), &server);

    // `devauth login` on an existing profile logs in again where it did.
    let (code, _, err) = run(devauth(home.path()).arg("login"));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("Logging in again to {}", server.url)),
        "{err}"
    );

    // DEVAUTH_TOKEN is what token and run use: status says so.
    let (code, out, _) = run(devauth(home.path()).arg("status").env("DEVAUTH_TOKEN", "t"));
    assert_eq!(code, 0);
    assert!(out.contains("DEVAUTH_TOKEN"), "{out}");
    let (code, out, _) = run(devauth(home.path())
        .args(["status", "--json"])
        .env("DEVAUTH_TOKEN", "t"));
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["source"], "DEVAUTH_TOKEN");

    // run --env takes variable names only, and keeps PATH-like ones unless forced.
    for bad in ["1X", "A-B", "", "X Y"] {
        let (code, _, err) = run(devauth(home.path()).args(["run", "--env", bad, "--", "true"]));
        assert_eq!(code, 2, "{bad:?}: {err}");
    }
    let (code, _, err) = run(devauth(home.path()).args(["run", "--env", "PATH", "--", "true"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--force"), "{err}");
    let (code, _, _) = run(devauth(home.path()).args(["run", "--env", "MY_TOKEN_2", "--", "true"]));
    assert_eq!(code, 0);

    // Logout with the server unreachable keeps the only copy and says how to forget it.
    let path = home.path().join("profiles").join("default.json");
    let mut p = profile_file(home.path(), "default");
    p["endpoints"]["revocation"] = "http://127.0.0.1:1/revoke".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&p).unwrap()).unwrap();
    let (code, _, err) = run(devauth(home.path()).arg("logout"));
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("--no-revoke"), "{err}");
    assert!(path.exists(), "the credential was kept");
    let (code, _, _) = run(devauth(home.path()).args(["logout", "--no-revoke"]));
    assert_eq!(code, 0);
    assert!(!path.exists());
}

#[test]
fn version_only_at_the_top_and_help_mentions_devauth_token() {
    let home = tempfile::tempdir().unwrap();
    let (code, out, _) = run(devauth(home.path()).arg("--version"));
    assert_eq!(code, 0);
    assert!(out.starts_with("devauth "), "{out}");
    let (code, _, _) = run(devauth(home.path()).args(["token", "--version"]));
    assert_eq!(code, 2, "--version belongs to devauth itself");
    for verb in ["token", "run"] {
        let (code, out, _) = run(devauth(home.path()).args([verb, "--help"]));
        assert_eq!(code, 0);
        assert!(out.contains("DEVAUTH_TOKEN"), "{verb} --help: {out}");
    }
}

#[test]
fn profile_is_a_flag_of_the_client_commands_only() {
    let home = tempfile::tempdir().unwrap();
    let client: [&[&str]; 11] = [
        &["login"],
        &["token"],
        &["status"],
        &["logout"],
        &["run"],
        &["profiles"],
        &["import", "kiro-cli"],
        &["agent"],
        &["git-credential"],
        &["kubectl-credential"],
        &["mcp", "login"],
    ];
    for verb in client {
        let (code, out, _) = run(devauth(home.path()).args(verb).arg("--help"));
        assert_eq!(code, 0);
        assert!(out.contains("--profile <NAME>"), "{verb:?} --help: {out}");
        assert!(out.contains("DEVAUTH_PROFILE"), "{verb:?} --help: {out}");
    }
    let server: [&[&str]; 5] = [
        &["serve"],
        &["admin"],
        &["admin", "user"],
        &["guard"],
        &["completions"],
    ];
    for verb in server {
        let (code, out, _) = run(devauth(home.path()).args(verb).arg("--help"));
        assert_eq!(code, 0);
        assert!(!out.contains("--profile"), "{verb:?} --help: {out}");
    }
    // after a nested verb too, as git and kubectl configurations write it
    let (code, _, err) =
        run(devauth(home.path()).args(["git-credential", "get", "--profile", "p"]));
    assert_ne!(code, 2, "{err}");
}

#[test]
fn listings_align_show_dashes_and_whole_seconds_and_logout_leaves_no_lock() {
    let home = tempfile::tempdir().unwrap();
    let with_token = |profile: &str| {
        let mut cmd = devauth(home.path());
        let out = devauth_testkit::run_with_stdin(
            cmd.args(["login", "--with-token", "--profile", profile]),
            br#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#,
        );
        assert!(out.status.success(), "{out:?}");
    };
    with_token("default");
    with_token("a-profile-name-longer-than-sixteen");
    let (code, out, _) = run(devauth(home.path()).arg("profiles"));
    assert_eq!(code, 0);
    // Every row's STATE column starts where the header's does.
    let at = out.lines().next().unwrap().find("STATE").unwrap();
    for line in out.lines().skip(1) {
        assert_eq!(line.get(at..at + 6), Some("active"), "{out}");
    }
    let (_, out, _) = run(devauth(home.path()).arg("status"));
    assert!(out.contains("Scopes:         -\n"), "{out}");
    let until = out.split("(until ").nth(1).unwrap();
    // `2026-12-05T19:39:51Z)`: no fraction after the seconds.
    assert_eq!(until.get(19..21), Some("Z)"), "whole seconds: {out}");
    let (_, out, _) = run(devauth(home.path()).args(["status", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["access_token"]["expires_at"].as_str().unwrap().len(),
        20,
        "{v}"
    );
    let (code, _, _) = run(devauth(home.path()).arg("logout"));
    assert_eq!(code, 0);
    let left: Vec<String> = std::fs::read_dir(home.path().join("profiles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("default"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

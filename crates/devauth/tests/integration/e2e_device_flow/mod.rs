//! End to end against our own server: the real `devauth serve --demo`
//! (SQLite in a temp folder, ephemeral port, short-lived access tokens), the
//! real `devauth login` polling while headless Chromium approves or denies
//! on the real verification pages, then `token` (with refresh and rotation),
//! `status`, `run` and `logout`, each checked at the server through
//! `/oauth/userinfo` and `/oauth/introspect`.
//!
//! Skips (printing why) without Chromium, node or playwright-core, unless
//! `DEVAUTH_REQUIRE_SERVICES=1`. Every wait is bounded; every child process
//! is killed when a test fails.

mod guard;
mod mcp_sdk;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::e2e_support::command::{self, client};
use crate::e2e_support::http;
use crate::e2e_support::jwt;
use crate::e2e_support::login::Login;
use crate::e2e_support::server::Server;
use devauth_testkit::{Browser, Choice};
use serde_json::Value;

/// Lifetime of the server's access tokens, seconds: short, so that the test
/// sees one expire, and longer than [`MARGIN`].
const ACCESS_TTL: u32 = 20;
/// `--min-ttl` for tokens the test goes on to use: each is good for at least
/// this long when printed, so checking it at the server right away is safe.
const MARGIN: &str = "15";
/// The scopes asked for; `profile` puts the user name in the ID token and userinfo.
const SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

fn profile_path(home: &Path) -> PathBuf {
    home.join("profiles").join("default.json")
}

/// The stored credential file.
fn stored(home: &Path) -> Value {
    let text = std::fs::read_to_string(profile_path(home)).expect("the credential file");
    serde_json::from_str(&text).expect("the credential file is JSON")
}

fn stored_token(home: &Path, which: &str) -> String {
    stored(home)["tokens"][which]
        .as_str()
        .unwrap_or_else(|| panic!("no {which} in the credential file"))
        .to_owned()
}

/// `devauth token --min-ttl S`, which must succeed and print one token.
fn token(home: &Path, min_ttl: &str) -> String {
    let out = command::run(client(home).args(["token", "--min-ttl", min_ttl]));
    assert_eq!(out.code, 0, "devauth token: {}", out.stderr);
    assert!(
        out.stderr.is_empty(),
        "token prints only the token: {}",
        out.stderr
    );
    let token = out.stdout.trim_end_matches('\n');
    assert!(
        !token.is_empty() && !token.contains(char::is_whitespace),
        "token prints one token"
    );
    token.to_owned()
}

fn status_json(home: &Path) -> (i32, Value) {
    let out = command::run(client(home).args(["status", "--json"]));
    let v = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {}", out.stdout));
    (out.code, v)
}

/// Waits (bounded) until `ready` holds, polling every half second.
fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn active(introspection: &Value) -> bool {
    introspection["active"]
        .as_bool()
        .unwrap_or_else(|| panic!("introspection without `active`: {introspection}"))
}

/// Logs in as `demo` through the browser; returns the login's stderr.
fn login_approved(browser: &Browser, server: &Server, home: &Path) -> String {
    let mut login = Login::start(home, &server.url, &SCOPES);
    let screen = login.screen();
    assert_eq!(screen.verification_uri, format!("{}/device", server.url));
    browser.decide(
        &screen.verification_uri,
        &screen.user_code,
        "demo",
        &server.demo_password,
        Choice::Approve,
    );
    let ended = login.wait();
    assert!(
        ended.status.success(),
        "login after approval: {}\n{}\nserver log:\n{}",
        ended.status,
        ended.stderr,
        server.log()
    );
    assert!(ended.stdout.is_empty(), "login keeps stdout for data");
    assert!(
        ended
            .stderr
            .contains(&format!("Logged in to {} as demo", server.url)),
        "login says who is logged in: {}",
        ended.stderr
    );
    ended.stderr
}

#[test]
fn login_in_chromium_then_token_refresh_status_run_and_logout_with_revocation() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let server = Server::start(ACCESS_TTL);
    let home = tempfile::tempdir().expect("temp DEVAUTH_HOME");
    let home = home.path();

    // 1. Login, approved by the person in Chromium.
    let login_output = login_approved(&browser, &server, home);
    let mode = std::fs::metadata(profile_path(home))
        .expect("credential file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the credential file is private");
    let first_access = stored_token(home, "access_token");
    let first_refresh = stored_token(home, "refresh_token");
    assert!(
        !login_output.contains(&first_access) && !login_output.contains(&first_refresh),
        "login printed a token"
    );

    // 2. `token` prints the stored JWT; the server accepts it.
    let t1 = token(home, MARGIN);
    assert!(t1 == first_access, "a fresh token is served from the store");
    let header = jwt::header(&t1);
    assert_eq!(header["typ"], "at+jwt", "{header}");
    let claims = jwt::claims(&t1);
    assert_eq!(claims["iss"], server.url.as_str(), "{claims}");
    assert_eq!(claims["client_id"], "devauth-cli", "{claims}");
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        i64::from(ACCESS_TTL),
        "the server's --access-token-ttl: {claims}"
    );
    let info = http::userinfo(&server.url, &t1);
    assert_eq!(info.status, 200, "userinfo: {}", info.body);
    let info = info.json();
    assert_eq!(info["sub"], claims["sub"], "{info}");
    assert_eq!(info["preferred_username"], "demo", "{info}");
    let seen = server.introspect(&t1);
    assert!(active(&seen), "{seen}");
    assert_eq!(seen["username"], "demo", "{seen}");
    assert!(
        token(home, "0") == t1,
        "a second `token` serves the same stored token"
    );

    // 3. `status --json` shows the profile.
    let (code, status) = status_json(home);
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["profile"], "default", "{status}");
    assert_eq!(status["logged_in"], true, "{status}");
    assert_eq!(status["state"], "active", "{status}");
    assert_eq!(status["issuer"], server.url.as_str(), "{status}");
    assert_eq!(status["account"], "demo", "{status}");
    assert_eq!(status["subject"], claims["sub"], "{status}");
    assert_eq!(status["client_id"], "devauth-cli", "{status}");
    assert_eq!(status["source"], "device_code", "{status}");
    assert_eq!(status["refresh_token"], "ok", "{status}");
    assert_eq!(status["access_token"]["valid"], true, "{status}");
    assert!(
        status["access_token"]["expires_at"].is_string(),
        "an expiry: {status}"
    );
    let expires_in = status["access_token"]["expires_in"]
        .as_u64()
        .expect("expires_in");
    assert!(expires_in <= u64::from(ACCESS_TTL), "{status}");
    assert_eq!(status["store"]["backend"], "file", "{status}");
    assert_eq!(
        status["store"]["path"],
        profile_path(home).to_str().expect("utf-8 path"),
        "{status}"
    );
    for secret in [&first_access, &first_refresh] {
        assert!(
            !status.to_string().contains(secret.as_str()),
            "status shows a token"
        );
    }

    // 4. Forced refresh (--min-ttl beyond the token's whole life): a new
    // access token, and the refresh token rotated at the server.
    let t2 = token(home, "3600");
    assert!(t2 != t1, "--min-ttl 3600 refreshes");
    let second_refresh = stored_token(home, "refresh_token");
    assert!(second_refresh != first_refresh, "the refresh token rotated");
    let old = server.introspect(&first_refresh);
    assert!(!active(&old), "the used refresh token is inactive: {old}");
    let new = server.introspect(&second_refresh);
    assert!(active(&new), "the new refresh token is active: {new}");
    assert_eq!(new["token_type"], "refresh_token", "{new}");
    assert_eq!(http::userinfo(&server.url, &t2).status, 200);
    assert_eq!(
        jwt::claims(&t2)["sub"],
        claims["sub"],
        "the same person after refresh"
    );

    // 5. Natural expiry: once the stored token has expired, a plain
    // `token` refreshes by itself, and the server rejects the expired one.
    wait_until(
        "the stored access token expires",
        Duration::from_secs(u64::from(ACCESS_TTL) + 60),
        || status_json(home).1["access_token"]["valid"] == false,
    );
    let t3 = token(home, "0");
    assert!(t3 != t2, "an expired token is refreshed");
    let third_refresh = stored_token(home, "refresh_token");
    assert!(
        third_refresh != second_refresh,
        "the refresh token rotated again"
    );
    assert!(!active(&server.introspect(&second_refresh)));
    wait_until(
        "the server rejects the expired access token",
        Duration::from_secs(30),
        || http::userinfo(&server.url, &t2).status == 401,
    );
    assert!(!active(&server.introspect(&t2)), "expired is inactive");

    // 6. `run`: the child sees a valid token in its environment.
    let scratch = tempfile::tempdir().expect("temp folder");
    let seen_file = scratch.path().join("token-seen-by-child");
    let out = command::run(client(home).args([
        "run",
        "--min-ttl",
        MARGIN,
        "--",
        "sh",
        "-c",
        "test -n \"$DEVAUTH_TOKEN\" && printf %s \"$DEVAUTH_TOKEN\" > \"$1\"",
        "sh",
        seen_file.to_str().expect("utf-8 path"),
    ]));
    assert_eq!(out.code, 0, "devauth run: {}", out.stderr);
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "run adds no output"
    );
    let seen_by_child = std::fs::read_to_string(&seen_file).expect("the child wrote its token");
    assert!(
        seen_by_child == stored_token(home, "access_token"),
        "the child got the stored token"
    );
    assert!(
        token(home, "0") == seen_by_child,
        "`token` prints what the child saw"
    );
    assert_eq!(
        http::userinfo(&server.url, &seen_by_child).status,
        200,
        "the child's token works at the server"
    );

    // 7. `logout` revokes at the server, then forgets.
    let last_access = stored_token(home, "access_token");
    let last_refresh = stored_token(home, "refresh_token");
    assert!(active(&server.introspect(&last_refresh)));
    let out = command::run(client(home).arg("logout"));
    assert_eq!(out.code, 0, "logout: {}", out.stderr);
    assert!(
        out.stderr.contains("revoked at the server"),
        "logout says it revoked: {}",
        out.stderr
    );
    let after = server.introspect(&last_refresh);
    assert!(
        !active(&after),
        "the stored refresh token is revoked: {after}"
    );
    let after = server.introspect(&last_access);
    assert!(
        !active(&after),
        "the stored access token is revoked: {after}"
    );
    assert_eq!(http::userinfo(&server.url, &last_access).status, 401);
    assert!(!profile_path(home).exists(), "the credential file is gone");

    let out = command::run(client(home).arg("token"));
    assert_eq!(out.code, 3, "token after logout: {}", out.stderr);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("devauth login"),
        "says what to do: {}",
        out.stderr
    );
    let (code, status) = status_json(home);
    assert_eq!(code, 3, "{status}");
    assert_eq!(status["logged_in"], false, "{status}");
}

#[test]
fn login_denied_in_chromium_exits_4_and_stores_nothing() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let server = Server::start(ACCESS_TTL);
    let home = tempfile::tempdir().expect("temp DEVAUTH_HOME");
    let home = home.path();

    let mut login = Login::start(home, &server.url, &SCOPES);
    let screen = login.screen();
    browser.decide(
        &screen.verification_uri,
        &screen.user_code,
        "demo",
        &server.demo_password,
        Choice::Deny,
    );
    let ended = login.wait();
    assert_eq!(
        ended.status.code(),
        Some(4),
        "login after a denial: {}\nserver log:\n{}",
        ended.stderr,
        server.log()
    );
    assert!(ended.stdout.is_empty());
    let last = ended.stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("denied") && last.contains("devauth login"),
        "one clear sentence saying what happened and what to do: {}",
        ended.stderr
    );
    assert!(!profile_path(home).exists(), "nothing stored");
    let (code, status) = status_json(home);
    assert_eq!(code, 3, "{status}");
    assert_eq!(status["logged_in"], false, "{status}");
}

//! GitHub's device flow.

use std::time::Duration;

use super::stand_in::{self, Reply, Seen};
use crate::client_support::{devauth, expire_access_token, profile_file, run};

/// GitHub's device flow, answering polls (and refreshes) from `polls` in order.
fn github(polls: Vec<&'static str>) -> (String, Seen) {
    stand_in::start(move |req, n, base| {
        let wants_json = req.header("accept").contains("application/json");
        match req.path.as_str() {
            // GitHub's default answer is form-encoded.
            "/login/device/code" if !wants_json => Reply::new(
                200,
                "application/x-www-form-urlencoded",
                "device_code=dc&user_code=WDJB-MJHT",
            ),
            "/login/device/code" => Reply::json(
                200,
                format!(
                    r#"{{"device_code":"dc-gh","user_code":"WDJB-MJHT","verification_uri":"{base}/login/device","expires_in":900,"interval":1}}"#
                ),
            ),
            "/login/oauth/access_token" => {
                let answer = polls.get(n - 1).copied().unwrap_or(polls[polls.len() - 1]);
                Reply::json(200, answer)
            }
            _ => Reply::json(404, "{}"),
        }
    })
}

fn login(home: &std::path::Path, base: &str) -> (i32, String, String) {
    run(devauth(home).args([
        "login",
        "--provider",
        "github",
        "--issuer",
        base,
        "--client-id",
        "Iv1.standin",
        "--no-qr",
    ]))
}

#[test]
fn github_login_reads_200_errors_and_honours_the_named_interval() {
    let home = tempfile::tempdir().unwrap();
    let (base, seen) = github(vec![
        r#"{"error":"authorization_pending","error_description":"waiting"}"#,
        r#"{"error":"slow_down","error_description":"too fast","interval":3}"#,
        r#"{"access_token":"gho_standin123","token_type":"bearer","scope":"repo,read:org"}"#,
    ]);
    let (code, _, err) = run(devauth(home.path()).args([
        "login",
        "--provider",
        "github",
        "--issuer",
        &base,
        "--client-id",
        "Iv1.standin",
        "--scope",
        "repo",
        "--no-qr",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("WDJB-MJHT"), "{err}");
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|r| r.header("accept").contains("application/json")),
        "every request asks for JSON"
    );
    let polls = stand_in::to(&seen, "/login/oauth/access_token");
    assert_eq!(polls.len(), 3);
    assert_eq!(
        polls[0].form.get("client_id").map(String::as_str),
        Some("Iv1.standin")
    );
    assert!(
        !polls[0].form.contains_key("client_secret"),
        "no secret for GitHub"
    );
    // After slow_down naming 3 s, the next poll waited at least that long.
    assert!(polls[2].at - polls[1].at >= Duration::from_secs(3));
    // The OAuth-app token has no expiry and no refresh: `token` serves it as is.
    let (code, out, _) = run(devauth(home.path()).arg("token"));
    assert_eq!((code, out.as_str()), (0, "gho_standin123\n"));
    let p = profile_file(home.path(), "default");
    assert_eq!(p["extra"]["provider"], "github");
    // Logout says plainly that nothing was revoked, and where to do it.
    let (code, _, err) = run(devauth(home.path()).arg("logout"));
    assert_eq!(code, 0);
    assert!(err.contains("settings/applications"), "{err}");
}

#[test]
fn github_denial_and_expiry_have_their_exit_codes() {
    for (answer, exit) in [
        (
            r#"{"error":"access_denied","error_description":"denied"}"#,
            4,
        ),
        (
            r#"{"error":"expired_token","error_description":"expired"}"#,
            5,
        ),
    ] {
        let home = tempfile::tempdir().unwrap();
        let (base, _) = github(vec![answer]);
        let (code, _, err) = login(home.path(), &base);
        assert_eq!(code, exit, "{answer}: {err}");
    }
}

#[test]
fn github_app_tokens_expire_and_refresh_and_a_bad_refresh_token_needs_a_login() {
    let home = tempfile::tempdir().unwrap();
    let (base, seen) = github(vec![
        r#"{"access_token":"ghu_first","expires_in":28800,"refresh_token":"ghr_first","refresh_token_expires_in":15897600,"token_type":"bearer","scope":""}"#,
        r#"{"access_token":"ghu_second","expires_in":28800,"refresh_token":"ghr_second","refresh_token_expires_in":15897600,"token_type":"bearer","scope":""}"#,
        // GitHub answers a dead refresh token with HTTP 200 and its own code.
        r#"{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired."}"#,
    ]);
    let (code, _, err) = login(home.path(), &base);
    assert_eq!(code, 0, "{err}");
    expire_access_token(home.path(), "default");
    let (code, out, err) = run(devauth(home.path()).arg("token"));
    assert_eq!((code, out.as_str()), (0, "ghu_second\n"), "{err}");
    let refresh = &stand_in::to(&seen, "/login/oauth/access_token")[1];
    assert_eq!(refresh.form["grant_type"], "refresh_token");
    assert_eq!(refresh.form["refresh_token"], "ghr_first");
    assert_eq!(refresh.form["client_id"], "Iv1.standin");
    expire_access_token(home.path(), "default");
    let (code, _, err) = run(devauth(home.path()).arg("token"));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("devauth login"), "{err}");
}

#[test]
fn github_errors_say_what_to_change_in_the_apps_settings() {
    for (answer, hint) in [
        (
            r#"{"error":"device_flow_disabled","error_description":"Device Flow must be explicitly enabled for this App"}"#,
            "Enable Device Flow",
        ),
        (
            r#"{"error":"incorrect_client_credentials","error_description":"The client_id and/or client_secret passed are incorrect."}"#,
            "Client ID",
        ),
    ] {
        let home = tempfile::tempdir().unwrap();
        // The device code request itself fails, with HTTP 200.
        let (base, _) = stand_in::start(move |req, _, _| match req.path.as_str() {
            "/login/device/code" => Reply::json(200, answer),
            _ => Reply::json(404, "{}"),
        });
        let (code, _, err) = login(home.path(), &base);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(hint), "{err}");
        assert!(!home.path().join("profiles").join("default.json").exists());
    }
}

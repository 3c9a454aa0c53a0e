//! Google's device flow.

use super::stand_in::{self, Reply};
use crate::client_support::{devauth, expire_access_token, profile_file, run};

#[test]
fn google_sends_its_client_secret_and_reads_verification_url() {
    let home = tempfile::tempdir().unwrap();
    let (base, seen) = stand_in::start(move |req, n, base| match req.path.as_str() {
        "/device/code" => Reply::json(
            200,
            format!(
                r#"{{"device_code":"dc-g","user_code":"GQVQ-JKEC","verification_url":"{base}/device","expires_in":1800,"interval":1}}"#
            ),
        ),
        // Google answers pending with 428.
        "/token" if n == 1 => Reply::json(
            428,
            r#"{"error":"authorization_pending","error_description":"Precondition Required"}"#,
        ),
        // A refresh keeps the refresh token: Google does not rotate it.
        "/token" if req.form.get("grant_type").map(String::as_str) == Some("refresh_token") => {
            Reply::json(
                200,
                r#"{"access_token":"ya29.second","expires_in":3599,"scope":"openid email","token_type":"Bearer"}"#,
            )
        }
        "/token" => Reply::json(
            200,
            r#"{"access_token":"ya29.standin","expires_in":3599,"refresh_token":"1//rt","scope":"openid email","token_type":"Bearer"}"#,
        ),
        "/revoke" => Reply::json(200, "{}"),
        _ => Reply::json(404, "{}"),
    });
    let (code, _, err) = run(devauth(home.path())
        .args([
            "login",
            "--provider",
            "google",
            "--client-id",
            "x.apps.googleusercontent.com",
            "--device-authorization-endpoint",
            &format!("{base}/device/code"),
            "--token-endpoint",
            &format!("{base}/token"),
            "--revocation-endpoint",
            &format!("{base}/revoke"),
            "--no-qr",
        ])
        .env("DEVAUTH_CLIENT_SECRET", "GOCSPX-standin"));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("GOCSPX-standin"), "the secret was printed");
    let first = seen.lock().unwrap().clone();
    for r in &first {
        assert_eq!(
            r.form.get("client_secret").map(String::as_str),
            Some("GOCSPX-standin"),
            "{}",
            r.path
        );
    }
    assert!(first.iter().any(|r| r.path == "/token"));
    let (code, out, _) = run(devauth(home.path()).arg("token"));
    assert_eq!((code, out.as_str()), (0, "ya29.standin\n"));

    // Refresh: the secret again, and the refresh token kept.
    expire_access_token(home.path(), "default");
    let (code, out, err) = run(devauth(home.path()).arg("token"));
    assert_eq!((code, out.as_str()), (0, "ya29.second\n"), "{err}");
    let refresh = stand_in::to(&seen, "/token").pop().unwrap();
    assert_eq!(refresh.form["refresh_token"], "1//rt");
    assert_eq!(refresh.form["client_secret"], "GOCSPX-standin");
    assert_eq!(
        profile_file(home.path(), "default")["tokens"]["refresh_token"],
        "1//rt"
    );

    // Logout revokes at Google's endpoint: the refresh token first.
    let (code, _, err) = run(devauth(home.path()).arg("logout"));
    assert_eq!(code, 0, "{err}");
    let revoked: Vec<String> = stand_in::to(&seen, "/revoke")
        .iter()
        .map(|r| r.form["token"].clone())
        .collect();
    assert_eq!(revoked, ["1//rt", "ya29.second"]);
}

#[test]
fn google_errors_say_which_client_to_create() {
    let home = tempfile::tempdir().unwrap();
    let (base, _) = stand_in::start(|req, _, _| match req.path.as_str() {
        "/device/code" => Reply::json(
            401,
            r#"{"error":"invalid_client","error_description":"The OAuth client was not found."}"#,
        ),
        _ => Reply::json(404, "{}"),
    });
    let (code, _, err) = run(devauth(home.path())
        .args([
            "login",
            "--provider",
            "google",
            "--client-id",
            "wrong.apps.googleusercontent.com",
            "--device-authorization-endpoint",
            &format!("{base}/device/code"),
            "--token-endpoint",
            &format!("{base}/token"),
            "--no-qr",
        ])
        .env("DEVAUTH_CLIENT_SECRET", "GOCSPX-standin"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Google Cloud console"), "{err}");
    assert!(!err.contains("GOCSPX-standin"));
}

#[test]
fn google_slow_down_denial_and_expiry_with_googles_status_codes() {
    for (answers, exit) in [
        // 403 slow_down, then 403 access_denied.
        (
            [
                (
                    403,
                    r#"{"error":"slow_down","error_description":"Forbidden"}"#,
                ),
                (
                    403,
                    r#"{"error":"access_denied","error_description":"Forbidden"}"#,
                ),
            ],
            4,
        ),
        (
            [
                (
                    428,
                    r#"{"error":"authorization_pending","error_description":"Precondition Required"}"#,
                ),
                (
                    400,
                    r#"{"error":"expired_token","error_description":"Bad Request"}"#,
                ),
            ],
            5,
        ),
    ] {
        let home = tempfile::tempdir().unwrap();
        let (base, seen) = stand_in::start(move |req, n, base| match req.path.as_str() {
            "/device/code" => Reply::json(
                200,
                format!(
                    r#"{{"device_code":"dc-g","user_code":"GQVQ-JKEC","verification_url":"{base}/device","expires_in":1800,"interval":1}}"#
                ),
            ),
            "/token" => {
                let (status, body) = answers[(n - 1).min(1)];
                Reply::json(status, body)
            }
            _ => Reply::json(404, "{}"),
        });
        let (code, _, err) = run(devauth(home.path())
            .args([
                "login",
                "--provider",
                "google",
                "--client-id",
                "x.apps.googleusercontent.com",
                "--device-authorization-endpoint",
                &format!("{base}/device/code"),
                "--token-endpoint",
                &format!("{base}/token"),
                "--no-qr",
            ])
            .env("DEVAUTH_CLIENT_SECRET", "GOCSPX-standin"));
        assert_eq!(code, exit, "{err}");
        let polls = stand_in::to(&seen, "/token");
        if exit == 4 {
            assert!(polls[1].at - polls[0].at >= std::time::Duration::from_secs(6));
        }
    }
}

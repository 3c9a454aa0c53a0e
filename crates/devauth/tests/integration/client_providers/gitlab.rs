//! GitLab (gitlab.com or self-managed): standard OpenID discovery at the
//! instance's root, `/oauth/authorize_device`, `/oauth/token` with rotating
//! refresh tokens, `/oauth/revoke`; polling errors with HTTP 400.

use super::stand_in::{self, Reply, Seen};
use crate::client_support::{devauth, expire_access_token, profile_file, run};

/// A self-managed GitLab whose device-code polls are answered from `polls`.
fn gitlab(polls: Vec<(u16, &'static str)>) -> (String, Seen) {
    stand_in::start(move |req, n, base| match req.path.as_str() {
        "/.well-known/openid-configuration" => Reply::json(
            200,
            format!(
                r#"{{"issuer":"{base}","authorization_endpoint":"{base}/oauth/authorize","token_endpoint":"{base}/oauth/token","revocation_endpoint":"{base}/oauth/revoke","device_authorization_endpoint":"{base}/oauth/authorize_device","userinfo_endpoint":"{base}/oauth/userinfo","jwks_uri":"{base}/oauth/discovery/keys","scopes_supported":["api","read_api","read_user","openid","profile","email"],"response_types_supported":["code"],"grant_types_supported":["authorization_code","password","client_credentials","device_code","refresh_token"],"token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256"]}}"#
            ),
        ),
        "/oauth/authorize_device" => Reply::json(
            200,
            format!(
                r#"{{"device_code":"gl-dc","user_code":"0A44L90H","verification_uri":"{base}/oauth/device","verification_uri_complete":"{base}/oauth/device?user_code=0A44L90H","expires_in":300,"interval":1}}"#
            ),
        ),
        "/oauth/token"
            if req.form.get("grant_type").map(String::as_str) == Some("refresh_token") =>
        {
            if req.form["refresh_token"] == "glrt-first" {
                Reply::json(
                    200,
                    r#"{"access_token":"glpat-second","token_type":"Bearer","expires_in":7200,"refresh_token":"glrt-second","scope":"openid read_api","created_at":1764928800}"#,
                )
            } else {
                Reply::json(
                    400,
                    r#"{"error":"invalid_grant","error_description":"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}"#,
                )
            }
        }
        "/oauth/token" => {
            let (status, body) = polls.get(n - 1).copied().unwrap_or(polls[polls.len() - 1]);
            Reply::json(status, body)
        }
        "/oauth/revoke" => Reply::json(200, "{}"),
        _ => Reply::json(404, "{}"),
    })
}

const PENDING: (u16, &str) = (
    400,
    r#"{"error":"authorization_pending","error_description":"The authorization request is still pending as the end user hasn't yet completed the user-interaction steps."}"#,
);
const GRANTED: (u16, &str) = (
    200,
    r#"{"access_token":"glpat-first","token_type":"Bearer","expires_in":7200,"refresh_token":"glrt-first","scope":"openid read_api","created_at":1764928800}"#,
);

fn login(home: &std::path::Path, base: &str) -> (i32, String, String) {
    run(devauth(home).args([
        "login",
        "--provider",
        "gitlab",
        "--issuer",
        base,
        "--client-id",
        "6e4f8a2b9c1d",
        "--scope",
        "openid",
        "--scope",
        "read_api",
        "--no-qr",
    ]))
}

#[test]
fn gitlab_login_refreshes_with_rotation_and_revokes_at_logout() {
    let home = tempfile::tempdir().unwrap();
    let (base, seen) = gitlab(vec![PENDING, GRANTED]);
    let (code, _, err) = login(home.path(), &base);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("0A44L90H"), "{err}");
    let p = profile_file(home.path(), "default");
    assert_eq!(p["issuer"], base);
    assert_eq!(p["extra"]["provider"], "gitlab");

    expire_access_token(home.path(), "default");
    let (code, out, err) = run(devauth(home.path()).arg("token"));
    assert_eq!((code, out.as_str()), (0, "glpat-second\n"), "{err}");
    // The rotated refresh token replaced the first one.
    expire_access_token(home.path(), "default");
    let (code, _, err) = run(devauth(home.path()).arg("token"));
    assert_eq!(
        code, 3,
        "glrt-second is not accepted by this stand-in: {err}"
    );
    let presented: Vec<String> = stand_in::to(&seen, "/oauth/token")
        .iter()
        .filter_map(|r| r.form.get("refresh_token").cloned())
        .collect();
    assert_eq!(presented, ["glrt-first", "glrt-second"]);

    let (code, _, err) = run(devauth(home.path()).arg("logout"));
    assert_eq!(code, 0, "{err}");
    assert!(!stand_in::to(&seen, "/oauth/revoke").is_empty());
}

#[test]
fn gitlab_slow_down_adds_five_seconds() {
    let home = tempfile::tempdir().unwrap();
    let (base, seen) = gitlab(vec![
        (
            400,
            r#"{"error":"slow_down","error_description":"The authorization request is still pending and the polling should be slowed down."}"#,
        ),
        GRANTED,
    ]);
    let (code, _, err) = login(home.path(), &base);
    assert_eq!(code, 0, "{err}");
    let polls = stand_in::to(&seen, "/oauth/token");
    assert!(polls[1].at - polls[0].at >= std::time::Duration::from_secs(6));
}

#[test]
fn gitlab_denial_and_expiry_have_their_exit_codes() {
    for (answer, exit) in [
        (
            (
                400,
                r#"{"error":"access_denied","error_description":"The resource owner or authorization server denied the request."}"#,
            ),
            4,
        ),
        (
            (
                400,
                r#"{"error":"expired_token","error_description":"The device_code has expired, and the device authorization session has concluded."}"#,
            ),
            5,
        ),
    ] {
        let home = tempfile::tempdir().unwrap();
        let (base, _) = gitlab(vec![PENDING, answer]);
        let (code, _, err) = login(home.path(), &base);
        assert_eq!(code, exit, "{err}");
    }
}

//! Microsoft Entra ID v2.0: discovery from `HOST/TENANT/v2.0`, whose
//! document names the tenant as `{tenantid}`; the device code answer's
//! `message`; polling errors with HTTP 400 and an `AADSTS` number at the
//! start of `error_description`; refresh with `offline_access`.

use base64::Engine as _;

use super::stand_in::{self, Reply, Seen};
use crate::client_support::{devauth, expire_access_token, profile_file, run};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// An ID token as Entra shapes it (the client reads it for display only).
fn id_token() -> String {
    format!(
        "{}.{}.sig",
        b64(r#"{"alg":"RS256","typ":"JWT"}"#),
        b64(
            r#"{"sub":"AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ","preferred_username":"alice@contoso.example","tid":"9188040d-6c67-4c5b-b112-36a304b66dad"}"#
        )
    )
}

/// Entra for tenant `organizations`; `final_poll` answers the second poll.
fn entra(final_poll: Reply) -> (String, Seen) {
    stand_in::start(move |req, n, base| match req.path.as_str() {
        "/organizations/v2.0/.well-known/openid-configuration" => Reply::json(
            200,
            format!(
                r#"{{"issuer":"{base}/{{tenantid}}/v2.0","authorization_endpoint":"{base}/organizations/oauth2/v2.0/authorize","token_endpoint":"{base}/organizations/oauth2/v2.0/token","device_authorization_endpoint":"{base}/organizations/oauth2/v2.0/devicecode","jwks_uri":"{base}/organizations/discovery/v2.0/keys","response_types_supported":["code"],"subject_types_supported":["pairwise"],"id_token_signing_alg_values_supported":["RS256"]}}"#
            ),
        ),
        "/organizations/oauth2/v2.0/devicecode" => Reply::json(
            200,
            r#"{"user_code":"F7K2QJ8ZP","device_code":"DAQABAAEAAAD","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":1,"message":"To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code F7K2QJ8ZP to authenticate."}"#,
        ),
        "/organizations/oauth2/v2.0/token" => {
            if req.form.get("grant_type").map(String::as_str) == Some("refresh_token") {
                return Reply::json(
                    200,
                    r#"{"token_type":"Bearer","scope":"openid profile offline_access User.Read","expires_in":3599,"access_token":"eyJ0.second","refresh_token":"0.AAAA.second"}"#,
                );
            }
            if n == 1 {
                return Reply::json(
                    400,
                    r#"{"error":"authorization_pending","error_description":"AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.","error_codes":[70016],"timestamp":"2026-12-05 10:00:00Z"}"#,
                );
            }
            final_poll.clone()
        }
        _ => Reply::json(404, r#"{"error":"invalid_request"}"#),
    })
}

fn login(home: &std::path::Path, base: &str) -> (i32, String, String) {
    run(devauth(home).args([
        "login",
        "--provider",
        "microsoft",
        "--issuer",
        base,
        "--client-id",
        "11111111-2222-3333-4444-555555555555",
        "--no-qr",
    ]))
}

#[test]
fn entra_login_discovers_the_tenant_shows_the_message_and_refreshes() {
    let home = tempfile::tempdir().unwrap();
    let token = format!(
        r#"{{"token_type":"Bearer","scope":"openid profile offline_access User.Read","expires_in":3599,"access_token":"eyJ0.first","refresh_token":"0.AAAA.first","id_token":"{}"}}"#,
        id_token()
    );
    let (base, seen) = entra(Reply::json(200, token));
    let (code, _, err) = login(home.path(), &base);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("The provider says: To sign in"), "{err}");
    assert!(err.contains("alice@contoso.example"), "{err}");
    let start = &stand_in::to(&seen, "/organizations/oauth2/v2.0/devicecode")[0];
    let mut scope: Vec<&str> = start.form["scope"].split(' ').collect();
    scope.sort_unstable();
    assert_eq!(scope, ["offline_access", "openid", "profile"]);
    let p = profile_file(home.path(), "default");
    assert_eq!(p["issuer"], format!("{base}/organizations/v2.0"));
    assert_eq!(p["extra"]["provider"], "microsoft");

    expire_access_token(home.path(), "default");
    let (code, out, err) = run(devauth(home.path()).arg("token"));
    assert_eq!((code, out.as_str()), (0, "eyJ0.second\n"), "{err}");
    let refresh = stand_in::to(&seen, "/organizations/oauth2/v2.0/token")
        .pop()
        .unwrap();
    assert_eq!(refresh.form["refresh_token"], "0.AAAA.first");
    assert_eq!(
        refresh.form["client_id"],
        "11111111-2222-3333-4444-555555555555"
    );

    // `devauth login` again needs no flags: same host, tenant and client.
    let (code, _, err) = run(devauth(home.path()).args(["login", "--no-qr"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        stand_in::to(&seen, "/organizations/oauth2/v2.0/devicecode").len(),
        2
    );
}

#[test]
fn aadsts_errors_become_advice() {
    for (status, body, exit, hint) in [
        (
            401,
            r#"{"error":"invalid_client","error_description":"AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.","error_codes":[7000218]}"#,
            2,
            "Allow public client flows",
        ),
        (
            400,
            r#"{"error":"invalid_grant","error_description":"AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.","error_codes":[53003],"suberror":"message_only"}"#,
            4,
            "Conditional Access",
        ),
    ] {
        let home = tempfile::tempdir().unwrap();
        let (base, _) = entra(Reply::json(status, body));
        let (code, _, err) = login(home.path(), &base);
        assert_eq!(code, exit, "{err}");
        assert!(err.contains(hint), "{err}");
        assert!(err.contains("AADSTS"), "the code is named: {err}");
        assert!(!home.path().join("profiles").join("default.json").exists());
    }
}

#[test]
fn a_document_from_another_host_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let (base, _) = stand_in::start(|req, _, _| match req.path.as_str() {
        "/organizations/v2.0/.well-known/openid-configuration" => Reply::json(
            200,
            r#"{"issuer":"https://login.evil.example/{tenantid}/v2.0","token_endpoint":"https://login.evil.example/t","device_authorization_endpoint":"https://login.evil.example/d"}"#,
        ),
        _ => Reply::json(404, "{}"),
    });
    let (code, _, err) = login(home.path(), &base);
    assert_ne!(code, 0);
    assert!(err.contains("names issuer"), "{err}");
}

#[test]
fn entra_slow_down_declined_and_expired() {
    // slow_down, then the person declines: Entra's own code for it.
    let home = tempfile::tempdir().unwrap();
    let (base, seen) = stand_in::start(|req, n, base| match req.path.as_str() {
        "/organizations/v2.0/.well-known/openid-configuration" => Reply::json(
            200,
            format!(
                r#"{{"issuer":"{base}/{{tenantid}}/v2.0","token_endpoint":"{base}/organizations/oauth2/v2.0/token","device_authorization_endpoint":"{base}/organizations/oauth2/v2.0/devicecode"}}"#
            ),
        ),
        "/organizations/oauth2/v2.0/devicecode" => Reply::json(
            200,
            r#"{"user_code":"F7K2QJ8ZP","device_code":"D","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":1}"#,
        ),
        "/organizations/oauth2/v2.0/token" if n == 1 => Reply::json(
            400,
            r#"{"error":"slow_down","error_description":"AADSTS70016: slow down"}"#,
        ),
        _ => Reply::json(
            400,
            r#"{"error":"authorization_declined","error_description":"AADSTS70000: The user denied the request."}"#,
        ),
    });
    let (code, _, err) = login(home.path(), &base);
    assert_eq!(code, 4, "{err}");
    let polls = stand_in::to(&seen, "/organizations/oauth2/v2.0/token");
    assert_eq!(polls.len(), 2);
    assert!(polls[1].at - polls[0].at >= std::time::Duration::from_secs(6));

    let home = tempfile::tempdir().unwrap();
    let (base, _) = entra(Reply::json(
        400,
        r#"{"error":"expired_token","error_description":"AADSTS70019: Verification code expired."}"#,
    ));
    let (code, _, err) = login(home.path(), &base);
    assert_eq!(code, 5, "{err}");
}

//! AWS IAM Identity Center / Builder ID through SSO OIDC: JSON bodies with
//! camelCase names, `RegisterClient` → `StartDeviceAuthorization` →
//! `CreateToken`, errors as HTTP 400/401 with the exception in
//! `x-amzn-ErrorType` and the OAuth code in `error`, the endpoint moved with
//! `AWS_ENDPOINT_URL_SSO_OIDC` (and the portal's `Logout` with
//! `AWS_ENDPOINT_URL_SSO`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::stand_in::{self, Reply, Seen};
use crate::client_support::{devauth, expire_access_token, profile_file, run};

const BUILDER_ID: &str = "https://view.awsapps.com/start";

/// An SSO OIDC error as the service sends it.
fn aws_error(status: u16, exception: &str, code: &str) -> Reply {
    Reply::json(
        status,
        format!(r#"{{"error":"{code}","error_description":null}}"#),
    )
    .with_header(
        "x-amzn-ErrorType",
        format!("{exception}:http://internal.amazon.com/coral/com.amazonaws.ssooidc/"),
    )
}

fn pending() -> Reply {
    aws_error(
        400,
        "AuthorizationPendingException",
        "authorization_pending",
    )
}

struct Aws {
    base: String,
    seen: Seen,
    /// While set, registrations made before are refused (InvalidClientException).
    drop_registrations: Arc<AtomicBool>,
}

/// SSO OIDC and the portal's Logout; device-code polls answered from `polls`.
fn aws(polls: Vec<Reply>) -> Aws {
    let drop_registrations = Arc::new(AtomicBool::new(false));
    let dropped = drop_registrations.clone();
    let (base, seen) = stand_in::start(move |req, n, _| match req.path.as_str() {
        "/client/register" => {
            let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 90 * 86_400;
            Reply::json(
                200,
                format!(
                    r#"{{"clientId":"cid-{n}","clientSecret":"csecret-{n}","clientIdIssuedAt":{},"clientSecretExpiresAt":{expires}}}"#,
                    expires - 90 * 86_400
                ),
            )
        }
        "/device_authorization" => {
            if dropped.load(Ordering::SeqCst) && req.json_str("clientId") == "cid-1" {
                return aws_error(400, "InvalidClientException", "invalid_client");
            }
            if !req.json_str("startUrl").starts_with("https://") {
                return aws_error(400, "InvalidRequestException", "invalid_request");
            }
            Reply::json(
                200,
                r#"{"deviceCode":"aws-device-code","userCode":"SQMB-QWLT","verificationUri":"https://device.sso.us-east-1.amazonaws.com/","verificationUriComplete":"https://device.sso.us-east-1.amazonaws.com/?user_code=SQMB-QWLT","expiresIn":600,"interval":1}"#,
            )
        }
        "/token" if req.json_str("grantType") == "refresh_token" => {
            if req.json_str("refreshToken") == "aor-first" {
                Reply::json(
                    200,
                    r#"{"accessToken":"aoa-second","tokenType":"Bearer","expiresIn":28800,"refreshToken":"aor-second"}"#,
                )
            } else {
                aws_error(400, "InvalidGrantException", "invalid_grant")
            }
        }
        "/token" => {
            let count = polls.len();
            polls[(n - 1).min(count - 1)].clone()
        }
        "/logout" => Reply::json(200, ""),
        _ => Reply::json(404, "{}"),
    });
    Aws {
        base,
        seen,
        drop_registrations,
    }
}

fn granted() -> Reply {
    Reply::json(
        200,
        r#"{"accessToken":"aoa-first","tokenType":"Bearer","expiresIn":28800,"refreshToken":"aor-first"}"#,
    )
}

/// The token botocore's `SSOTokenProvider` loads for a profile using
/// sso-session `my-sso`; `None` (with a printed reason) without botocore.
fn botocore_sso_token(home: &std::path::Path, s: &Aws) -> Option<String> {
    let have = devauth_testkit::runs_ok("python3", &["-c", "import botocore"]);
    if !devauth_testkit::require_service(
        "python's botocore",
        (!have).then_some("it is missing (pip install botocore)"),
    ) {
        return None;
    }
    let config = home.join("aws-config");
    std::fs::write(
        &config,
        format!(
            "[profile dev]\nsso_session = my-sso\nsso_account_id = 111111111111\nsso_role_name = Dev\n\n\
             [sso-session my-sso]\nsso_start_url = {BUILDER_ID}\nsso_region = us-east-1\n\
             sso_registration_scopes = sso:account:access\n"
        ),
    )
    .unwrap();
    let script = "import botocore.session\n\
                  from botocore.tokens import SSOTokenProvider\n\
                  s = botocore.session.Session(profile='dev')\n\
                  print(SSOTokenProvider(s).load_token().get_frozen_token().token)\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_ENDPOINT_URL_SSO_OIDC", &s.base)
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "botocore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap().trim().to_owned())
}

fn devauth_aws(home: &std::path::Path, s: &Aws) -> std::process::Command {
    let mut cmd = devauth(home);
    cmd.env("AWS_ENDPOINT_URL_SSO_OIDC", &s.base)
        .env("AWS_ENDPOINT_URL_SSO", &s.base)
        .env("HOME", home);
    cmd
}

fn login(home: &std::path::Path, s: &Aws, extra: &[&str]) -> (i32, String, String) {
    run(devauth_aws(home, s)
        .args(["login", "--provider", "aws", "--no-qr"])
        .args(extra))
}

#[test]
fn builder_id_login_polls_through_aws_errors_refreshes_and_logs_out() {
    let home = tempfile::tempdir().unwrap();
    let s = aws(vec![
        pending(),
        aws_error(400, "SlowDownException", "slow_down"),
        granted(),
    ]);
    let (code, _, err) = login(home.path(), &s, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("SQMB-QWLT"), "{err}");

    let register = &stand_in::to(&s.seen, "/client/register")[0];
    assert_eq!(register.json["clientType"], "public");
    assert_eq!(
        register.json["scopes"],
        serde_json::json!(["sso:account:access"])
    );
    let start = &stand_in::to(&s.seen, "/device_authorization")[0];
    assert_eq!(start.json_str("startUrl"), BUILDER_ID);
    assert_eq!(start.json_str("clientSecret"), "csecret-1");
    let polls = stand_in::to(&s.seen, "/token");
    assert_eq!(polls.len(), 3);
    assert_eq!(
        polls[0].json_str("grantType"),
        "urn:ietf:params:oauth:grant-type:device_code"
    );
    assert_eq!(polls[0].json_str("deviceCode"), "aws-device-code");
    // slow_down: 5 s more than the 1 s interval.
    assert!(polls[2].at - polls[1].at >= Duration::from_secs(6));
    // No secret on the screen.
    assert!(!err.contains("csecret-1") && !err.contains("aws-device-code"));

    let (code, out, _) = run(devauth_aws(home.path(), &s).arg("token"));
    assert_eq!((code, out.as_str()), (0, "aoa-first\n"));
    let p = profile_file(home.path(), "default");
    assert_eq!(p["issuer"], BUILDER_ID);
    assert_eq!(p["extra"]["provider"], "aws");
    assert_eq!(p["extra"]["aws"]["region"], "us-east-1");

    // Refresh through CreateToken with the registration's secret.
    expire_access_token(home.path(), "default");
    let (code, out, err) = run(devauth_aws(home.path(), &s).arg("token"));
    assert_eq!((code, out.as_str()), (0, "aoa-second\n"), "{err}");
    let refresh = stand_in::to(&s.seen, "/token").pop().unwrap();
    assert_eq!(refresh.json_str("refreshToken"), "aor-first");
    assert_eq!(refresh.json_str("clientId"), "cid-1");
    assert_eq!(refresh.json_str("clientSecret"), "csecret-1");

    // A second login reuses the cached registration.
    let (code, _, err) = login(home.path(), &s, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stand_in::to(&s.seen, "/client/register").len(), 1);

    // Logout ends the portal session with the access token.
    let (code, _, err) = run(devauth_aws(home.path(), &s).arg("logout"));
    assert_eq!(code, 0, "{err}");
    let logout = stand_in::to(&s.seen, "/logout");
    assert_eq!(logout.len(), 1);
    assert_eq!(logout[0].header("x-amz-sso_bearer_token"), "aoa-first");
    assert!(err.contains("access portal"), "{err}");
}

#[test]
fn a_dead_refresh_token_needs_a_login() {
    let home = tempfile::tempdir().unwrap();
    let s = aws(vec![Reply::json(
        200,
        r#"{"accessToken":"aoa-x","tokenType":"Bearer","expiresIn":28800,"refreshToken":"aor-revoked"}"#,
    )]);
    let (code, _, err) = login(home.path(), &s, &[]);
    assert_eq!(code, 0, "{err}");
    expire_access_token(home.path(), "default");
    let (code, _, err) = run(devauth_aws(home.path(), &s).arg("token"));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("devauth login"), "{err}");
}

#[test]
fn identity_center_needs_its_region_and_a_refused_start_url_is_explained() {
    let home = tempfile::tempdir().unwrap();
    let s = aws(vec![granted()]);
    let (code, _, err) = login(
        home.path(),
        &s,
        &["--start-url", "https://d-9067c4d2a1.awsapps.com/start"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--region"), "{err}");
    assert!(stand_in::to(&s.seen, "/client/register").is_empty());

    let (code, _, err) = login(
        home.path(),
        &s,
        &[
            "--start-url",
            "https://d-9067c4d2a1.awsapps.com/start",
            "--region",
            "eu-west-1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let p = profile_file(home.path(), "default");
    assert_eq!(p["issuer"], "https://d-9067c4d2a1.awsapps.com/start");
    assert_eq!(p["extra"]["aws"]["region"], "eu-west-1");
    // `devauth login` again remembers the portal and the region.
    let (code, _, err) = run(devauth_aws(home.path(), &s).args(["login", "--no-qr"]));
    assert_eq!(code, 0, "{err}");
    let starts = stand_in::to(&s.seen, "/device_authorization");
    assert_eq!(
        starts.last().unwrap().json_str("startUrl"),
        "https://d-9067c4d2a1.awsapps.com/start"
    );
}

#[test]
fn denial_and_expiry_have_their_exit_codes() {
    for (answer, exit) in [
        (aws_error(400, "AccessDeniedException", "access_denied"), 4),
        (aws_error(400, "ExpiredTokenException", "expired_token"), 5),
    ] {
        let home = tempfile::tempdir().unwrap();
        let s = aws(vec![pending(), answer]);
        let (code, _, err) = login(home.path(), &s, &[]);
        assert_eq!(code, exit, "{err}");
        assert!(!home.path().join("profiles").join("default.json").exists());
    }
}

#[test]
fn a_registration_aws_dropped_is_replaced_once() {
    let home = tempfile::tempdir().unwrap();
    let s = aws(vec![granted()]);
    let (code, _, err) = login(home.path(), &s, &[]);
    assert_eq!(code, 0, "{err}");
    s.drop_registrations.store(true, Ordering::SeqCst);
    let (code, _, err) = login(home.path(), &s, &[]);
    assert_eq!(code, 0, "{err}");
    let registered = stand_in::to(&s.seen, "/client/register");
    assert_eq!(registered.len(), 2, "a new registration was made");
    let p = profile_file(home.path(), "default");
    assert_eq!(p["client_id"], "cid-2");
}

#[test]
fn write_aws_cache_puts_the_login_where_the_aws_cli_reads_it_and_keeps_it_fresh() {
    let home = tempfile::tempdir().unwrap();
    let s = aws(vec![granted()]);
    let (code, _, err) = login(
        home.path(),
        &s,
        &["--write-aws-cache", "--aws-sso-session", "my-sso"],
    );
    assert_eq!(code, 0, "{err}");
    // botocore names the file by the SHA-1 of the sso-session name:
    // hashlib.sha1(b"my-sso").hexdigest()
    let file = home
        .path()
        .join(".aws/sso/cache")
        .join("0ad374308c5a4e22f723adf10145eafad7c4031c.json");
    let read =
        || -> serde_json::Value { serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap() };
    let cache = read();
    assert_eq!(cache["accessToken"], "aoa-first");
    assert_eq!(cache["refreshToken"], "aor-first");
    assert_eq!(cache["clientId"], "cid-1");
    assert_eq!(cache["clientSecret"], "csecret-1");
    assert_eq!(cache["region"], "us-east-1");
    assert_eq!(cache["startUrl"], BUILDER_ID);
    assert!(cache["expiresAt"].as_str().unwrap().ends_with('Z'));
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let p = profile_file(home.path(), "default");
    assert_eq!(p["source"]["kind"], "imported");
    assert_eq!(p["extra"]["provider"], "aws");
    // The AWS SDK for Python reads it as its own `aws sso login` would have
    // left it: the sso-session of ~/.aws/config, the file, the token.
    if let Some(token) = botocore_sso_token(home.path(), &s) {
        assert_eq!(token, "aoa-first");
    }

    // Both copies expire; devauth refreshes and writes the new tokens back.
    expire_access_token(home.path(), "default");
    let mut cache = read();
    cache["expiresAt"] = "2000-01-01T00:00:00Z".into();
    std::fs::write(&file, cache.to_string()).unwrap();
    let (code, out, err) = run(devauth_aws(home.path(), &s).arg("token"));
    assert_eq!((code, out.as_str()), (0, "aoa-second\n"), "{err}");
    let cache = read();
    assert_eq!(cache["accessToken"], "aoa-second");
    assert_eq!(cache["refreshToken"], "aor-second");
}

//! `devauth login --provider …` against local stand-ins speaking each
//! provider's documented wire format (only loopback is contacted):
//! GitHub's device flow (JSON only when asked for, polling errors with HTTP
//! 200, `slow_down` naming a new interval, OAuth-app tokens without expiry)
//! and Google's (a client secret on every request, `verification_url`).

mod client_support;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client_support::{devauth, profile_file, run};

/// One request the stand-in saw.
#[derive(Debug, Clone)]
struct Request {
    path: String,
    accept: String,
    form: HashMap<String, String>,
    at: Instant,
}

type Handler = Box<dyn Fn(&Request, usize) -> (u16, &'static str, String) + Send + Sync>;

/// A stand-in server: `handler(request, n)` answers the n-th request to a
/// path with (status, content type, body).
fn stand_in(handler: Handler) -> (String, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::<Request>::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(200) {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap_or(0);
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (mut len, mut accept) = (0, String::new());
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap_or(("", ""));
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap_or(0),
                    "accept" => accept = v.trim().to_owned(),
                    _ => {}
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let form = url::form_urlencoded::parse(&body).into_owned().collect();
            let req = Request {
                path: path.clone(),
                accept,
                form,
                at: Instant::now(),
            };
            let n = {
                let mut log = log.lock().unwrap();
                log.push(req.clone());
                log.iter().filter(|r| r.path == path).count()
            };
            let (status, kind, body) = handler(&req, n);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, seen)
}

const JSON: &str = "application/json";

/// GitHub's device flow, answering polls from `polls` in order.
fn github(polls: Vec<&'static str>) -> (String, Arc<Mutex<Vec<Request>>>) {
    let base_cell = Arc::new(Mutex::new(String::new()));
    let base_for = base_cell.clone();
    let (base, seen) = stand_in(Box::new(move |req, n| {
        let wants_json = req.accept.contains("application/json");
        match req.path.as_str() {
            "/login/device/code" => {
                if !wants_json {
                    // GitHub's default answer is form-encoded.
                    return (
                        200,
                        "application/x-www-form-urlencoded",
                        "device_code=dc&user_code=WDJB-MJHT".into(),
                    );
                }
                let base = base_for.lock().unwrap().clone();
                (
                    200,
                    JSON,
                    format!(
                        r#"{{"device_code":"dc-gh","user_code":"WDJB-MJHT","verification_uri":"{base}/login/device","expires_in":900,"interval":1}}"#
                    ),
                )
            }
            "/login/oauth/access_token" => {
                let answer = polls.get(n - 1).copied().unwrap_or(polls[polls.len() - 1]);
                (200, JSON, answer.to_owned())
            }
            _ => (404, JSON, "{}".into()),
        }
    }));
    *base_cell.lock().unwrap() = base.clone();
    (base, seen)
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
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|r| r.accept.contains("application/json")),
        "{seen:?}"
    );
    let polls: Vec<&Request> = seen
        .iter()
        .filter(|r| r.path == "/login/oauth/access_token")
        .collect();
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
        let (code, _, err) = run(devauth(home.path()).args([
            "login",
            "--provider",
            "github",
            "--issuer",
            &base,
            "--client-id",
            "Iv1.standin",
            "--no-qr",
        ]));
        assert_eq!(code, exit, "{answer}: {err}");
    }
}

#[test]
fn presets_explain_what_they_need() {
    let home = tempfile::tempdir().unwrap();
    let (code, out, _) = run(devauth(home.path()).args(["login", "--provider", "list"]));
    assert_eq!(code, 0);
    for name in ["github", "google", "microsoft", "gitlab"] {
        assert!(out.contains(name), "{out}");
    }
    let (code, _, err) = run(devauth(home.path()).args(["login", "--provider", "github"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("--client-id") && err.contains("device flow"),
        "{err}"
    );
    let (code, _, err) = run(devauth(home.path()).args([
        "login",
        "--provider",
        "google",
        "--client-id",
        "x.apps.googleusercontent.com",
    ]));
    assert_eq!(code, 2);
    assert!(err.contains("DEVAUTH_CLIENT_SECRET"), "{err}");
    let (code, _, err) = run(devauth(home.path()).args(["login", "--provider", "nope"]));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn google_sends_its_client_secret_and_reads_verification_url() {
    let home = tempfile::tempdir().unwrap();
    let base_cell = Arc::new(Mutex::new(String::new()));
    let base_for = base_cell.clone();
    let (base, seen) = stand_in(Box::new(move |req, n| {
        let base = base_for.lock().unwrap().clone();
        match req.path.as_str() {
            "/device/code" => (200, JSON, format!(
                r#"{{"device_code":"dc-g","user_code":"GQVQ-JKEC","verification_url":"{base}/device","expires_in":1800,"interval":1}}"#
            )),
            // Google answers pending with 428.
            "/token" if n == 1 => (428, JSON, r#"{"error":"authorization_pending","error_description":"Precondition Required"}"#.into()),
            "/token" => (200, JSON, r#"{"access_token":"ya29.standin","expires_in":3599,"refresh_token":"1//rt","scope":"openid email","token_type":"Bearer"}"#.into()),
            _ => (404, JSON, "{}".into()),
        }
    }));
    *base_cell.lock().unwrap() = base.clone();
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
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("GOCSPX-standin"), "the secret was printed");
    let seen = seen.lock().unwrap().clone();
    for r in &seen {
        assert_eq!(
            r.form.get("client_secret").map(String::as_str),
            Some("GOCSPX-standin"),
            "{}",
            r.path
        );
    }
    assert!(seen.iter().any(|r| r.path == "/token"));
    let (code, out, _) = run(devauth(home.path()).arg("token"));
    assert_eq!((code, out.as_str()), (0, "ya29.standin\n"));
}

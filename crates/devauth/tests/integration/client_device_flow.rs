//! The device flow as `devauth login` runs it, against the scripted server:
//! interval and slow_down spacing, network failures, denial, expiry,
//! unreachable servers. Times are asserted as lower bounds only.

use crate::client_support;

use std::time::Duration;

use client_support::{Config, Poll, Server, USER_CODE, devauth, run};

fn login(server: &Server) -> (i32, String, String, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = run(devauth(home.path()).args(["login", "--issuer", &server.url]));
    (code, out, err, home)
}

#[test]
fn slow_down_grows_the_interval_and_it_stays_grown() {
    let server = Server::start(Config {
        polls: vec![Poll::SlowDown, Poll::SlowDown, Poll::Grant],
        ..Default::default()
    });
    let (code, out, err, _home) = login(&server);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "login prints nothing on stdout");
    let t = server.poll_offsets();
    assert_eq!(t.len(), 3, "{t:?}");
    // interval 1 → first poll after ≥ 1 s; slow_down → 6 s; again → 11 s
    assert!(t[0] >= Duration::from_secs(1), "{t:?}");
    assert!(t[1] - t[0] >= Duration::from_secs(6), "{t:?}");
    assert!(t[2] - t[1] >= Duration::from_secs(11), "{t:?}");
}

#[test]
fn missing_interval_means_five_seconds() {
    let server = Server::start(Config {
        interval: None,
        polls: vec![Poll::Grant],
        ..Default::default()
    });
    let (code, _, err, _home) = login(&server);
    assert_eq!(code, 0, "{err}");
    let t = server.poll_offsets();
    assert!(t[0] >= Duration::from_secs(5), "{t:?}");
}

#[test]
fn network_failures_and_5xx_are_retried_within_the_lifetime() {
    let server = Server::start(Config {
        polls: vec![
            Poll::Close,
            Poll::Raw(503, "<html>busy</html>".into()),
            Poll::Pending,
            Poll::Grant,
        ],
        ..Default::default()
    });
    let (code, _, err, home) = login(&server);
    assert_eq!(code, 0, "{err}");
    // The screen says the server is out of reach while it is, then that it is back.
    let gone = err.find("Cannot reach the server").expect(&err);
    let back = err.find("The server answers again").expect(&err);
    assert!(gone < back, "{err}");
    assert_eq!(
        err.matches("Cannot reach the server").count(),
        1,
        "said once: {err}"
    );
    let t = server.poll_offsets();
    assert_eq!(t.len(), 4, "{t:?}");
    // backoff after failures: never below the interval, growing
    assert!(t[1] - t[0] >= Duration::from_secs(2), "{t:?}");
    assert!(t[2] - t[1] >= Duration::from_secs(4), "{t:?}");
    let (code, token, _) = run(devauth(home.path()).arg("token"));
    assert_eq!(code, 0);
    assert!(server.is_valid_access(token.trim()));
}

#[test]
fn denial_exits_4() {
    let server = Server::start(Config {
        polls: vec![Poll::Pending, Poll::Denied],
        ..Default::default()
    });
    let (code, _, err, home) = login(&server);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("denied"), "{err}");
    assert!(!home.path().join("profiles/default.json").exists());
}

#[test]
fn expired_token_exits_5() {
    let server = Server::start(Config {
        polls: vec![Poll::Expired],
        ..Default::default()
    });
    let (code, _, err, _home) = login(&server);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("expired"), "{err}");
}

#[test]
fn polling_stops_by_itself_when_the_code_expires() {
    let server = Server::start(Config {
        expires_in: 3,
        polls: vec![Poll::Pending; 100],
        ..Default::default()
    });
    let (code, _, err, _home) = login(&server);
    assert_eq!(code, 5, "{err}");
    let t = server.poll_offsets();
    assert!(t.len() <= 2, "polled after expiry: {t:?}");
    assert!(t.iter().all(|d| *d < Duration::from_secs(3)), "{t:?}");
}

#[test]
fn unreachable_server_exits_6() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) =
        run(devauth(home.path()).args(["login", "--issuer", &format!("http://127.0.0.1:{port}")]));
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("cannot reach"), "{err}");
}

#[test]
fn login_screen_shows_uri_and_code_but_no_secret() {
    let server = Server::start(Config::default());
    let (code, _, err, _home) = login(&server);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("{}/verify", server.url)), "{err}");
    assert!(err.contains(USER_CODE), "{err}");
    assert!(err.contains("Logged in to"), "{err}");
    assert!(err.contains("as alice"), "{err}");
    assert!(!err.contains("dc-secret-device-code"));
    assert!(!err.contains("at-1"), "no token on the screen: {err}");
    assert!(
        !err.contains('\x1b'),
        "no escapes when stderr is not a terminal"
    );
}

#[test]
fn insecure_issuer_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = run(devauth(home.path()).args(["login", "--issuer", "http://id.example"]));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn wrong_issuer_urls_say_what_was_meant() {
    let server = Server::start(Config::default());
    let home = tempfile::tempdir().unwrap();
    // https to a plain-http server (one that answers a TLS hello with an
    // HTTP 400, as web servers do): not a TLS riddle.
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = plain.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        for conn in plain.incoming().take(4) {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let (code, _, err) =
        run(devauth(home.path()).args(["login", "--issuer", &format!("https://127.0.0.1:{port}")]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("answered plain HTTP")
            && err.contains(&format!("did you mean http://127.0.0.1:{port}/")),
        "{err}"
    );
    // A page's URL given as the issuer: the base URL is named.
    let page = format!("{}/device", server.url);
    let (code, _, err) = run(devauth(home.path()).args(["login", "--issuer", &page]));
    assert_eq!(code, 6, "{err}");
    assert!(
        err.contains(&format!("its issuer is probably {}", server.url)),
        "{err}"
    );
    // DEVAUTH_LOG=debug into a pipe: devauth's own exchanges, no colour codes.
    let (_, _, err) = run(devauth(home.path())
        .args(["login", "--issuer", &page])
        .env("DEVAUTH_LOG", "debug"));
    assert!(
        err.contains("devauth::http") && err.contains("status=404"),
        "{err}"
    );
    assert!(!err.contains('\x1b'), "{err:?}");
}

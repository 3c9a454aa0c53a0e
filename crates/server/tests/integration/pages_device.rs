//! The device verification pages over real HTTP: code entry, login, confirm,
//! CSRF, rate limits, locking, and what every response carries — each on
//! SQLite, PostgreSQL, and PostgreSQL + Redis (modules `sqlite`, `postgres`,
//! `postgres_redis`; see `backends/mod.rs`), since sessions, rate-limit
//! counters and grants live in different stores on each.

use crate::pages_support;

use devauth_server::model::DeviceGrantState;
use pages_support::{Browser, BrowserFrom, Options, TestBackend, TestServer};

const CODE: &str = "BCDFGHJK";
const INVALID: &str = "That code is not valid.";
const EXPIRED: &str = "That code has expired";

fn server(backend: TestBackend) -> TestServer {
    let s = TestServer::on(backend);
    s.add_user("alice", "correct horse battery staple");
    s
}

/// Enters `code` on `/device` and returns the answer.
fn enter_code(b: &Browser, code: &str) -> pages_support::Page {
    let form = b.get("/device");
    form.expect(200);
    b.post("/device", &[("csrf", &form.csrf()), ("user_code", code)])
}

/// Code entry, login, confirm page: returns the confirm page.
fn reach_confirm(s: &TestServer, b: &Browser, typed: &str) -> pages_support::Page {
    let login = enter_code(b, typed);
    login
        .expect(200)
        .contains("name=\"username\"")
        .contains("name=\"password\"");
    let next = login.input("next").expect("login form carries next");
    assert_eq!(next, "/device/confirm?user_code=BCDF-GHJK");
    let done = b.post(
        "/login",
        &[
            ("csrf", &login.csrf()),
            ("username", "alice"),
            ("password", "correct horse battery staple"),
            ("next", &next),
        ],
    );
    done.expect(303);
    assert_eq!(done.location(), Some(next.as_str()));
    let _ = s;
    b.get(&next)
}

fn every_page_is_uncached_unframed_and_script_free(backend: TestBackend) {
    let s = server(backend);
    let b = s.browser();
    s.add_grant("devauth-cli", CODE);
    for path in [
        "/device",
        "/device?user_code=BCDF-GHJK",
        "/login",
        "/assets/devauth.css",
    ] {
        let p = b.get(path);
        p.expect(200);
        assert_eq!(p.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(p.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(p.header("referrer-policy"), Some("no-referrer"), "{path}");
        let csp = p.header("content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("script-src"), "{csp}");
        assert!(!p.body.contains("<script"), "{path}");
    }
    let p = b.get("/device");
    p.contains("name=\"viewport\"")
        .contains("/assets/devauth.css");
    // A refusal carries the same headers.
    let bad = b.post_raw("/device", "user_code=a&user_code=b");
    bad.expect(400);
    assert_eq!(bad.header("cache-control"), Some("no-store"));
}

fn device_page_prefills_the_code_and_starts_a_session(backend: TestBackend) {
    let s = server(backend);
    s.add_grant("devauth-cli", CODE);
    let b = s.browser();
    let p = b.get("/device?user_code=bcdf-ghjk");
    p.expect(200)
        .contains("name=\"user_code\"")
        .contains("value=\"BCDF-GHJK\"");
    assert!(!p.body.contains(INVALID), "a live code is not an error");
    let cookies = p.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let c = cookies[0];
    assert!(c.starts_with("devauth_session="), "{c}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1800"] {
        assert!(c.contains(flag), "{c} lacks {flag}");
    }
    assert!(
        !c.contains("Secure"),
        "http issuer must not set Secure: {c}"
    );
    let value = c.split(';').next().unwrap().split_once('=').unwrap().1;
    assert!(
        value.len() >= 43,
        "session id too short: {} chars",
        value.len()
    );
    // The second visit keeps the session.
    assert!(b.get("/device").set_cookies().is_empty());
    // A link with a dead code says so at once, before Continue.
    b.get("/device?user_code=BBBB-BBBB")
        .expect(400)
        .contains(INVALID)
        .contains("value=\"BBBB-BBBB\"");
}

#[test]
fn https_issuer_sets_a_secure_host_cookie() {
    let s = TestServer::start_with(pages_support::Options {
        issuer: Some("https://id.example.test".into()),
        ..Default::default()
    });
    let p = s.browser().get("/device");
    let c = p.set_cookies()[0].to_owned();
    assert!(c.starts_with("__Host-devauth_session="), "{c}");
    assert!(c.contains("; Secure"), "{c}");
}

fn approve_marks_the_grant_approved_and_audits(backend: TestBackend) {
    let s = server(backend);
    s.add_grant("devauth-cli", CODE);
    let b = s.browser();
    let confirm = reach_confirm(&s, &b, "bcdf ghjk");
    confirm
        .expect(200)
        .contains("devauth command line")
        .contains("BCDF-GHJK")
        .contains("openid")
        .contains("offline_access")
        .contains("203.0.113.7")
        .contains("devauth/0.1 (linux; &#60;b&#62;test&#60;/b&#62;)")
        .contains("2 minutes ago")
        .contains("Only approve if you started this yourself")
        .contains("name=\"action\" value=\"approve\"")
        .contains("name=\"action\" value=\"deny\"")
        .contains("Signed in as <strong>alice</strong>");
    let done = b.post(
        "/device/confirm",
        &[
            ("csrf", &confirm.csrf()),
            ("user_code", "BCDF-GHJK"),
            ("action", "approve"),
        ],
    );
    done.expect(200).contains("You’re all set");
    match s.grant(CODE).state {
        DeviceGrantState::Approved { user_id, .. } => assert_eq!(user_id, "u-alice"),
        other => panic!("grant is {other:?}"),
    }
    assert!(s.audit_kinds().contains(&"device_code.approved".to_owned()));
    // A double click shows the same result and changes nothing.
    let again = b.post(
        "/device/confirm",
        &[
            ("csrf", &confirm.csrf()),
            ("user_code", "BCDF-GHJK"),
            ("action", "approve"),
        ],
    );
    again.expect(200).contains("You’re all set");
    // Deny after approve is refused.
    b.post(
        "/device/confirm",
        &[
            ("csrf", &confirm.csrf()),
            ("user_code", "BCDF-GHJK"),
            ("action", "deny"),
        ],
    )
    .expect(400);
    assert!(matches!(
        s.grant(CODE).state,
        DeviceGrantState::Approved { .. }
    ));
}

fn deny_marks_the_grant_denied(backend: TestBackend) {
    let s = server(backend);
    s.add_grant("devauth-cli", CODE);
    let b = s.browser();
    let confirm = reach_confirm(&s, &b, CODE);
    let done = b.post(
        "/device/confirm",
        &[
            ("csrf", &confirm.csrf()),
            ("user_code", CODE),
            ("action", "deny"),
        ],
    );
    done.expect(200).contains("Request denied");
    assert!(matches!(
        s.grant(CODE).state,
        DeviceGrantState::Denied { .. }
    ));
    assert!(s.audit_kinds().contains(&"device_code.denied".to_owned()));
}

fn logged_in_code_entry_goes_straight_to_confirm(backend: TestBackend) {
    let s = server(backend);
    s.add_grant("devauth-cli", CODE);
    let b = s.browser();
    b.login("alice", "correct horse battery staple").expect(303);
    enter_code(&b, "bcdfghjk")
        .expect(200)
        .contains("Approve this device?");
}

fn unknown_and_used_codes_read_the_same_and_expired_ones_say_so(backend: TestBackend) {
    let s = server(backend);
    s.add_grant("devauth-cli", "CCCCCCCC");
    s.add_grant("devauth-cli", "DDDDDDDD");
    let b = s.browser();
    b.login("alice", "correct horse battery staple").expect(303);
    // Used: deny it first.
    let c = enter_code(&b, "DDDD-DDDD");
    b.post(
        "/device/confirm",
        &[
            ("csrf", &c.csrf()),
            ("user_code", "DDDDDDDD"),
            ("action", "deny"),
        ],
    )
    .expect(200);
    let unknown = enter_code(&b, "BBBB-BBBB");
    let malformed = enter_code(&b, "hello");
    let used = enter_code(&b, "DDDD-DDDD");
    s.clock.advance_secs(481);
    let expired = enter_code(&b, "CCCC-CCCC");
    for p in [&unknown, &malformed, &used] {
        p.expect(400)
            .contains(INVALID)
            .contains("name=\"user_code\"");
    }
    let message = |p: &pages_support::Page| {
        let start = p.body.find("class=\"alert\"").unwrap();
        p.body[start..start + 200].to_owned()
    };
    assert_eq!(message(&unknown), message(&used));
    // Too late: the person is told the code expired, not that they mistyped.
    expired
        .expect(400)
        .contains(EXPIRED)
        .contains("name=\"user_code\"");
    assert!(!expired.body.contains(INVALID));
    // The confirm link of an expired code says the same.
    b.get("/device/confirm?user_code=CCCC-CCCC")
        .expect(400)
        .contains(EXPIRED);
}

fn code_entry_is_rate_limited_per_session_and_per_ip(backend: TestBackend) {
    let s = server(backend);
    s.add_grant("devauth-cli", CODE);
    let b = s.browser();
    let csrf = b.get("/device").csrf();
    // Every lookup, right or wrong: 10 a minute per session.
    for _ in 0..10 {
        b.post("/device", &[("csrf", &csrf), ("user_code", CODE)])
            .expect(200);
    }
    b.post("/device", &[("csrf", &csrf), ("user_code", CODE)])
        .expect(429)
        .contains("Too many attempts");
    s.clock.advance_secs(120);
    b.post("/device", &[("csrf", &csrf), ("user_code", CODE)])
        .expect(200);

    // Per IP: 30 a minute across sessions (every test browser is 127.0.0.1).
    s.clock.advance_secs(120);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let other = s.browser();
        let csrf = other.get("/device").csrf();
        for _ in 0..8 {
            statuses.push(
                other
                    .post("/device", &[("csrf", &csrf), ("user_code", CODE)])
                    .status,
            );
        }
    }
    assert!(statuses[..29].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses[30..].iter().all(|s| *s == 429), "{statuses:?}");
}

/// Right now, in the window of the wrong-code budget: the page says to wait.
fn assert_budget_spent(p: &pages_support::Page) {
    p.expect(429).contains("Too many wrong codes");
    let retry: u64 = p
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=1200).contains(&retry), "{retry}");
}

fn wrong_codes_spend_one_budget_on_every_page(backend: TestBackend) {
    let s = server(backend);
    let b = s.browser();
    b.login("alice", "correct horse battery staple").expect(303);
    let csrf = b.get("/device").csrf();
    // Five wrong codes, one on each surface that looks a code up.
    b.get("/device?user_code=BBBB-BBBB")
        .expect(400)
        .contains(INVALID);
    b.post("/device", &[("csrf", &csrf), ("user_code", "BBBB-BBBC")])
        .expect(400);
    b.get("/device/confirm?user_code=BBBB-BBBD").expect(400);
    b.post(
        "/device/confirm",
        &[
            ("csrf", &csrf),
            ("user_code", "BBBB-BBBF"),
            ("action", "approve"),
        ],
    );
    b.post("/device", &[("csrf", &csrf), ("user_code", "nonsense")])
        .expect(400);
    // The session's budget is spent: every surface refuses before looking,
    // so a live code reads the same as a dead one.
    s.add_grant("devauth-cli", CODE);
    assert_budget_spent(&b.get("/device?user_code=BCDF-GHJK"));
    assert_budget_spent(&b.post("/device", &[("csrf", &csrf), ("user_code", CODE)]));
    assert_budget_spent(&b.get("/device/confirm?user_code=BCDF-GHJK"));
    assert_budget_spent(&b.post(
        "/device/confirm",
        &[("csrf", &csrf), ("user_code", CODE), ("action", "approve")],
    ));
    assert_eq!(s.grant(CODE).state, DeviceGrantState::Pending);
    // The next window: the person's own code goes through.
    s.clock.advance_secs(1200);
    s.add_grant("devauth-cli", "CCCCDDDD");
    b.post("/device", &[("csrf", &csrf), ("user_code", "CCCC-DDDD")])
        .expect(200)
        .contains("Approve this device?");
}

fn one_account_guessing_from_many_addresses_is_stopped(backend: TestBackend) {
    let s = server(backend);
    s.add_user("bob", "bob's own long password");
    // Ten wrong confirmations for alice, each from another address and session.
    for i in 0..10 {
        let b = BrowserFrom::new(&s.base, &format!("127.0.1.{}", i + 1));
        b.login("alice", "correct horse battery staple").expect(303);
        let csrf = b.get("/device").csrf();
        let p = b.post(
            "/device/confirm",
            &[
                ("csrf", &csrf),
                (
                    "user_code",
                    &format!(
                        "BBBB-BBB{}",
                        ["B", "C", "D", "F", "G", "H", "J", "K", "L", "M"][i]
                    ),
                ),
                ("action", "approve"),
            ],
        );
        assert_ne!(p.status, 429, "guess {i}: {}", p.body);
    }
    // Alice's account is spent, whatever address and session it uses next…
    s.add_grant("devauth-cli", CODE);
    let fresh = BrowserFrom::new(&s.base, "127.0.1.99");
    fresh
        .login("alice", "correct horse battery staple")
        .expect(303);
    let csrf = fresh.get("/device").csrf();
    assert_budget_spent(&fresh.post(
        "/device/confirm",
        &[("csrf", &csrf), ("user_code", CODE), ("action", "approve")],
    ));
    // …while another person, elsewhere, approves their own code.
    let bob = BrowserFrom::new(&s.base, "127.0.2.1");
    bob.login("bob", "bob's own long password").expect(303);
    let csrf = bob.get("/device").csrf();
    bob.post(
        "/device/confirm",
        &[("csrf", &csrf), ("user_code", CODE), ("action", "approve")],
    )
    .expect(200);
    assert!(matches!(
        s.grant(CODE).state,
        DeviceGrantState::Approved { .. }
    ));
}

fn one_address_guessing_with_many_accounts_is_stopped(backend: TestBackend) {
    let s = server(backend);
    for i in 0..4 {
        s.add_user(&format!("mallory{i}"), "mallory's long password");
    }
    s.add_user("bob", "bob's own long password");
    let mut guesses = 0;
    'sessions: for i in 0..4 {
        let b = BrowserFrom::new(&s.base, "127.0.3.1");
        b.login(&format!("mallory{i}"), "mallory's long password")
            .expect(303);
        let csrf = b.get("/device").csrf();
        for _ in 0..4 {
            let p = b.post("/device", &[("csrf", &csrf), ("user_code", "BBBB-BBBB")]);
            if p.status == 429 {
                assert_budget_spent(&p);
                break 'sessions;
            }
            guesses += 1;
        }
    }
    assert_eq!(
        guesses, 10,
        "the address gets ten wrong codes, whatever its accounts"
    );
    // Someone on another address is not affected.
    s.add_grant("devauth-cli", CODE);
    let bob = BrowserFrom::new(&s.base, "127.0.4.1");
    bob.login("bob", "bob's own long password").expect(303);
    let csrf = bob.get("/device").csrf();
    bob.post("/device", &[("csrf", &csrf), ("user_code", CODE)])
        .expect(200)
        .contains("Approve this device?");
}

fn new_sessions_are_limited_per_ip(backend: TestBackend) {
    let s = server(backend);
    let b = s.browser();
    for _ in 0..60 {
        b.clear_cookies();
        b.get("/device").expect(200);
    }
    b.clear_cookies();
    b.get("/device").expect(429).contains("Too many attempts");
    // A browser that keeps its cookie is not affected.
    s.clock.advance_secs(120);
    b.get("/device").expect(200);
    for _ in 0..70 {
        b.get("/device").expect(200);
    }
}

fn forged_confirmations_are_refused_and_lock_the_code(backend: TestBackend) {
    let s = server(backend);
    s.add_grant("devauth-cli", CODE);
    let b = s.browser();
    let confirm = reach_confirm(&s, &b, CODE);
    let csrf = confirm.csrf();
    // Wrong token.
    b.post(
        "/device/confirm",
        &[
            ("csrf", "forged"),
            ("user_code", CODE),
            ("action", "approve"),
        ],
    )
    .expect(403)
    .contains("This request was refused");
    // Right token, foreign Origin.
    b.post_from(
        "/device/confirm",
        &[("csrf", &csrf), ("user_code", CODE), ("action", "approve")],
        Some("https://evil.example"),
    )
    .expect(403);
    let g = s.grant(CODE);
    assert_eq!(g.state, DeviceGrantState::Pending);
    assert_eq!(g.failed_confirmations, 2);
    // Third wrong confirmation locks it.
    b.post(
        "/device/confirm",
        &[("csrf", ""), ("user_code", CODE), ("action", "approve")],
    )
    .expect(403);
    assert!(matches!(
        s.grant(CODE).state,
        DeviceGrantState::Denied { .. }
    ));
    assert!(s.audit_kinds().contains(&"device_code.locked".to_owned()));
    // Now even a proper approval fails.
    b.post(
        "/device/confirm",
        &[("csrf", &csrf), ("user_code", CODE), ("action", "approve")],
    )
    .expect(400)
    .contains(INVALID);
}

fn fetch_metadata_and_origin_are_checked(backend: TestBackend) {
    let s = server(backend);
    let b = s.browser();
    let csrf = b.get("/device").csrf();
    let fields = [("csrf", csrf.as_str()), ("user_code", "BBBB-BBBB")];
    // Browsers send `Origin: null` from our no-referrer pages: the token decides.
    b.post_from("/device", &fields, Some("null")).expect(400);
    b.post_from("/device", &fields, None).expect(400);
    b.post_from("/device", &fields, Some("http://127.0.0.1:1"))
        .expect(403);
    let cross = b.post_with("/device", &fields, &[("Sec-Fetch-Site", "cross-site")]);
    cross.expect(403);
    let same = b.post_with("/device", &fields, &[("Sec-Fetch-Site", "same-origin")]);
    same.expect(400).contains(INVALID);
}

fn an_https_issuer_refuses_posts_from_plain_http_origins(backend: TestBackend) {
    // TLS ends at a proxy in front; the browser reaches us by the same host.
    let s = TestServer::start_with(Options {
        issuer: Some("https://id.example.test".into()),
        backend,
        ..Options::default()
    });
    let b = s.browser();
    let csrf = b.get("/device").csrf();
    let fields = [("csrf", csrf.as_str()), ("user_code", "BBBB-BBBB")];
    let host = s.base.trim_start_matches("http://");
    // A plain-http page of the same host (a downgrade, or an attacker's
    // page on a port-forward) may not post, whatever the host.
    b.post_from("/device", &fields, Some(&format!("http://{host}")))
        .expect(403);
    b.post_from("/device", &fields, Some("http://id.example.test"))
        .expect(403);
    // The https origins pass the origin check (the token then decides).
    for origin in [
        "https://id.example.test".to_owned(),
        format!("https://{host}"),
    ] {
        let p = b.post_from("/device", &fields, Some(&origin));
        assert_ne!(p.status, 403, "{origin}: {}", p.body);
    }
}

fn posts_need_a_session_and_its_token(backend: TestBackend) {
    let s = server(backend);
    s.add_grant("devauth-cli", CODE);
    let b = s.browser();
    // No cookie at all.
    b.post("/device", &[("csrf", "x"), ("user_code", CODE)])
        .expect(400)
        .contains("Your session has expired");
    // A session, wrong token.
    b.get("/device");
    b.post("/device", &[("csrf", "x"), ("user_code", CODE)])
        .expect(403);
    // Confirm without login.
    let csrf = b.get("/device").csrf();
    b.post(
        "/device/confirm",
        &[("csrf", &csrf), ("user_code", CODE), ("action", "approve")],
    )
    .expect(400);
    assert_eq!(s.grant(CODE).state, DeviceGrantState::Pending);
    // The confirm link without login goes to the login form and back.
    let p = b.get("/device/confirm?user_code=bcdfghjk");
    p.expect(303);
    assert_eq!(
        p.location(),
        Some("/login?next=%2Fdevice%2Fconfirm%3Fuser_code%3DBCDF-GHJK")
    );
}

fn malformed_forms_get_a_readable_400(backend: TestBackend) {
    let s = server(backend);
    let b = s.browser();
    let csrf = b.get("/device").csrf();
    for body in [
        "user_code=a&user_code=b".to_owned(),
        format!("csrf={csrf}&csrf={csrf}&user_code=x"),
    ] {
        b.post_raw("/device", &body)
            .expect(400)
            .contains("<h1>")
            .contains("Something is wrong with this request");
    }
    let put = b.post_raw("/assets/devauth.css", "x=1");
    put.expect(405).contains("This page cannot do that");
    assert_eq!(put.header("cache-control"), Some("no-store"));
    b.post_raw("/device/confirm", &format!("csrf={csrf}&action=maybe"))
        .expect(400)
        .contains("Choose Approve or Deny");
    b.post_raw("/login", "username=a&username=b&password=x")
        .expect(400)
        .contains("Something is wrong with this request");
    // Garbage that still parses is refused by the CSRF check, readably.
    b.post_raw("/login", "\u{1}%%%=&&=")
        .expect(403)
        .contains("This request was refused");
}

fn login_failures_read_the_same_and_are_limited(backend: TestBackend) {
    let s = server(backend);
    s.add_user("bob", "bob's password");
    s.disable_user("bob");
    let b = s.browser();
    let wrong = b.login("alice", "not it");
    wrong.expect(400).contains("Wrong user name or password.");
    let unknown = b.login("mallory", "whatever");
    unknown.expect(400).contains("Wrong user name or password.");
    assert!(!unknown.body.contains("whatever"), "password echoed");
    let disabled = b.login("bob", "bob's password");
    disabled.expect(403).contains("disabled");
    assert!(disabled.set_cookies().is_empty());
    let kinds = s.audit_kinds();
    assert_eq!(
        kinds.iter().filter(|k| *k == "user.login_failed").count(),
        3,
        "{kinds:?}"
    );
    // 10 a minute per session: 3 used above (spread over names, so the
    // per-account delays of the next test stay out of the way).
    for i in 0..7 {
        b.login(&format!("someone{i}"), "not it").expect(400);
    }
    b.login("alice", "correct horse battery staple")
        .expect(429)
        .contains("Too many attempts");
    s.clock.advance_secs(120);
    b.login("alice", "correct horse battery staple").expect(303);
}

fn failed_sign_ins_slow_an_account_down_from_any_address(backend: TestBackend) {
    let s = server(backend);
    s.add_user("bob", "bob's own long password");
    // Guesses at alice's password, each from another address and session.
    let mut answers = Vec::new();
    for i in 0..7 {
        let b = BrowserFrom::new(&s.base, &format!("127.0.5.{}", i + 1));
        answers.push(b.login("alice", &format!("guess {i}")).status);
    }
    assert_eq!(
        answers,
        vec![400, 400, 400, 400, 400, 400, 429],
        "{answers:?}"
    );
    // The account waits — even the right password, from a fresh address,
    // gets the readable 429 with Retry-After (nothing tells it was right)…
    let b = BrowserFrom::new(&s.base, "127.0.6.1");
    let p = b.login("alice", "correct horse battery staple");
    p.expect(429).contains("Too many failed sign-ins");
    let retry: u64 = p.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    // …an account name that does not exist is treated the same way…
    for i in 0..7 {
        let b = BrowserFrom::new(&s.base, &format!("127.0.7.{}", i + 1));
        let status = b.login("nobody", "whatever").status;
        assert_eq!(status, if i < 6 { 400 } else { 429 }, "attempt {i}");
    }
    // …another account is not affected…
    BrowserFrom::new(&s.base, "127.0.8.1")
        .login("bob", "bob's own long password")
        .expect(303);
    // …and once the short delay is over, alice signs in.
    s.clock.advance_secs(2);
    b.login("alice", "correct horse battery staple").expect(303);
}

fn the_confirm_page_flags_claims_and_other_networks(backend: TestBackend) {
    let s = server(backend);
    s.add_grant("devauth-cli", CODE);
    let b = s.browser();
    b.login("alice", "correct horse battery staple").expect(303);
    // Asked from 203.0.113.7, approved from 127.0.0.1: said plainly.
    let p = enter_code(&b, CODE);
    p.expect(200)
        .contains("The device says it is")
        .contains("a device can claim anything here")
        .contains("This request came from another network (IP address 203.0.113.7)")
        .contains(" UTC)");
    // Asked from this very network: no warning.
    let r = b.post(
        "/oauth/device_authorization",
        &[("client_id", "devauth-cli"), ("scope", "openid")],
    );
    r.expect(200);
    let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let here = enter_code(&b, json["user_code"].as_str().unwrap());
    here.expect(200).contains("Approve this device?");
    assert!(!here.body.contains("another network"), "{}", here.body);
    assert!(!here.body.contains("not checked by this server"));
}

fn login_rotates_the_session(backend: TestBackend) {
    let s = server(backend);
    let b = s.browser();
    let form = b.get("/login");
    let before = form.set_cookies()[0].split(';').next().unwrap().to_owned();
    let done = b.post(
        "/login",
        &[
            ("csrf", &form.csrf()),
            ("username", "alice"),
            ("password", "correct horse battery staple"),
            ("next", "https://evil.example/"),
        ],
    );
    done.expect(303);
    assert_eq!(done.location(), Some("/device"), "next must stay local");
    let after = done.set_cookies()[0].to_owned();
    assert!(after.contains("HttpOnly") && after.contains("SameSite=Lax"));
    let after = after.split(';').next().unwrap().to_owned();
    assert_ne!(before, after);
    // The old id is gone: it gets a fresh anonymous session.
    let old = b.get_with_cookie("/login", &before);
    old.expect(200).contains("Sign in");
    assert_eq!(old.set_cookies().len(), 1);
    // The new one is logged in: /login moves on.
    b.get("/login").expect(303);
    // The CSRF token changed with the session.
    assert_ne!(b.get("/device").csrf(), form.csrf());
}

fn logout_ends_the_session(backend: TestBackend) {
    let s = server(backend);
    s.add_grant("devauth-cli", CODE);
    let b = s.browser();
    let confirm = reach_confirm(&s, &b, CODE);
    let out = b.post(
        "/logout",
        &[
            ("csrf", &confirm.csrf()),
            ("next", "/device/confirm?user_code=BCDF-GHJK"),
        ],
    );
    out.expect(303);
    assert!(out.set_cookies()[0].contains("Max-Age=0"));
    assert!(out.location().unwrap().starts_with("/login?next="));
    b.get("/device/confirm?user_code=BCDF-GHJK").expect(303);
}

#[test]
fn storage_outage_is_a_readable_503() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    let memory = Arc::new(pages_support::memory::Memory::default());
    let s = TestServer::start_with(pages_support::Options {
        stores: Some(devauth_server::store::Stores {
            durable: memory.clone(),
            flow: memory.clone(),
        }),
        ..Default::default()
    });
    let b = s.browser();
    let csrf = b.get("/device").expect(200).csrf();
    memory.down.store(true, Ordering::SeqCst);
    b.get("/device")
        .expect(503)
        .contains("Temporarily unavailable");
    b.post("/device", &[("csrf", &csrf), ("user_code", CODE)])
        .expect(503);
    memory.down.store(false, Ordering::SeqCst);
    b.get("/device").expect(200);
}

fn the_sign_in_page_says_what_it_is_for(backend: TestBackend) {
    let s = server(backend);
    s.add_grant("devauth-cli", CODE);
    // After typing a code: the application and the code.
    let b = s.browser();
    enter_code(&b, CODE)
        .expect(200)
        .contains("Sign in to let <strong>devauth command line</strong> use your account")
        .contains("BCDF-GHJK");
    // Following a direct link to the confirm page while signed out: the same.
    let b = s.browser();
    b.get("/login?next=%2Fdevice%2Fconfirm%3Fuser_code%3DBCDF-GHJK")
        .expect(200)
        .contains("devauth command line")
        .contains("BCDF-GHJK");
    // A direct link with a dead code says so at once, without a sign-in form.
    let b = s.browser();
    let p = b.get("/login?next=%2Fdevice%2Fconfirm%3Fuser_code%3DZZZZ-ZZZZ");
    p.expect(400).contains(INVALID);
    assert!(p.input("password").is_none());
    // An authorization request: its application.
    s.browser()
        .get("/login?next=%2Foauth%2Fauthorize%3Fclient_id%3Ddevauth-cli%26response_type%3Dcode")
        .expect(200)
        .contains("Sign in to let <strong>devauth command line</strong> use your account");
    // Nothing known: the plain form.
    s.browser()
        .get("/login")
        .expect(200)
        .contains("Sign in to continue.");
}

on_each_backend!(
    every_page_is_uncached_unframed_and_script_free,
    device_page_prefills_the_code_and_starts_a_session,
    approve_marks_the_grant_approved_and_audits,
    deny_marks_the_grant_denied,
    logged_in_code_entry_goes_straight_to_confirm,
    unknown_and_used_codes_read_the_same_and_expired_ones_say_so,
    code_entry_is_rate_limited_per_session_and_per_ip,
    wrong_codes_spend_one_budget_on_every_page,
    one_account_guessing_from_many_addresses_is_stopped,
    one_address_guessing_with_many_accounts_is_stopped,
    new_sessions_are_limited_per_ip,
    forged_confirmations_are_refused_and_lock_the_code,
    fetch_metadata_and_origin_are_checked,
    an_https_issuer_refuses_posts_from_plain_http_origins,
    posts_need_a_session_and_its_token,
    malformed_forms_get_a_readable_400,
    login_failures_read_the_same_and_are_limited,
    login_rotates_the_session,
    the_confirm_page_flags_claims_and_other_networks,
    failed_sign_ins_slow_an_account_down_from_any_address,
    logout_ends_the_session,
    the_sign_in_page_says_what_it_is_for,
);

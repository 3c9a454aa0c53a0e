//! `/oauth/authorize` (loopback + PKCE) over real HTTP: refusals that stay on
//! the page, refusals sent back to the client, login, consent, and the code
//! — each on SQLite, PostgreSQL, and PostgreSQL + Redis (modules `sqlite`,
//! `postgres`, `postgres_redis`), where sessions and codes live apart.

use crate::pages_support;

use devauth_server::model::TokenHash;
use pages_support::{Browser, TestBackend, TestServer};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1:53123/callback";

fn server(backend: TestBackend) -> TestServer {
    let s = TestServer::on(backend);
    s.add_client(
        "test-app",
        "Test App",
        &["http://127.0.0.1/callback", "https://app.example/cb"],
        "openid offline_access profile",
    );
    s.add_user("alice", "correct horse battery staple");
    s
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    format!("/oauth/authorize?{}", ser.finish())
}

fn good() -> Vec<(&'static str, &'static str)> {
    vec![
        ("response_type", "code"),
        ("client_id", "test-app"),
        ("redirect_uri", REDIRECT),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("state", "st-123"),
        ("scope", "openid offline_access"),
        ("nonce", "n-456"),
    ]
}

fn with(change: &[(&'static str, Option<&'static str>)]) -> String {
    let mut pairs = good();
    for (k, v) in change {
        pairs.retain(|(name, _)| name != k);
        if let Some(v) = v {
            pairs.push((k, v));
        }
    }
    query(&pairs)
}

fn params(location: &str) -> Vec<(String, String)> {
    let url = url::Url::parse(location).expect("absolute redirect");
    url.query_pairs().into_owned().collect()
}

fn param(location: &str, name: &str) -> Option<String> {
    params(location)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Logs in and returns the consent page for the good request.
fn consent(s: &TestServer, b: &Browser) -> pages_support::Page {
    let start = b.get(&query(&good()));
    start.expect(303);
    let login_url = start.location().unwrap().to_owned();
    assert!(
        login_url.starts_with("/login?next=%2Foauth%2Fauthorize%3F"),
        "{login_url}"
    );
    let login = b.get(&login_url);
    let next = login.input("next").unwrap();
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
    let _ = s;
    b.get(done.location().unwrap())
}

fn consent_fields(page: &pages_support::Page, action: &'static str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut rest = page.body.as_str();
    while let Some(i) = rest.find("<input type=\"hidden\" name=\"") {
        rest = &rest[i + 27..];
        let name_end = rest.find('"').unwrap();
        let name = rest[..name_end].to_owned();
        let v = rest.find("value=\"").unwrap() + 7;
        let v_end = rest[v..].find('"').unwrap() + v;
        let value = pages_support::unescape(&rest[v..v_end]);
        if name != "next" {
            fields.push((name, value));
        }
    }
    fields.push(("action".into(), action.into()));
    fields
}

fn post_consent(b: &Browser, fields: &[(String, String)]) -> pages_support::Page {
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.post("/oauth/authorize", &borrowed)
}

fn unknown_client_or_redirect_stays_on_an_error_page(backend: TestBackend) {
    let s = server(backend);
    let b = s.browser();
    for path in [
        with(&[("client_id", Some("nobody"))]),
        with(&[("client_id", None)]),
        with(&[("redirect_uri", Some("https://evil.example/cb"))]),
        with(&[("redirect_uri", Some("http://127.0.0.1:53123/other"))]),
        with(&[("redirect_uri", Some("http://localhost:53123/callback"))]),
        with(&[("redirect_uri", None)]),
        format!(
            "{}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
            query(&good())
        ),
    ] {
        let p = b.get(&path);
        p.expect(400).contains("This sign-in link is not valid");
        assert!(p.location().is_none(), "{path} redirected");
    }
}

fn other_errors_go_back_to_the_client_with_state_and_iss(backend: TestBackend) {
    let s = server(backend);
    let b = s.browser();
    for (path, error) in [
        (with(&[("code_challenge", None)]), "invalid_request"),
        (
            with(&[("code_challenge_method", Some("plain"))]),
            "invalid_request",
        ),
        (with(&[("code_challenge_method", None)]), "invalid_request"),
        (
            with(&[("code_challenge", Some("short"))]),
            "invalid_request",
        ),
        (
            with(&[("response_type", Some("token"))]),
            "unsupported_response_type",
        ),
        (with(&[("response_type", None)]), "invalid_request"),
        (with(&[("scope", Some("admin"))]), "invalid_scope"),
        (
            with(&[("resource", Some("https://unknown.example.test/mcp"))]),
            "invalid_target",
        ),
        (format!("{}&state=again", query(&good())), "invalid_request"),
    ] {
        let p = b.get(&path);
        p.expect(303);
        let location = p.location().unwrap();
        assert!(
            location.starts_with("http://127.0.0.1:53123/callback?"),
            "{location}"
        );
        assert_eq!(param(location, "error").as_deref(), Some(error), "{path}");
        assert_eq!(param(location, "iss").as_deref(), Some(s.base.as_str()));
        if !path.contains("state=again") {
            assert_eq!(
                param(location, "state").as_deref(),
                Some("st-123"),
                "{path}"
            );
        }
        assert!(param(location, "code").is_none());
    }
}

fn approval_issues_a_single_use_code_bound_to_pkce(backend: TestBackend) {
    let s = server(backend);
    let b = s.browser();
    let page = consent(&s, &b);
    page.expect(200)
        .contains("Allow Test App?")
        .contains("http://127.0.0.1:53123")
        .contains("offline_access")
        .contains("name=\"action\" value=\"approve\"");
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:53123"),
        "{csp}"
    );
    let done = post_consent(&b, &consent_fields(&page, "approve"));
    done.expect(303);
    let location = done.location().unwrap();
    assert!(
        location.starts_with("http://127.0.0.1:53123/callback?"),
        "{location}"
    );
    assert_eq!(param(location, "state").as_deref(), Some("st-123"));
    assert_eq!(param(location, "iss").as_deref(), Some(s.base.as_str()));
    let code = param(location, "code").expect("a code");
    assert!(code.len() >= 43);
    assert!(
        s.audit_kinds()
            .contains(&"authorization_code.issued".to_owned())
    );

    let stored =
        s.rt.block_on(
            s.state
                .stores
                .flow
                .take_authorization_code(&TokenHash::of(&code)),
        )
        .unwrap()
        .expect("code stored under its hash");
    assert_eq!(stored.client_id, "test-app");
    assert_eq!(stored.user_id, "u-alice");
    assert_eq!(stored.redirect_uri, REDIRECT);
    assert_eq!(stored.code_challenge, CHALLENGE);
    assert!(devauth_proto::pkce::verify_s256(
        VERIFIER,
        &stored.code_challenge
    ));
    assert_eq!(stored.nonce.as_deref(), Some("n-456"));
    assert_eq!(stored.scope.to_string(), "offline_access openid");
    assert_eq!(stored.expires_at.millis_since(stored.created_at), 60_000);
}

fn denial_redirects_with_access_denied(backend: TestBackend) {
    let s = server(backend);
    let b = s.browser();
    let page = consent(&s, &b);
    let done = post_consent(&b, &consent_fields(&page, "deny"));
    done.expect(303);
    let location = done.location().unwrap();
    assert_eq!(param(location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(location, "state").as_deref(), Some("st-123"));
    assert!(param(location, "code").is_none());
}

fn consent_needs_the_csrf_token_and_a_login(backend: TestBackend) {
    let s = server(backend);
    let b = s.browser();
    let page = consent(&s, &b);
    let mut fields = consent_fields(&page, "approve");
    for f in &mut fields {
        if f.0 == "csrf" {
            f.1 = "forged".into();
        }
    }
    post_consent(&b, &fields).expect(403);
    // Another browser, not logged in, with a real-looking form.
    let other = s.browser();
    other.get("/device");
    post_consent(&other, &consent_fields(&page, "approve"))
        .expect(400)
        .contains("Your session has expired");
    // Tampering with the request after consent is re-checked.
    let mut tampered = consent_fields(&page, "approve");
    for f in &mut tampered {
        if f.0 == "redirect_uri" {
            f.1 = "https://evil.example/cb".into();
        }
    }
    let p = post_consent(&b, &tampered);
    p.expect(400);
    assert!(p.location().is_none());
}

fn logged_in_people_see_consent_directly(backend: TestBackend) {
    let s = server(backend);
    let b = s.browser();
    b.login("alice", "correct horse battery staple").expect(303);
    b.get(&query(&good()))
        .expect(200)
        .contains("Allow Test App?");
}

fn scopes_are_checked_by_one_rule_on_every_grant(backend: TestBackend) {
    let s = server(backend);
    // A client without a scope list may ask for what the server supports,
    // and nothing else, whichever grant it uses.
    s.add_client("any-app", "Any App", &["http://127.0.0.1/callback"], "");
    let b = s.browser();
    let ask = |scope: &'static str| {
        let mut pairs = good();
        pairs.retain(|(k, _)| *k != "client_id" && *k != "scope");
        pairs.push(("client_id", "any-app"));
        pairs.push(("scope", scope));
        b.get(&query(&pairs))
    };
    for made_up in ["admin", "openid admin", "repo:write"] {
        let p = ask(made_up);
        p.expect(303);
        let location = p.location().unwrap();
        assert_eq!(
            param(location, "error").as_deref(),
            Some("invalid_scope"),
            "{made_up}: {location}"
        );
        let device = b.post(
            "/oauth/device_authorization",
            &[("client_id", "any-app"), ("scope", made_up)],
        );
        device.expect(400).contains("invalid_scope");
    }
    // Supported scopes pass on both: the sign-in page, and a device code.
    let p = ask("openid profile");
    p.expect(303);
    assert!(
        p.location().unwrap().starts_with("/login?"),
        "{:?}",
        p.location()
    );
    let device = b.post(
        "/oauth/device_authorization",
        &[("client_id", "any-app"), ("scope", "openid profile")],
    );
    device.expect(200).contains("device_code");
}

on_each_backend!(
    unknown_client_or_redirect_stays_on_an_error_page,
    other_errors_go_back_to_the_client_with_state_and_iss,
    approval_issues_a_single_use_code_bound_to_pkce,
    denial_redirects_with_access_denied,
    consent_needs_the_csrf_token_and_a_login,
    logged_in_people_see_consent_directly,
    scopes_are_checked_by_one_rule_on_every_grant,
);

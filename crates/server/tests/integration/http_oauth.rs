//! Every OAuth endpoint over real HTTP, with time driven by a mock clock, on
//! each storage combination: each test below runs three times, in the
//! modules `sqlite`, `postgres` and `postgres_redis` (those skip, printing
//! why, when PostgreSQL or Redis is not reachable, unless
//! `DEVAUTH_REQUIRE_SERVICES=1`). The outage test closes the SQLite pool and
//! runs on SQLite only. Approvals go through the store's Pending →
//! Approved transition, as the consent page does (its browser path is tested
//! with the pages).

use crate::support;

use devauth_proto::GrantType;
use devauth_server::clock::Clock as _;
use devauth_server::model::{AuthorizationCode, DeviceGrant, MAX_POLL_INTERVAL_SECS, TokenHash};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use std::sync::{Arc, OnceLock};

use devauth_server::model::{Client, DeviceGrantState, KeyAlgorithm, Resource};
use devauth_server::store::Stores;
use support::faults::FaultyDurable;
use support::{T0, TestBackend, TestServer};

const DEVICE: &str = devauth_proto::grant::DEVICE_CODE_GRANT;

/// Verifies a JWT against the server's published JWKS, like a relying party would.
fn verify_with_jwks(s: &TestServer, jwt: &str, aud: &str) -> serde_json::Value {
    let jwks: JwkSet = serde_json::from_str(&s.get("/oauth/jwks.json").body).unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let kid = header.kid.expect("kid");
    let jwk = jwks.find(&kid).expect("kid is published");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut v = Validation::new(header.alg);
    v.set_audience(&[aud]);
    v.set_issuer(&[&s.base]);
    // The mock clock stands in the future; expiry is checked by the server tests.
    v.validate_exp = false;
    jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &v)
        .unwrap()
        .claims
}

fn discovery_documents_advertise_what_is_implemented(backend: TestBackend) {
    let s = TestServer::on(backend);
    let oauth = s.get("/.well-known/oauth-authorization-server");
    let oidc = s.get("/.well-known/openid-configuration");
    assert_eq!(oauth.status, 200);
    assert_eq!(oauth.json(), oidc.json());
    let m = oauth.json();
    assert_eq!(m["issuer"], s.base);
    assert_eq!(
        m["device_authorization_endpoint"],
        format!("{}/oauth/device_authorization", s.base)
    );
    assert_eq!(m["token_endpoint"], format!("{}/oauth/token", s.base));
    assert_eq!(m["jwks_uri"], format!("{}/oauth/jwks.json", s.base));
    assert_eq!(m["revocation_endpoint"], format!("{}/oauth/revoke", s.base));
    assert_eq!(
        m["introspection_endpoint"],
        format!("{}/oauth/introspect", s.base)
    );
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        m["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256"])
    );
    let grants = m["grant_types_supported"].as_array().unwrap();
    for g in [
        DEVICE,
        "authorization_code",
        "refresh_token",
        "client_credentials",
    ] {
        assert!(grants.iter().any(|x| x == g), "{g}");
    }
    assert!(!grants.iter().any(|x| x == "password" || x == "implicit"));
    let jwks = s.get("/oauth/jwks.json").json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter()
            .all(|k| k["kid"].is_string() && k["use"] == "sig")
    );
    assert!(
        keys.iter()
            .any(|k| k["alg"] == "RS256" && k["kty"] == "RSA")
    );
    assert!(
        keys.iter()
            .any(|k| k["alg"] == "ES256" && k["crv"] == "P-256")
    );
    assert!(
        keys.iter().all(|k| k.get("d").is_none()),
        "no private parts"
    );
}

fn device_flow_pending_then_approved_then_single_use(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("alice");
    let r = s.post(
        "/oauth/device_authorization",
        &[
            ("client_id", "devauth-cli"),
            ("scope", "openid profile offline_access"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let j = r.json();
    let dc = j["device_code"].as_str().unwrap().to_owned();
    let uc = j["user_code"].as_str().unwrap().to_owned();
    // `<12 hex digits of issue time>.<256-bit secret, base64url>`
    let (issued, secret) = dc.split_once('.').expect("time prefix");
    assert_eq!(issued, format!("{:012x}", s.clock.now().millis()));
    assert_eq!(secret.len(), 43, "256 bits");
    assert_eq!(uc.len(), 9);
    assert_eq!(&uc[4..5], "-");
    assert!(devauth_proto::UserCode::normalize(&uc).is_some());
    assert_eq!(j["verification_uri"], format!("{}/device", s.base));
    assert_eq!(
        j["verification_uri_complete"],
        format!("{}/device?user_code={uc}", s.base)
    );
    assert_eq!(j["expires_in"], 600);
    assert_eq!(j["interval"], 5);

    // Stored as issue time + hash only, with who asked.
    let g = s.grant_by_user_code(&uc);
    assert_eq!(
        g.device_code_hash.as_str(),
        format!("{issued}.{}", TokenHash::of(&dc).as_str())
    );
    assert!(!g.device_code_hash.as_str().contains(secret));
    assert_eq!(g.requester.ip, "127.0.0.1");
    assert_eq!(g.requester.user_agent, "devauth-http-test/1");

    s.poll(&dc).assert_error(400, "authorization_pending");
    s.clock.advance_secs(5);
    s.poll(&dc).assert_error(400, "authorization_pending");
    s.approve(&uc, &user);
    s.clock.advance_secs(5);
    let r = s.poll(&dc);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let t = r.json();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 900);
    assert_eq!(t["scope"], "offline_access openid profile");
    assert!(t["refresh_token"].is_string());

    let at = t["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(at).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let claims = verify_with_jwks(&s, at, &s.base);
    assert_eq!(claims["sub"], user.id);
    assert_eq!(claims["client_id"], "devauth-cli");
    assert_eq!(claims["iss"], s.base);
    assert_eq!(claims["iat"], T0.plus_secs(10).secs());
    assert_eq!(claims["exp"], T0.plus_secs(910).secs());
    assert!(claims["jti"].is_string() && claims["auth_time"].is_number());

    let id = verify_with_jwks(&s, t["id_token"].as_str().unwrap(), "devauth-cli");
    assert_eq!(id["sub"], user.id);
    assert_eq!(id["preferred_username"], "alice");
    assert_eq!(id["at_hash"], devauth_server::keys::at_hash(at));
    assert_eq!(
        jsonwebtoken::decode_header(t["id_token"].as_str().unwrap())
            .unwrap()
            .alg,
        jsonwebtoken::Algorithm::RS256
    );

    // Single use.
    s.clock.advance_secs(5);
    s.poll(&dc).assert_error(400, "invalid_grant");
    // Another client cannot redeem someone else's code.
    let (dc2, _) = s.device_auth("openid");
    s.add_public("other", &[GrantType::DeviceCode]);
    s.post(
        "/oauth/token",
        &[
            ("grant_type", DEVICE),
            ("device_code", &dc2),
            ("client_id", "other"),
        ],
    )
    .assert_error(400, "invalid_grant");
}

/// A server whose durable store fails on demand.
fn faulty_server(backend: TestBackend) -> (TestServer, Arc<FaultyDurable>) {
    let slot = Arc::new(OnceLock::new());
    let s = TestServer::on_wrapped(
        backend,
        |_| {},
        |stores| {
            let faulty = Arc::new(FaultyDurable::new(stores.durable));
            slot.set(faulty.clone()).ok().unwrap();
            Stores {
                durable: faulty,
                flow: stores.flow,
            }
        },
    );
    let faulty = slot.get().unwrap().clone();
    (s, faulty)
}

fn an_approval_survives_a_store_failure_while_issuing(backend: TestBackend) {
    let (s, faulty) = faulty_server(backend);
    let user = s.add_user("erin");
    for step in ["add_family", "add_refresh_token"] {
        let (dc, uc) = s.device_auth("openid offline_access");
        s.approve(&uc, &user);
        s.clock.advance_secs(5);
        faulty.fail(step, 1);
        // The exchange is stored, then issuing fails: the device is told to
        // retry, not that its code was used.
        s.poll(&dc).assert_error(503, "temporarily_unavailable");
        assert_eq!(faulty.pending(step), 0, "the fault at {step} was hit");
        let g = s.grant_by_user_code(&uc);
        assert!(
            matches!(g.state, DeviceGrantState::Approved { .. }),
            "after a failure at {step} the approval is back: {:?}",
            g.state
        );
        // The next poll, one interval later, redeems the same approval.
        s.clock.advance_secs(5);
        let r = s.poll(&dc);
        assert_eq!(r.status, 200, "after a failure at {step}: {}", r.body);
        let t = r.json();
        let claims = verify_with_jwks(&s, t["access_token"].as_str().unwrap(), &s.base);
        assert_eq!(claims["sub"], user.id);
        let rt = t["refresh_token"].as_str().unwrap();
        assert_eq!(s.refresh(rt).status, 200);
        // Still single use.
        s.clock.advance_secs(5);
        s.poll(&dc).assert_error(400, "invalid_grant");
    }
}

fn slow_down_grows_the_interval_and_it_is_persisted(backend: TestBackend) {
    let s = TestServer::on(backend);
    let (dc, uc) = s.device_auth("openid");
    s.poll(&dc).assert_error(400, "authorization_pending");
    s.poll(&dc).assert_error(400, "slow_down");
    assert_eq!(s.grant_by_user_code(&uc).interval_secs, 10);
    // 6 s would be fine under the old interval, not under the grown one.
    s.clock.advance_secs(6);
    s.poll(&dc).assert_error(400, "slow_down");
    assert_eq!(s.grant_by_user_code(&uc).interval_secs, 15);
    s.clock.advance_secs(15);
    s.poll(&dc).assert_error(400, "authorization_pending");
    assert_eq!(s.grant_by_user_code(&uc).interval_secs, 15);
}

fn slow_down_at_the_interval_cap_stores_nothing(backend: TestBackend) {
    let s = TestServer::on(backend);
    let (dc, uc) = s.device_auth("openid");
    s.poll(&dc).assert_error(400, "authorization_pending");
    // 5 s grows to the 60 s cap in 11 steps; each of those is stored.
    for _ in 0..11 {
        s.poll(&dc).assert_error(400, "slow_down");
    }
    let at_cap = s.grant_by_user_code(&uc);
    assert_eq!(at_cap.interval_secs, MAX_POLL_INTERVAL_SECS);
    for _ in 0..3 {
        s.poll(&dc).assert_error(400, "slow_down");
    }
    assert_eq!(s.grant_by_user_code(&uc), at_cap, "no write at the cap");
    // The interval counts from the last stored poll.
    s.clock.advance_secs(i64::from(MAX_POLL_INTERVAL_SECS));
    s.poll(&dc).assert_error(400, "authorization_pending");
    assert_eq!(s.grant_by_user_code(&uc).version, at_cap.version + 1);
}

fn denied_and_expired_codes(backend: TestBackend) {
    let s = TestServer::on_with(backend, |c| c.code_ttl_secs = 30);
    let (dc, uc) = s.device_auth("openid");
    assert_eq!(s.grant_by_user_code(&uc).expires_at, T0.plus_secs(30));
    s.deny(&uc);
    s.poll(&dc).assert_error(400, "access_denied");

    let (dc, _) = s.device_auth("openid");
    s.clock.advance_secs(30);
    s.poll(&dc).assert_error(400, "expired_token");
    s.clock.advance_secs(10);
    s.poll(&dc).assert_error(400, "expired_token");
    s.poll("no-such-code").assert_error(400, "invalid_grant");

    // The sweeper audits the expiry once, and never logs the device code.
    s.block_on(devauth_server::sweeper::sweep_once(&s.state));
    let events = s.block_on(s.state.stores.durable.recent_audit(50)).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "device_code.expired")
            .count(),
        1
    );
    assert!(kinds.contains(&"device_code.issued"));
    let all = format!("{events:?}");
    assert!(!all.contains(&dc));
}

fn device_authorization_errors(backend: TestBackend) {
    let s = TestServer::on(backend);
    let r = s.post("/oauth/device_authorization", &[("client_id", "nobody")]);
    r.assert_error(401, "invalid_client");
    assert!(r.header("www-authenticate").is_some());
    s.post("/oauth/device_authorization", &[])
        .assert_error(401, "invalid_client");
    s.add_public("web-only", &[GrantType::AuthorizationCode]);
    s.post("/oauth/device_authorization", &[("client_id", "web-only")])
        .assert_error(400, "unauthorized_client");
    s.post(
        "/oauth/device_authorization",
        &[("client_id", "devauth-cli"), ("scope", "openid admin")],
    )
    .assert_error(400, "invalid_scope");
    s.post(
        "/oauth/device_authorization",
        &[("client_id", "devauth-cli"), ("scope", "bad\"scope")],
    )
    .assert_error(400, "invalid_scope");
    // A confidential client authenticates (HTTP Basic), and its secret is checked.
    let secret = s.add_confidential("tv", &[GrantType::DeviceCode], "openid");
    let r = s.post_auth(
        "/oauth/device_authorization",
        &[("scope", "openid")],
        Some(("tv", &secret)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    s.post_auth("/oauth/device_authorization", &[], Some(("tv", "wrong")))
        .assert_error(401, "invalid_client");
    s.post("/oauth/device_authorization", &[("client_id", "tv")])
        .assert_error(401, "invalid_client");
    // No scope: the default.
    let r = s.post(
        "/oauth/device_authorization",
        &[("client_id", "devauth-cli")],
    );
    assert_eq!(r.status, 200);
    let uc = r.json()["user_code"].as_str().unwrap().to_owned();
    assert_eq!(s.grant_by_user_code(&uc).scope.to_string(), "openid");
}

fn device_authorization_rate_limit_per_ip(backend: TestBackend) {
    let s = TestServer::on_with(backend, |c| c.device_rate_limit = 2);
    s.device_auth("openid");
    s.device_auth("openid");
    let r = s.post(
        "/oauth/device_authorization",
        &[("client_id", "devauth-cli")],
    );
    r.assert_error(429, "slow_down");
    // A sliding window: the start of the next minute is no fresh budget…
    s.clock.advance_secs(60);
    s.post(
        "/oauth/device_authorization",
        &[("client_id", "devauth-cli")],
    )
    .assert_error(429, "slow_down");
    // …but once a whole minute has passed without the burst, it is.
    s.clock.advance_secs(120);
    s.device_auth("openid");
}

fn refresh_rotates_and_reuse_revokes_the_family(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("bob");
    let t = s.login(&user, "openid offline_access");
    let r1 = t["refresh_token"].as_str().unwrap().to_owned();
    let r = s.refresh(&r1);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let t2 = r.json();
    let r2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    let at2 = t2["access_token"].as_str().unwrap().to_owned();
    assert_eq!(s.get_bearer("/oauth/userinfo", &at2).status, 200);

    // Reuse of r1 after the grace window: the whole family dies.
    s.clock.advance_secs(11);
    s.refresh(&r1).assert_error(400, "invalid_grant");
    s.refresh(&r2).assert_error(400, "invalid_grant");
    s.get_bearer("/oauth/userinfo", &at2)
        .assert_error(401, "invalid_token");
    let events = s.block_on(s.state.stores.durable.recent_audit(50)).unwrap();
    assert!(events.iter().any(|e| e.kind == "refresh.reuse_detected"));
}

fn refresh_retry_within_grace_window_gets_fresh_tokens(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("carol");
    let t = s.login(&user, "openid offline_access");
    let r1 = t["refresh_token"].as_str().unwrap().to_owned();
    let lost = s.refresh(&r1).json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The response carrying `lost` never arrived; the client retries with r1.
    s.clock.advance_secs(2);
    let r = s.refresh(&r1);
    assert_eq!(r.status, 200, "{}", r.body);
    let r3 = r.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r3, lost);
    let r = s.refresh(&r3);
    assert_eq!(r.status, 200, "{}", r.body);
    // Scope can narrow, not widen.
    let r4 = r.json()["refresh_token"].as_str().unwrap().to_owned();
    s.post(
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r4),
            ("client_id", "devauth-cli"),
            ("scope", "openid profile"),
        ],
    )
    .assert_error(400, "invalid_scope");
    // Without offline_access there is no refresh token at all.
    let t = s.login(&user, "openid");
    assert!(t.get("refresh_token").is_none());
    // Expired refresh tokens are refused.
    s.clock.advance_secs(31 * 24 * 3600);
    s.refresh(&r4).assert_error(400, "invalid_grant");
}

/// Whether a refresh token would still be honoured: active, in a live family.
fn live(s: &TestServer, refresh_token: &str) -> bool {
    let durable = &s.state.stores.durable;
    let Some(t) = s
        .block_on(durable.refresh_token(&TokenHash::of(refresh_token)))
        .unwrap()
    else {
        return false;
    };
    let family = s.block_on(durable.family(&t.family_id)).unwrap().unwrap();
    t.is_active() && family.revoked_at.is_none()
}

fn reuse_events(s: &TestServer) -> usize {
    s.block_on(s.state.stores.durable.recent_audit(200))
        .unwrap()
        .iter()
        .filter(|e| e.kind == "refresh.reuse_detected")
        .count()
}

fn refresh_grace_forgives_only_a_retry_of_the_newest_rotated_token(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("ivan");

    // The successor was used: a retry of its parent, even within the grace
    // window, is reuse and kills the family.
    let r1 = s.login(&user, "openid offline_access")["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r2 = s.refresh(&r1).json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r3 = s.refresh(&r2).json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    s.clock.advance_secs(1);
    s.refresh(&r1).assert_error(400, "invalid_grant");
    assert!(!live(&s, &r3), "the family died with the reuse");
    s.refresh(&r3).assert_error(400, "invalid_grant");
    assert_eq!(reuse_events(&s), 1);

    // A retry is forgiven once: the unused successor dies, and neither the
    // retried token nor the dead successor is forgiven again.
    let r1 = s.login(&user, "openid offline_access")["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let lost = s.refresh(&r1).json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s.refresh(&r1);
    assert_eq!(r.status, 200, "{}", r.body);
    let retried = r.json()["refresh_token"].as_str().unwrap().to_owned();
    assert!(!live(&s, &lost), "the unused successor died");
    assert!(live(&s, &retried));
    s.refresh(&r1).assert_error(400, "invalid_grant");
    assert!(!live(&s, &retried), "a second retry is reuse");
    assert_eq!(reuse_events(&s), 2);

    // The successor that died unused, presented later (it was intercepted):
    // reuse too.
    let r1 = s.login(&user, "openid offline_access")["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let lost = s.refresh(&r1).json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let retried = s.refresh(&r1).json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    s.refresh(&lost).assert_error(400, "invalid_grant");
    assert!(!live(&s, &retried));
    assert_eq!(reuse_events(&s), 3);
}

fn concurrent_presentations_of_one_refresh_token_leave_at_most_one_alive(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("judy");
    let r1 = s.login(&user, "openid offline_access")["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let replies: Vec<(u16, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..60)
            .map(|_| {
                scope.spawn(|| {
                    let r = s.refresh(&r1);
                    let rt = (r.status == 200)
                        .then(|| r.json()["refresh_token"].as_str().unwrap().to_owned());
                    (r.status, rt)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let issued: Vec<&String> = replies.iter().filter_map(|(_, rt)| rt.as_ref()).collect();
    assert!(!issued.is_empty(), "one presentation rotates: {replies:?}");
    for (status, _) in &replies {
        assert!(matches!(status, 200 | 400 | 503), "{replies:?}");
    }
    let alive = issued.iter().filter(|rt| live(&s, rt)).count();
    assert!(
        alive <= 1,
        "{alive} of {} issued refresh tokens live",
        issued.len()
    );
    assert!(!live(&s, &r1));
}

fn add_code(s: &TestServer, code: &str, user_id: &str, redirect: &str, verifier: &str) {
    let now = s.clock.now();
    let record = AuthorizationCode {
        code_hash: TokenHash::of(code),
        client_id: "devauth-cli".into(),
        user_id: user_id.into(),
        redirect_uri: redirect.into(),
        scope: devauth_proto::Scope::parse("openid offline_access").unwrap(),
        code_challenge: devauth_proto::pkce::challenge_s256(verifier),
        nonce: Some("n-0S6_WzA2Mj".into()),
        resource: None,
        auth_time: now,
        created_at: now,
        expires_at: now.plus_secs(60),
    };
    s.block_on(s.state.stores.flow.add_authorization_code(&record))
        .unwrap();
}

fn authorization_code_with_pkce(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("dave");
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let redirect = "http://127.0.0.1:49152/callback";
    let redeem = |code: &str, redirect: &str, verifier: &str| {
        s.post(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
                ("client_id", "devauth-cli"),
            ],
        )
    };
    add_code(&s, "code-1", &user.id, redirect, verifier);
    redeem("code-1", redirect, &"x".repeat(43)).assert_error(400, "invalid_grant");
    // A failed attempt burns the code.
    redeem("code-1", redirect, verifier).assert_error(400, "invalid_grant");

    add_code(&s, "code-2", &user.id, redirect, verifier);
    redeem("code-2", "http://127.0.0.1:49153/callback", verifier)
        .assert_error(400, "invalid_grant");

    add_code(&s, "code-3", &user.id, redirect, verifier);
    s.post(
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", "code-3"),
            ("redirect_uri", redirect),
            ("client_id", "devauth-cli"),
        ],
    )
    .assert_error(400, "invalid_request");
    let r = redeem("code-3", redirect, verifier);
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    let id = verify_with_jwks(&s, t["id_token"].as_str().unwrap(), "devauth-cli");
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert!(t["refresh_token"].is_string());
    // Replay.
    redeem("code-3", redirect, verifier).assert_error(400, "invalid_grant");

    // Expired code.
    add_code(&s, "code-4", &user.id, redirect, verifier);
    s.clock.advance_secs(61);
    redeem("code-4", redirect, verifier).assert_error(400, "invalid_grant");
}

fn a_replayed_authorization_code_revokes_what_its_first_use_issued(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("mallory-victim");
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let redirect = "http://127.0.0.1:49152/callback";
    let redeem = |code: &str| {
        s.post(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
                ("client_id", "devauth-cli"),
            ],
        )
    };
    add_code(&s, "code-a", &user.id, redirect, verifier);
    let first = redeem("code-a");
    assert_eq!(first.status, 200, "{}", first.body);
    let t = first.json();
    let at = t["access_token"].as_str().unwrap().to_owned();
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(s.get_bearer("/oauth/userinfo", &at).status, 200);

    // An untouched login of the same person must survive the replay.
    add_code(&s, "code-b", &user.id, redirect, verifier);
    let other = redeem("code-b").json();

    // The code is presented again (intercepted, or the client was tricked).
    redeem("code-a").assert_error(400, "invalid_grant");
    s.get_bearer("/oauth/userinfo", &at)
        .assert_error(401, "invalid_token");
    s.refresh(&rt).assert_error(400, "invalid_grant");
    let events = s.block_on(s.state.stores.durable.recent_audit(50)).unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == "authorization_code.replayed")
            .count(),
        1
    );
    let other_at = other["access_token"].as_str().unwrap();
    assert_eq!(s.get_bearer("/oauth/userinfo", other_at).status, 200);
    let r = s.refresh(other["refresh_token"].as_str().unwrap());
    assert_eq!(r.status, 200, "{}", r.body);

    // A code never redeemed (unknown or burnt by a failed try) revokes nothing.
    redeem("never-issued").assert_error(400, "invalid_grant");
}

fn add_resource(s: &TestServer, url: &str, scopes: &str) {
    let resource = Resource {
        url: url.into(),
        scopes: devauth_proto::Scope::parse(scopes).unwrap(),
        created_at: s.clock.now(),
    };
    s.block_on(s.state.stores.durable.add_resource(&resource))
        .unwrap();
}

/// The `aud` of a JWT, as a string.
fn aud(s: &TestServer, jwt: &str) -> String {
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(jwt)
        .unwrap()
        .claims;
    let _ = s;
    claims["aud"].as_str().unwrap().to_owned()
}

fn resource_indicators_set_the_audience_on_every_grant(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("rita");
    let mcp = "https://tools.example.test/mcp";
    add_resource(&s, mcp, "mcp:tools");
    let bot = s.add_confidential("bot", &[GrantType::ClientCredentials], "api:read");
    let cc = |extra: &[(&str, &str)]| {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        s.post_auth("/oauth/token", &form, Some(("bot", &bot)))
    };

    // Client credentials: aud = the resource; its scopes come with it.
    let r = cc(&[("resource", mcp), ("scope", "mcp:tools")]);
    assert_eq!(r.status, 200, "{}", r.body);
    let at = r.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(aud(&s, &at), mcp);
    let claims = verify_with_jwks(&s, &at, mcp);
    assert_eq!(claims["scope"], "mcp:tools");
    // Without the resource, its scope is not the client's to ask for.
    cc(&[("scope", "mcp:tools")]).assert_error(400, "invalid_scope");
    // Unknown, malformed or fragment-carrying resources: invalid_target.
    for bad in [
        "https://tools.example.test/other",
        "not a url",
        "https://tools.example.test/mcp#frag",
        "http://tools.example.test/mcp",
    ] {
        cc(&[("resource", bad)]).assert_error(400, "invalid_target");
    }
    // No resource: this server is the audience, as before.
    let r = cc(&[]);
    assert_eq!(aud(&s, r.json()["access_token"].as_str().unwrap()), s.base);

    // Authorization code: the resource asked at /oauth/authorize travels
    // with the code; the token request may repeat it, never change it.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let redirect = "http://127.0.0.1:49152/callback";
    let add = |code: &str| {
        let now = s.clock.now();
        let record = AuthorizationCode {
            code_hash: TokenHash::of(code),
            client_id: "devauth-cli".into(),
            user_id: user.id.clone(),
            redirect_uri: redirect.into(),
            scope: devauth_proto::Scope::parse("openid offline_access").unwrap(),
            code_challenge: devauth_proto::pkce::challenge_s256(verifier),
            nonce: None,
            resource: Some(mcp.into()),
            auth_time: now,
            created_at: now,
            expires_at: now.plus_secs(60),
        };
        s.block_on(s.state.stores.flow.add_authorization_code(&record))
            .unwrap();
    };
    let redeem = |code: &str, resource: Option<&str>| {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
            ("client_id", "devauth-cli"),
        ];
        if let Some(r) = resource {
            form.push(("resource", r));
        }
        s.post("/oauth/token", &form)
    };
    add("code-r1");
    redeem("code-r1", Some("https://tools.example.test/other")).assert_error(400, "invalid_target");
    add("code-r2");
    let r = redeem("code-r2", Some(mcp));
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(aud(&s, at), mcp);
    // Userinfo and introspection keep working for a resource's token.
    assert_eq!(s.get_bearer("/oauth/userinfo", at).status, 200);
    let rs = s.add_confidential("rs", &[GrantType::ClientCredentials], "");
    update_client(&s, "rs", |c| c.may_introspect = true);
    let j = s
        .post_auth("/oauth/introspect", &[("token", at)], Some(("rs", &rs)))
        .json();
    assert_eq!(j["active"], true);
    assert_eq!(j["aud"], mcp);

    // Refresh keeps the resource; asking for another is invalid_target.
    let rt = t["refresh_token"].as_str().unwrap();
    s.post(
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", "devauth-cli"),
            ("resource", "https://elsewhere.example.test/"),
        ],
    )
    .assert_error(400, "invalid_target");
    let r = s.post(
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", "devauth-cli"),
            ("resource", mcp),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let t2 = r.json();
    assert_eq!(aud(&s, t2["access_token"].as_str().unwrap()), mcp);
    let r = s.refresh(t2["refresh_token"].as_str().unwrap());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(aud(&s, r.json()["access_token"].as_str().unwrap()), mcp);

    // Device grant: the resource asked at the device authorization endpoint
    // is the audience of the tokens its approval yields; scopes come with it.
    let r = s.post(
        "/oauth/device_authorization",
        &[
            ("client_id", "devauth-cli"),
            ("scope", "openid mcp:tools offline_access"),
            ("resource", mcp),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let dc = r.json()["device_code"].as_str().unwrap().to_owned();
    let uc = r.json()["user_code"].as_str().unwrap().to_owned();
    s.approve(&uc, &user);
    s.clock.advance_secs(5);
    let t = s.poll(&dc).json();
    assert_eq!(aud(&s, t["access_token"].as_str().unwrap()), mcp);
    assert_eq!(t["scope"], "mcp:tools offline_access openid");
    let r = s.refresh(t["refresh_token"].as_str().unwrap());
    assert_eq!(aud(&s, r.json()["access_token"].as_str().unwrap()), mcp);
    s.post(
        "/oauth/device_authorization",
        &[
            ("client_id", "devauth-cli"),
            ("resource", "https://nope.example.test/"),
        ],
    )
    .assert_error(400, "invalid_target");
}

fn client_credentials_with_basic_and_post(backend: TestBackend) {
    let s = TestServer::on(backend);
    let secret = s.add_confidential("svc", &[GrantType::ClientCredentials], "api:read api:write");
    let r = s.post_auth(
        "/oauth/token",
        &[("grant_type", "client_credentials"), ("scope", "api:read")],
        Some(("svc", &secret)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    assert_eq!(t["scope"], "api:read");
    let claims = verify_with_jwks(&s, t["access_token"].as_str().unwrap(), &s.base);
    assert_eq!(claims["sub"], "svc");

    let r = s.post(
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "svc"),
            ("client_secret", &secret),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);

    for (id, secret) in [("svc", "wrong"), ("nobody", "x")] {
        let r = s.post_auth(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some((id, secret)),
        );
        r.assert_error(401, "invalid_client");
        assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
        s.post(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ],
        )
        .assert_error(401, "invalid_client");
    }
    // A confidential client must authenticate.
    s.post(
        "/oauth/token",
        &[("grant_type", "client_credentials"), ("client_id", "svc")],
    )
    .assert_error(401, "invalid_client");
    // Two methods at once.
    s.post_auth(
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", &secret),
        ],
        Some(("svc", &secret)),
    )
    .assert_error(400, "invalid_request");
    s.post_auth(
        "/oauth/token",
        &[("grant_type", "client_credentials"), ("scope", "admin")],
        Some(("svc", &secret)),
    )
    .assert_error(400, "invalid_scope");
    // The public CLI client may not.
    s.post(
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "devauth-cli"),
        ],
    )
    .assert_error(400, "unauthorized_client");
}

fn revocation(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("erin");
    let t = s.login(&user, "openid offline_access");
    let rt = t["refresh_token"].as_str().unwrap();
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(s.get_bearer("/oauth/userinfo", at).status, 200);
    let r = s.post(
        "/oauth/revoke",
        &[("token", rt), ("client_id", "devauth-cli")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    s.refresh(rt).assert_error(400, "invalid_grant");
    // The access token issued from that refresh token is revoked too.
    s.get_bearer("/oauth/userinfo", at)
        .assert_error(401, "invalid_token");
    // Unknown and already revoked tokens: still 200.
    for token in ["nonsense", rt] {
        let r = s.post(
            "/oauth/revoke",
            &[("token", token), ("client_id", "devauth-cli")],
        );
        assert_eq!(r.status, 200);
    }
    // Revoking an access token alone.
    let t = s.login(&user, "openid offline_access");
    let at = t["access_token"].as_str().unwrap();
    let r = s.post(
        "/oauth/revoke",
        &[
            ("token", at),
            ("token_type_hint", "access_token"),
            ("client_id", "devauth-cli"),
        ],
    );
    assert_eq!(r.status, 200);
    s.get_bearer("/oauth/userinfo", at)
        .assert_error(401, "invalid_token");
    assert_eq!(s.refresh(t["refresh_token"].as_str().unwrap()).status, 200);
    // The client must identify itself.
    s.post("/oauth/revoke", &[("token", at)])
        .assert_error(401, "invalid_client");
    s.post("/oauth/revoke", &[("client_id", "devauth-cli")])
        .assert_error(400, "invalid_request");
}

fn introspection(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("frank");
    let secret = s.add_confidential("rs", &[GrantType::ClientCredentials], "");
    update_client(&s, "rs", |c| c.may_introspect = true);
    let t = s.login(&user, "openid offline_access");
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let introspect = |token: &str| {
        s.post_auth(
            "/oauth/introspect",
            &[("token", token)],
            Some(("rs", &secret)),
        )
    };

    let r = introspect(at);
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["active"], true);
    assert_eq!(j["sub"], user.id);
    assert_eq!(j["username"], "frank");
    assert_eq!(j["client_id"], "devauth-cli");
    assert_eq!(j["scope"], "offline_access openid");
    assert_eq!(j["token_type"], "Bearer");
    let j = introspect(rt).json();
    assert_eq!(j["active"], true);
    assert_eq!(j["token_type"], "refresh_token");

    assert_eq!(introspect("garbage").body, r#"{"active":false}"#);
    // Expired access token.
    s.clock.advance_secs(900);
    assert_eq!(introspect(at).body, r#"{"active":false}"#);
    // Revoked refresh token.
    s.post(
        "/oauth/revoke",
        &[("token", rt), ("client_id", "devauth-cli")],
    );
    assert_eq!(introspect(rt).body, r#"{"active":false}"#);

    // Client authentication is required, and public clients cannot give it.
    s.post("/oauth/introspect", &[("token", at)])
        .assert_error(401, "invalid_client");
    s.post(
        "/oauth/introspect",
        &[("token", at), ("client_id", "devauth-cli")],
    )
    .assert_error(401, "invalid_client");
    s.post_auth("/oauth/introspect", &[("token", at)], Some(("rs", "bad")))
        .assert_error(401, "invalid_client");
}

/// Changes a stored client as `devauth admin client update` does.
fn update_client(s: &TestServer, id: &str, change: impl FnOnce(&mut Client)) {
    let durable = &s.state.stores.durable;
    let mut client = s.block_on(durable.client(id)).unwrap().expect("client");
    change(&mut client);
    assert!(s.block_on(durable.update_client(&client)).unwrap());
}

fn introspecting_other_clients_tokens_needs_the_right(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("grace");
    let bot = s.add_confidential("bot", &[GrantType::ClientCredentials], "");
    let rs = s.add_confidential("rs", &[GrantType::ClientCredentials], "");
    update_client(&s, "rs", |c| c.may_introspect = true);
    let t = s.login(&user, "openid offline_access");
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let introspect = |who: &str, secret: &str, token: &str| {
        let r = s.post_auth(
            "/oauth/introspect",
            &[("token", token)],
            Some((who, secret)),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r
    };
    // An unrelated client learns nothing about someone else's tokens, not
    // even that they are alive: the answer is the same as for garbage.
    for token in [at, rt, "garbage"] {
        assert_eq!(introspect("bot", &bot, token).body, r#"{"active":false}"#);
    }
    // Its own tokens it may see.
    let own = s.post_auth(
        "/oauth/token",
        &[("grant_type", "client_credentials")],
        Some(("bot", &bot)),
    );
    assert_eq!(own.status, 200, "{}", own.body);
    let own = own.json()["access_token"].as_str().unwrap().to_owned();
    let j = introspect("bot", &bot, &own).json();
    assert_eq!(j["active"], true);
    assert_eq!(j["client_id"], "bot");
    // The resource server given the right sees everyone's.
    let j = introspect("rs", &rs, at).json();
    assert_eq!(j["active"], true);
    assert_eq!(j["username"], "grace");
    assert_eq!(introspect("rs", &rs, rt).json()["active"], true);
    assert_eq!(introspect("rs", &rs, &own).json()["active"], true);
}

fn id_tokens_are_signed_with_the_clients_algorithm(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("heidi");
    let disco = s.get("/.well-known/openid-configuration").json();
    let algs = &disco["id_token_signing_alg_values_supported"];
    assert_eq!(algs, &serde_json::json!(["RS256", "ES256"]));
    let jwks: JwkSet = serde_json::from_str(&s.get("/oauth/jwks.json").body).unwrap();
    let published: Vec<String> = jwks
        .keys
        .iter()
        .map(|k| format!("{:?}", k.common.key_algorithm))
        .collect();
    assert!(
        published.iter().any(|a| a.contains("RS256")),
        "{published:?}"
    );
    assert!(
        published.iter().any(|a| a.contains("ES256")),
        "{published:?}"
    );

    // RS256 by default.
    let t = s.login(&user, "openid");
    let id = t["id_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(id).unwrap().alg,
        jsonwebtoken::Algorithm::RS256
    );
    // ES256 for a client registered with it; access tokens stay RS256.
    update_client(&s, "devauth-cli", |c| c.id_token_alg = KeyAlgorithm::Es256);
    // The server caches client records for a few seconds of real time.
    std::thread::sleep(devauth_server::client_cache::CLIENT_CACHE_TTL);
    let t = s.login(&user, "openid profile");
    let id = t["id_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(id).unwrap().alg,
        jsonwebtoken::Algorithm::ES256
    );
    let claims = verify_with_jwks(&s, id, "devauth-cli");
    assert_eq!(claims["sub"], user.id);
    assert_eq!(
        claims["at_hash"],
        devauth_server::keys::at_hash(t["access_token"].as_str().unwrap())
    );
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(at).unwrap().alg,
        jsonwebtoken::Algorithm::RS256
    );
}

fn mcp_client() -> serde_json::Value {
    serde_json::json!({
        "client_name": "Claude Code (devauth-test)",
        "client_uri": "https://claude.example/",
        "redirect_uris": ["http://localhost:33418/callback"],
        "grant_types": ["authorization_code", "refresh_token", DEVICE],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "software_id": "ignored-but-accepted",
    })
}

fn registration_is_off_unless_enabled(backend: TestBackend) {
    let s = TestServer::on(backend);
    let disco = s.get("/.well-known/oauth-authorization-server").json();
    assert!(disco.get("registration_endpoint").is_none());
    let r = s.post_json("/oauth/register", &mcp_client(), None);
    assert_eq!(r.status, 404, "{}", r.body);
    let clients = s.block_on(s.state.stores.durable.list_clients()).unwrap();
    assert_eq!(clients.len(), 1, "only devauth-cli");
}

fn open_registration_makes_clients_that_work(backend: TestBackend) {
    let s = TestServer::on_with(backend, |c| {
        c.registration = devauth_server::config::RegistrationPolicy::Open;
    });
    let disco = s.get("/.well-known/oauth-authorization-server").json();
    assert_eq!(
        disco["registration_endpoint"],
        format!("{}/oauth/register", s.base)
    );

    // A public MCP-style client.
    let r = s.post_json("/oauth/register", &mcp_client(), None);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let info = r.json();
    let id = info["client_id"].as_str().unwrap().to_owned();
    assert!(info.get("client_secret").is_none());
    assert_eq!(info["token_endpoint_auth_method"], "none");
    assert_eq!(info["client_name"], "Claude Code (devauth-test)");
    assert!(info["client_id_issued_at"].is_number());
    assert!(
        info.get("software_id").is_none(),
        "unknown metadata is not echoed"
    );
    let stored = s
        .block_on(s.state.stores.durable.client(&id))
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.origin,
        devauth_server::model::ClientOrigin::Registered
    );
    assert!(stored.used_at.is_none());

    // It can log in with the device grant, and is then marked used.
    let user = s.add_user("reggie");
    let r = s.post(
        "/oauth/device_authorization",
        &[("client_id", &id), ("scope", "openid")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let dc = r.json()["device_code"].as_str().unwrap().to_owned();
    let uc = r.json()["user_code"].as_str().unwrap().to_owned();
    s.approve(&uc, &user);
    s.clock.advance_secs(5);
    let r = s.post(
        "/oauth/token",
        &[
            ("grant_type", DEVICE),
            ("device_code", &dc),
            ("client_id", &id),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let stored = s
        .block_on(s.state.stores.durable.client(&id))
        .unwrap()
        .unwrap();
    assert!(stored.used_at.is_some());

    // A confidential client gets a secret once; only its hash is kept.
    let mut confidential = mcp_client();
    confidential["token_endpoint_auth_method"] = "client_secret_basic".into();
    confidential["redirect_uris"] = serde_json::json!(["https://app.example.test/cb"]);
    let r = s.post_json("/oauth/register", &confidential, None);
    assert_eq!(r.status, 201, "{}", r.body);
    let info = r.json();
    let cid = info["client_id"].as_str().unwrap().to_owned();
    let secret = info["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(info["client_secret_expires_at"], 0);
    let stored = s
        .block_on(s.state.stores.durable.client(&cid))
        .unwrap()
        .unwrap();
    assert_eq!(stored.secret_hash, Some(TokenHash::of(&secret)));
    let ok = s.post_auth(
        "/oauth/introspect",
        &[("token", "x")],
        Some((&cid, &secret)),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    s.post_auth(
        "/oauth/introspect",
        &[("token", "x")],
        Some((&cid, "wrong")),
    )
    .assert_error(401, "invalid_client");

    // Bad metadata, each refused with the RFC 7591 code.
    let with = |key: &str, value: serde_json::Value| {
        let mut m = mcp_client();
        m[key] = value;
        m
    };
    for (body, code) in [
        (
            with(
                "redirect_uris",
                serde_json::json!(["https://evil.example/cb"]),
            ),
            "invalid_redirect_uri",
        ),
        (
            with("redirect_uris", serde_json::json!(["javascript:alert(1)"])),
            "invalid_redirect_uri",
        ),
        (
            with("grant_types", serde_json::json!(["client_credentials"])),
            "invalid_client_metadata",
        ),
        (
            with("grant_types", serde_json::json!(["password"])),
            "invalid_client_metadata",
        ),
        (
            with("scope", "openid admin".into()),
            "invalid_client_metadata",
        ),
        (
            with("client_uri", "javascript:alert(1)".into()),
            "invalid_client_metadata",
        ),
        (
            serde_json::json!(["not", "an", "object"]),
            "invalid_client_metadata",
        ),
    ] {
        s.post_json("/oauth/register", &body, None)
            .assert_error(400, code);
    }
    s.post_raw(
        "/oauth/register",
        "application/x-www-form-urlencoded",
        b"client_name=x",
    )
    .assert_error(400, "invalid_request");
}

fn registration_is_rate_limited_per_ip(backend: TestBackend) {
    let s = TestServer::on_with(backend, |c| {
        c.registration = devauth_server::config::RegistrationPolicy::Open;
        c.registration_rate_limit = 3;
    });
    for _ in 0..3 {
        assert_eq!(
            s.post_json("/oauth/register", &mcp_client(), None).status,
            201
        );
    }
    let r = s.post_json("/oauth/register", &mcp_client(), None);
    assert_eq!(r.status, 429, "{}", r.body);
    // No fresh budget at the next window's edge; two hours later there is.
    s.clock.advance_secs(3600);
    assert_eq!(
        s.post_json("/oauth/register", &mcp_client(), None).status,
        429
    );
    s.clock.advance_secs(7200);
    assert_eq!(
        s.post_json("/oauth/register", &mcp_client(), None).status,
        201
    );
}

fn token_registration_needs_a_live_initial_access_token(backend: TestBackend) {
    let s = TestServer::on_with(backend, |c| {
        c.registration = devauth_server::config::RegistrationPolicy::Token;
    });
    let now = s.clock.now();
    let durable = &s.state.stores.durable;
    s.block_on(durable.add_registration_token(&TokenHash::of("iat-good"), now, now.plus_secs(60)))
        .unwrap();
    s.post_json("/oauth/register", &mcp_client(), None)
        .assert_error(401, "invalid_token");
    s.post_json("/oauth/register", &mcp_client(), Some("iat-wrong"))
        .assert_error(401, "invalid_token");
    let r = s.post_json("/oauth/register", &mcp_client(), Some("iat-good"));
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["client_id"].as_str().unwrap().to_owned();
    let stored = s.block_on(durable.client(&id)).unwrap().unwrap();
    assert_eq!(
        stored.origin,
        devauth_server::model::ClientOrigin::RegisteredWithToken
    );
    s.clock.advance_secs(61);
    s.post_json("/oauth/register", &mcp_client(), Some("iat-good"))
        .assert_error(401, "invalid_token");
}

fn registered_clients_never_used_expire(backend: TestBackend) {
    let s = TestServer::on_with(backend, |c| {
        c.registration = devauth_server::config::RegistrationPolicy::Open;
        c.registered_client_ttl_secs = 3600;
    });
    let register = || {
        s.post_json("/oauth/register", &mcp_client(), None).json()["client_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let idle = register();
    let used = register();
    let durable = &s.state.stores.durable;
    s.block_on(durable.mark_client_used(&used, s.clock.now()))
        .unwrap();
    s.clock.advance_secs(1800);
    s.block_on(devauth_server::sweeper::sweep_once(&s.state));
    assert!(
        s.block_on(durable.client(&idle)).unwrap().is_some(),
        "not yet"
    );
    s.clock.advance_secs(1801);
    s.block_on(devauth_server::sweeper::sweep_once(&s.state));
    assert!(
        s.block_on(durable.client(&idle)).unwrap().is_none(),
        "never used: gone"
    );
    assert!(
        s.block_on(durable.client(&used)).unwrap().is_some(),
        "used: kept"
    );
    assert!(
        s.block_on(durable.client("devauth-cli")).unwrap().is_some(),
        "admin clients never expire"
    );
}

fn jwt_kid(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

fn jwks_kids(s: &TestServer) -> Vec<String> {
    let jwks: JwkSet = serde_json::from_str(&s.get("/oauth/jwks.json").body).unwrap();
    jwks.keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect()
}

fn key_rotation_refuses_no_valid_token(backend: TestBackend) {
    use devauth_server::keys;
    let s = TestServer::on(backend);
    let user = s.add_user("rotor");
    let durable = s.state.stores.durable.clone();
    let t1 = s.login(&user, "openid");
    let at1 = t1["access_token"].as_str().unwrap().to_owned();
    let old_kid = jwt_kid(&at1);

    // `devauth admin keys rotate`, from another process: this server has not
    // reloaded yet.
    let new = s
        .block_on(keys::rotate(durable.as_ref(), s.clock.now()))
        .unwrap();
    assert_eq!(s.get_bearer("/oauth/userinfo", &at1).status, 200);
    let at2 = s.login(&user, "openid")["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(jwt_kid(&at2), old_kid, "still the old key");
    assert_eq!(s.get_bearer("/oauth/userinfo", &at2).status, 200);

    // The sweeper's reload publishes the new keys before they sign.
    s.block_on(devauth_server::sweeper::sweep_once(&s.state));
    let published = jwks_kids(&s);
    assert!(new.iter().all(|k| published.contains(k)), "{published:?}");
    assert!(published.contains(&old_kid));
    let at3 = s.login(&user, "openid")["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(jwt_kid(&at3), old_kid, "published first, signing later");

    // After the switch, new tokens carry the new key; every token verifies.
    s.clock.advance_secs(keys::PUBLISH_AHEAD_SECS);
    s.block_on(devauth_server::sweeper::sweep_once(&s.state));
    let at4 = s.login(&user, "openid")["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(jwt_kid(&at4), new[0]);
    for at in [&at1, &at2, &at3, &at4] {
        assert_eq!(s.get_bearer("/oauth/userinfo", at).status, 200);
    }
    assert!(
        jwks_kids(&s).contains(&old_kid),
        "old tokens can still be checked"
    );

    // Another replica signs with a key this one has never loaded (inserted
    // behind its back): the first token naming it makes this server reload,
    // once, and it verifies.
    let now = s.clock.now();
    let record = keys::generate(devauth_server::model::KeyAlgorithm::Rs256, now).unwrap();
    s.block_on(durable.add_key(&record)).unwrap();
    let foreign = keys::KeySet::from_records(std::slice::from_ref(&record), now, 3600).unwrap();
    let claims = keys::AccessClaims {
        iss: s.base.clone(),
        sub: user.id.clone(),
        aud: s.base.clone(),
        client_id: "devauth-cli".into(),
        scope: "openid".into(),
        jti: "foreign-1".into(),
        iat: now.secs(),
        exp: now.plus_secs(600).secs(),
        auth_time: None,
        sid: None,
    };
    let signed = foreign
        .current(devauth_server::model::KeyAlgorithm::Rs256, now)
        .unwrap()
        .sign("at+jwt", &claims)
        .unwrap();
    assert!(!jwks_kids(&s).contains(&record.kid));
    let rs = s.add_confidential("rs", &[GrantType::ClientCredentials], "");
    update_client(&s, "rs", |c| c.may_introspect = true);
    let j = s
        .post_auth(
            "/oauth/introspect",
            &[("token", &signed)],
            Some(("rs", &rs)),
        )
        .json();
    assert_eq!(j["active"], true, "{j}");
    assert!(
        jwks_kids(&s).contains(&record.kid),
        "reloaded and published"
    );
    // A made-up kid reloads at most once a second and stays inactive.
    let mut fake = signed.clone();
    fake.replace_range(
        ..fake.find('.').unwrap(),
        "eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vLXN1Y2gta2lkIiwidHlwIjoiYXQrand0In0",
    );
    for _ in 0..20 {
        let j = s
            .post_auth("/oauth/introspect", &[("token", &fake)], Some(("rs", &rs)))
            .json();
        assert_eq!(j["active"], false);
    }
}

fn userinfo(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("grace");
    let r = s.get("/oauth/userinfo");
    r.assert_error(401, "invalid_token");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    s.get_bearer("/oauth/userinfo", "not.a.jwt")
        .assert_error(401, "invalid_token");
    let t = s.login(&user, "openid profile");
    let at = t["access_token"].as_str().unwrap();
    // A login without refresh tokens keeps its family (and so its access
    // token) through sweeps.
    s.clock.advance_secs(60);
    s.block_on(devauth_server::sweeper::sweep_once(&s.state));
    let r = s.get_bearer("/oauth/userinfo", at);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["sub"], user.id);
    assert_eq!(r.json()["preferred_username"], "grace");
    // A token signed by someone else with the same kid does not pass.
    let mut forged = at.rsplit_once('.').unwrap().0.to_owned();
    forged.push_str(".AAAA");
    s.get_bearer("/oauth/userinfo", &forged)
        .assert_error(401, "invalid_token");
    // A disabled user's tokens stop working.
    s.block_on(s.state.stores.durable.set_user_disabled("grace", true))
        .unwrap();
    s.get_bearer("/oauth/userinfo", at)
        .assert_error(401, "invalid_token");
    s.block_on(s.state.stores.durable.set_user_disabled("grace", false))
        .unwrap();
    // Expired.
    s.clock.advance_secs(900);
    s.get_bearer("/oauth/userinfo", at)
        .assert_error(401, "invalid_token");
    // A token without openid.
    let secret = s.add_confidential("svc", &[GrantType::ClientCredentials], "");
    let cc = s.post(
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "svc"),
            ("client_secret", &secret),
        ],
    );
    let cc = cc.json()["access_token"].as_str().unwrap().to_owned();
    s.get_bearer("/oauth/userinfo", &cc)
        .assert_error(401, "invalid_token");
}

fn malformed_requests_are_400_never_500(backend: TestBackend) {
    let s = TestServer::on(backend);
    for path in [
        "/oauth/token",
        "/oauth/device_authorization",
        "/oauth/revoke",
        "/oauth/introspect",
    ] {
        s.post_raw(
            path,
            "application/json",
            br#"{"grant_type":"client_credentials"}"#,
        )
        .assert_error(400, "invalid_request");
        s.post_raw(path, "text/plain", b"grant_type=refresh_token")
            .assert_error(400, "invalid_request");
        let big = format!("client_id=devauth-cli&x={}", "a".repeat(80 * 1024));
        s.post_raw(path, "application/x-www-form-urlencoded", big.as_bytes())
            .assert_error(400, "invalid_request");
        s.post_raw(
            path,
            "application/x-www-form-urlencoded",
            b"client_id=devauth-cli&client_id=devauth-cli",
        )
        .assert_error(400, "invalid_request");
        let r = s.post_raw(
            path,
            "application/x-www-form-urlencoded",
            &[0xff, 0xfe, b'=', 0x80],
        );
        assert!(r.status == 400 || r.status == 401, "{path}: {}", r.status);
    }
    s.post("/oauth/token", &[("client_id", "devauth-cli")])
        .assert_error(400, "invalid_request");
    for g in ["password", "implicit", "urn:x"] {
        s.post(
            "/oauth/token",
            &[("grant_type", g), ("client_id", "devauth-cli")],
        )
        .assert_error(400, "unsupported_grant_type");
    }
    s.post(
        "/oauth/token",
        &[("grant_type", DEVICE), ("client_id", "devauth-cli")],
    )
    .assert_error(400, "invalid_request");
    s.post(
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "devauth-cli"),
        ],
    )
    .assert_error(400, "invalid_request");
    // Charset parameter on the content type is fine.
    let r = s.post_raw(
        "/oauth/device_authorization",
        "application/x-www-form-urlencoded; charset=UTF-8",
        b"client_id=devauth-cli",
    );
    assert_eq!(r.status, 200);
    assert_eq!(s.get("/oauth/token").status, 405);
}

#[test]
fn health_metrics_and_outage() {
    let s = TestServer::start();
    let h = s.get("/healthz");
    assert_eq!(h.status, 200);
    assert_eq!(
        h.json(),
        serde_json::json!({"status": "ok", "durable": "ok", "flow": "ok"})
    );
    s.device_auth("openid");
    let (dc, _) = s.device_auth("openid");
    s.poll(&dc);
    let m = s.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(m.body.contains("devauth_http_requests_total"), "{}", m.body);
    assert!(
        m.body
            .contains("devauth_http_request_duration_seconds_bucket")
    );
    assert!(m.body.contains("outcome=\"authorization_pending\""));
    assert!(m.body.contains("devauth_audit_events_total"));

    // The database goes away: 503 and temporarily_unavailable, never a 500.
    s.block_on(s.sqlite.as_ref().expect("a SQLite server").close());
    let h = s.get("/healthz");
    assert_eq!(h.status, 503);
    assert_eq!(h.json()["durable"], "unavailable");
    s.post(
        "/oauth/device_authorization",
        &[("client_id", "devauth-cli")],
    )
    .assert_error(503, "temporarily_unavailable");
    s.poll(&dc).assert_error(503, "temporarily_unavailable");
}

fn concurrent_polls_redeem_an_approval_exactly_once(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("heidi");
    let (dc, uc) = s.device_auth("openid offline_access");
    s.approve(&uc, &user);
    s.clock.advance_secs(5);
    let replies: Vec<(u16, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let r = s.poll(&dc);
                    let code = if r.status == 200 {
                        "ok".to_owned()
                    } else {
                        r.json()["error"].as_str().unwrap_or("").to_owned()
                    };
                    (r.status, code)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wins = replies.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(wins, 1, "{replies:?}");
    for (status, code) in &replies {
        assert!(
            *status == 200 || (*status == 400 && (code == "invalid_grant" || code == "slow_down")),
            "{replies:?}"
        );
    }
}

fn concurrent_authorization_code_redemptions_succeed_once(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("ivan");
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let redirect = "http://localhost:50000/callback";
    add_code(&s, "race", &user.id, redirect, verifier);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    s.post(
                        "/oauth/token",
                        &[
                            ("grant_type", "authorization_code"),
                            ("code", "race"),
                            ("redirect_uri", redirect),
                            ("code_verifier", verifier),
                            ("client_id", "devauth-cli"),
                        ],
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        5,
        "{statuses:?}"
    );
}

/// A grant stored before device codes carried their issue time (plain
/// SHA-256 of a bare secret) is still found, approved and redeemed; a code
/// whose time prefix was changed finds nothing.
fn device_codes_issued_before_the_time_prefix_still_work(backend: TestBackend) {
    let s = TestServer::on(backend);
    let user = s.add_user("legacy");
    let now = s.clock.now();
    let legacy = "Q2hhbmdlZCB0aGUgZm9ybWF0IGFmdGVyIHRoaXMgb25l";
    let grant = DeviceGrant {
        device_code_hash: TokenHash::of(legacy),
        user_code: "BCDFGHJK".into(),
        ..devauth_testkit::store_suite::sample_grant(now)
    };
    s.block_on(s.state.stores.flow.add_device_grant(&grant))
        .unwrap();
    s.poll(legacy).assert_error(400, "authorization_pending");
    s.approve("BCDFGHJK", &user);
    s.clock.advance_secs(5);
    let r = s.poll(legacy);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["access_token"].is_string());
    s.clock.advance_secs(5);
    s.poll(legacy).assert_error(400, "invalid_grant");

    // A fresh code with its issue time moved by a millisecond is unknown.
    let r = s.post(
        "/oauth/device_authorization",
        &[("client_id", "devauth-cli")],
    );
    let dc = r.json()["device_code"].as_str().unwrap().to_owned();
    let (issued, secret) = dc.split_once('.').unwrap();
    let moved = u64::from_str_radix(issued, 16).unwrap() + 1;
    s.poll(&format!("{moved:012x}.{secret}"))
        .assert_error(400, "invalid_grant");
    s.poll(secret).assert_error(400, "invalid_grant");
    s.poll(&dc).assert_error(400, "authorization_pending");
}

fn the_user_name_goes_to_operator_clients_and_to_others_only_with_profile(backend: TestBackend) {
    let s = TestServer::on_with(backend, |c| {
        c.registration = devauth_server::config::RegistrationPolicy::Open;
    });
    let user = s.add_user("alice");
    // devauth-cli (made by the operator), `openid` alone: the name is there.
    let t = s.login(&user, "openid");
    let id = verify_with_jwks(&s, t["id_token"].as_str().unwrap(), "devauth-cli");
    assert_eq!(id["preferred_username"], "alice");
    // A self-registered client must ask for `profile`.
    let r = s.post_json("/oauth/register", &mcp_client(), None);
    let cid = r.json()["client_id"].as_str().unwrap().to_owned();
    for (scope, name) in [("openid", None), ("openid profile", Some("alice"))] {
        let r = s.post(
            "/oauth/device_authorization",
            &[("client_id", cid.as_str()), ("scope", scope)],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let j = r.json();
        s.approve(j["user_code"].as_str().unwrap(), &user);
        s.clock.advance_secs(5);
        let r = s.post(
            "/oauth/token",
            &[
                ("grant_type", devauth_proto::grant::DEVICE_CODE_GRANT),
                ("device_code", j["device_code"].as_str().unwrap()),
                ("client_id", cid.as_str()),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let id = verify_with_jwks(&s, r.json()["id_token"].as_str().unwrap(), &cid);
        assert_eq!(id["preferred_username"].as_str(), name, "{scope}");
    }
}

/// A loopback server for client metadata documents: `/ok.json` a valid
/// document (max-age 600), `/big.json` one over the size limit,
/// `/redirect.json` a redirect, `/liar.json` one naming another client_id,
/// `/web.json` one with a web redirect URI for a public client,
/// `/slow.json` one that answers after 7 s. Counts requests per path.
fn document_server() -> (
    String,
    Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
) {
    use std::io::{BufRead as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let (b, h) = (base.clone(), hits.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let (b, h) = (b.clone(), h.clone());
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap_or(0);
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l).unwrap_or(0) == 0 || l.trim().is_empty() {
                        break;
                    }
                }
                *h.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
                let doc = |id: &str, redirect: &str| {
                    format!(
                        r#"{{"client_id":"{id}","client_name":"Doc App","client_uri":"https://app.example.com","redirect_uris":["{redirect}"],"grant_types":["authorization_code","refresh_token","urn:ietf:params:oauth:grant-type:device_code"],"response_types":["code"],"token_endpoint_auth_method":"none"}}"#
                    )
                };
                let (status, extra, body) = match path.as_str() {
                    "/ok.json" => (
                        200,
                        "Cache-Control: max-age=600\r\n".to_owned(),
                        doc(&format!("{b}/ok.json"), "http://127.0.0.1/cb"),
                    ),
                    "/big.json" => (
                        200,
                        String::new(),
                        format!(
                            r#"{},"padding":"{}"}}"#,
                            doc(&format!("{b}/big.json"), "http://127.0.0.1/cb")
                                .trim_end_matches('}'),
                            "x".repeat(6000)
                        ),
                    ),
                    "/redirect.json" => (
                        302,
                        "Location: http://10.0.0.1/ok.json\r\n".to_owned(),
                        String::new(),
                    ),
                    "/liar.json" => (
                        200,
                        String::new(),
                        doc(&format!("{b}/ok.json"), "http://127.0.0.1/cb"),
                    ),
                    "/web.json" => (
                        200,
                        String::new(),
                        doc(&format!("{b}/web.json"), "http://evil.example.com/cb"),
                    ),
                    "/slow.json" => {
                        std::thread::sleep(std::time::Duration::from_secs(7));
                        (
                            200,
                            String::new(),
                            doc(&format!("{b}/slow.json"), "http://127.0.0.1/cb"),
                        )
                    }
                    _ => (404, String::new(), String::new()),
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    (base, hits)
}

fn client_metadata_documents_are_fetched_behind_the_fence(backend: TestBackend) {
    let (docs, hits) = document_server();
    let s = TestServer::on_with(backend, |c| {
        c.registration = devauth_server::config::RegistrationPolicy::Open;
        c.allow_private_client_metadata = true;
    });
    let disco = s.get("/.well-known/oauth-authorization-server").json();
    assert_eq!(disco["client_id_metadata_document_supported"], true);

    // A valid document: the client it describes works, fetched once.
    let ok = format!("{docs}/ok.json");
    for _ in 0..2 {
        let r = s.post("/oauth/device_authorization", &[("client_id", &ok)]);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(
        hits.lock().unwrap().get("/ok.json"),
        Some(&1),
        "cached per max-age"
    );
    let stored = s
        .block_on(s.state.stores.durable.client(&ok))
        .unwrap()
        .unwrap();
    assert_eq!(stored.origin.as_str(), "metadata-document");
    assert_eq!(stored.name, "Doc App");
    assert!(stored.secret_hash.is_none());
    // The authorization request finds it too.
    let r = s.get(&format!(
        "/oauth/authorize?response_type=code&client_id={}&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s",
        url::form_urlencoded::byte_serialize(ok.as_bytes()).collect::<String>()
    ));
    assert!(r.status < 400, "{} {}", r.status, r.body);
    assert!(!r.body.contains("not registered"), "{}", r.body);
    // A redirect URI the document does not list is refused, as for any client.
    let r = s.get(&format!(
        "/oauth/authorize?response_type=code&client_id={}&redirect_uri=http%3A%2F%2Fevil.example.com%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s",
        url::form_urlencoded::byte_serialize(ok.as_bytes()).collect::<String>()
    ));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.header("location").is_none(),
        "never redirected to an unlisted URI"
    );

    // Too big, a redirect, a document naming another client, a public
    // client with a web redirect URI, one too slow: each is no client.
    for bad in ["big", "redirect", "liar", "web", "slow"] {
        let id = format!("{docs}/{bad}.json");
        let r = s.post("/oauth/device_authorization", &[("client_id", &id)]);
        r.assert_error(401, "invalid_client");
        assert!(
            s.block_on(s.state.stores.durable.client(&id))
                .unwrap()
                .is_none(),
            "{bad} was stored"
        );
    }
    // A failure is remembered: no second fetch.
    let r = s.post(
        "/oauth/device_authorization",
        &[("client_id", &format!("{docs}/big.json"))],
    );
    r.assert_error(401, "invalid_client");
    assert_eq!(hits.lock().unwrap().get("/big.json"), Some(&1));
    assert_eq!(
        hits.lock().unwrap().get("/redirect.json"),
        Some(&1),
        "the redirect was not followed"
    );

    // Without --allow-private-client-metadata, no private or loopback target
    // is contacted, whatever the URL says.
    let fenced = TestServer::on_with(backend, |c| {
        c.registration = devauth_server::config::RegistrationPolicy::Open;
    });
    let before = hits.lock().unwrap().values().sum::<usize>();
    let port = docs.rsplit(':').next().unwrap();
    for id in [
        format!("https://127.0.0.1:{port}/ok.json"),
        format!("https://localhost:{port}/ok.json"),
        ok.clone(),
    ] {
        fenced
            .post("/oauth/device_authorization", &[("client_id", &id)])
            .assert_error(401, "invalid_client");
    }
    assert_eq!(hits.lock().unwrap().values().sum::<usize>(), before);
    // With registration off, documents are not used at all.
    let off = TestServer::on(backend);
    assert!(
        off.get("/.well-known/oauth-authorization-server")
            .json()
            .get("client_id_metadata_document_supported")
            .is_none()
    );
}

on_each_backend!(
    discovery_documents_advertise_what_is_implemented,
    device_flow_pending_then_approved_then_single_use,
    device_codes_issued_before_the_time_prefix_still_work,
    an_approval_survives_a_store_failure_while_issuing,
    slow_down_grows_the_interval_and_it_is_persisted,
    slow_down_at_the_interval_cap_stores_nothing,
    denied_and_expired_codes,
    device_authorization_errors,
    device_authorization_rate_limit_per_ip,
    refresh_rotates_and_reuse_revokes_the_family,
    refresh_retry_within_grace_window_gets_fresh_tokens,
    refresh_grace_forgives_only_a_retry_of_the_newest_rotated_token,
    concurrent_presentations_of_one_refresh_token_leave_at_most_one_alive,
    authorization_code_with_pkce,
    a_replayed_authorization_code_revokes_what_its_first_use_issued,
    resource_indicators_set_the_audience_on_every_grant,
    registration_is_off_unless_enabled,
    open_registration_makes_clients_that_work,
    registration_is_rate_limited_per_ip,
    client_metadata_documents_are_fetched_behind_the_fence,
    the_user_name_goes_to_operator_clients_and_to_others_only_with_profile,
    token_registration_needs_a_live_initial_access_token,
    registered_clients_never_used_expire,
    client_credentials_with_basic_and_post,
    revocation,
    introspection,
    key_rotation_refuses_no_valid_token,
    introspecting_other_clients_tokens_needs_the_right,
    id_tokens_are_signed_with_the_clients_algorithm,
    userinfo,
    malformed_requests_are_400_never_500,
    concurrent_polls_redeem_an_approval_exactly_once,
    concurrent_authorization_code_redemptions_succeed_once,
);

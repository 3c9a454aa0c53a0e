//! The backend conformance suite: async checks that every [`Stores`]
//! combination must pass (SQLite; PostgreSQL; PostgreSQL + Redis), plus the
//! scaffolding every test on those combinations uses: [`TestBackend`] (the
//! one enum of combinations), [`TestStores`] (stores in private storage),
//! [`PgTestSchema`], and the service URLs ([`test_database_url`] honours
//! `DEVAUTH_TEST_DATABASE_URL`, [`test_redis_url`] `DEVAUTH_TEST_REDIS_URL`).
//!
//! Each check takes `&Stores`, uses ids of its own (random suffixes), and
//! panics with a message on a broken rule, so the server's `stores` tests
//! only open a backend and call [`run_all`]. Times are fixed model timestamps around
//! [`T0`], never the wall clock; TTL-based backends only see lifetimes.
//!
//! Concurrency checks spawn tasks on the runtime: run them on a multi-thread
//! tokio runtime so the racers really overlap.

use std::sync::Arc;

use devauth_proto::{GrantType, Scope};

use devauth_server::model::{
    AuditEvent, AuthorizationCode, BrowserSession, Client, DeviceGrant, DeviceGrantState,
    KeyAlgorithm, RefreshToken, RefreshTokenState, Requester, Resource, SigningKeyRecord,
    Timestamp, TokenFamily, TokenHash, User,
};
use devauth_server::store::sqlite::SqliteStore;
use devauth_server::store::{StoreError, Stores};

use crate::require_service;

/// The suite's "now": 2023-11-14T22:13:00Z, a whole number of minutes.
pub const T0: Timestamp = Timestamp::from_millis(1_699_999_980_000);

/// How many tasks race in the concurrency checks.
pub const RACERS: usize = 8;

/// A random lowercase hex string of `bytes * 2` characters.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A unique id with a readable tag.
fn uniq(tag: &str) -> String {
    format!("{tag}-{}", random_hex(6))
}

/// A random canonical user code, drawn as the server draws them.
fn user_code() -> String {
    devauth_server::random::user_code().as_str().to_owned()
}

fn scope(s: &str) -> Scope {
    Scope::parse(s).expect("valid scope")
}

/// A pending grant created at `at`, living 600 s.
pub fn sample_grant(at: Timestamp) -> DeviceGrant {
    DeviceGrant {
        id: uniq("grant"),
        device_code_hash: TokenHash::of_device_code(
            devauth_server::random::device_code(at).expose(),
        ),
        user_code: user_code(),
        client_id: "devauth-cli".into(),
        resource: None,
        scope: scope("openid offline_access"),
        requester: Requester {
            ip: "127.0.0.1".into(),
            user_agent: "devauth-suite/1.0 (a user agent long enough to matter, x86_64 Linux)"
                .into(),
        },
        created_at: at,
        expires_at: at.plus_secs(600),
        interval_secs: 5,
        last_polled_at: None,
        failed_confirmations: 0,
        state: DeviceGrantState::Pending,
        version: 0,
    }
}

fn sample_user(name: &str) -> User {
    User {
        id: uniq("user"),
        username: name.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        disabled: false,
        created_at: T0,
    }
}

fn sample_family(id: &str) -> TokenFamily {
    TokenFamily {
        id: id.to_owned(),
        client_id: "devauth-cli".into(),
        user_id: "u1".into(),
        auth_time: T0,
        created_at: T0,
        code_hash: None,
        resource: None,
        revoked_at: None,
    }
}

fn sample_refresh(family_id: &str, created_at: Timestamp) -> RefreshToken {
    RefreshToken {
        id: uniq("rt"),
        token_hash: TokenHash::of(&uniq("refresh")),
        family_id: family_id.to_owned(),
        client_id: "devauth-cli".into(),
        user_id: "u1".into(),
        scope: scope("openid offline_access"),
        created_at,
        expires_at: created_at.plus_secs(30 * 24 * 3600),
        state: RefreshTokenState::Active,
        parent_id: None,
        version: 0,
    }
}

fn sample_code(at: Timestamp) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: TokenHash::of(&uniq("code")),
        client_id: "devauth-cli".into(),
        user_id: "u1".into(),
        redirect_uri: "http://127.0.0.1:49152/callback".into(),
        scope: scope("openid"),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        resource: None,
        auth_time: at,
        created_at: at,
        expires_at: at.plus_secs(60),
    }
}

fn sample_session(at: Timestamp) -> BrowserSession {
    BrowserSession {
        id_hash: TokenHash::of(&uniq("session")),
        csrf_token: random_hex(16),
        user_id: None,
        authenticated_at: None,
        created_at: at,
        expires_at: at.plus_secs(3600),
        version: 0,
    }
}

/// Every check, one after the other.
pub async fn run_all(stores: &Stores) {
    ping(stores).await;
    users(stores).await;
    clients(stores).await;
    keys(stores).await;
    family_revoke(stores).await;
    rotation(stores).await;
    rotation_race(stores).await;
    access_token_revocation(stores).await;
    audit(stores).await;
    durable_sweep(stores).await;
    device_grants(stores).await;
    device_grant_race(stores).await;
    authorization_codes(stores).await;
    authorization_code_race(stores).await;
    sessions(stores).await;
    hits(stores).await;
    hit_race(stores).await;
    expiry_and_sweep(stores).await;
    user_code_reuse(stores).await;
    family_retention(stores).await;
    resources(stores).await;
}

/// Protected resources: add, find by exact URL, list by URL, remove.
pub async fn resources(stores: &Stores) {
    let d = &stores.durable;
    let base = format!("https://{}.example/mcp", uniq("res"));
    let a = Resource {
        url: base.clone(),
        scopes: scope("mcp:tools mcp:read"),
        created_at: T0,
    };
    let b = Resource {
        url: format!("{base}/other"),
        scopes: Scope::default(),
        created_at: T0.plus_secs(1),
    };
    d.add_resource(&b).await.expect("add resource");
    d.add_resource(&a).await.expect("add resource");
    assert_eq!(d.resource(&a.url).await.unwrap(), Some(a.clone()));
    assert_eq!(
        d.resource(&format!("{base}/")).await.unwrap(),
        None,
        "exact match"
    );
    assert!(matches!(
        d.add_resource(&a).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let listed: Vec<String> = d
        .list_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.url)
        .filter(|u| u.starts_with(&base))
        .collect();
    assert_eq!(listed, vec![a.url.clone(), b.url.clone()], "listed by URL");
    assert!(d.remove_resource(&a.url).await.unwrap());
    assert!(!d.remove_resource(&a.url).await.unwrap());
    assert_eq!(d.resource(&a.url).await.unwrap(), None);
}

/// Both stores answer a ping.
pub async fn ping(stores: &Stores) {
    stores.durable.ping().await.expect("durable ping");
    stores.flow.ping().await.expect("flow ping");
}

/// Users: add, look up by name and id, uniqueness, listing order, disabling.
pub async fn users(stores: &Stores) {
    let d = &stores.durable;
    let b = sample_user(&uniq("bob"));
    let a = sample_user(&format!("a{}", b.username));
    d.add_user(&b).await.expect("add user");
    d.add_user(&a).await.expect("add user");
    assert_eq!(d.user_by_name(&b.username).await.unwrap(), Some(b.clone()));
    assert_eq!(d.user_by_id(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(d.user_by_name("nobody-at-all").await.unwrap(), None);
    assert_eq!(d.user_by_id("no-such-id").await.unwrap(), None);

    let mut dup = sample_user(&b.username);
    dup.id = uniq("other");
    assert!(
        matches!(d.add_user(&dup).await, Err(StoreError::AlreadyExists(_))),
        "a duplicate username is AlreadyExists"
    );

    let listed = d.list_users().await.unwrap();
    let ia = listed.iter().position(|u| u.id == a.id).expect("a listed");
    let ib = listed.iter().position(|u| u.id == b.id).expect("b listed");
    assert!(ia < ib, "users are listed by name");
    let names: Vec<&str> = listed.iter().map(|u| u.username.as_str()).collect();
    assert!(names.is_sorted(), "users are listed by name");

    assert!(d.set_user_disabled(&b.username, true).await.unwrap());
    assert!(d.user_by_id(&b.id).await.unwrap().unwrap().disabled);
    assert!(d.set_user_disabled(&b.username, false).await.unwrap());
    assert!(!d.user_by_id(&b.id).await.unwrap().unwrap().disabled);
    assert!(!d.set_user_disabled("nobody-at-all", true).await.unwrap());
}

/// Clients: public and confidential round trips, uniqueness, listing order.
pub async fn clients(stores: &Stores) {
    let d = &stores.durable;
    let public = Client {
        id: uniq("cli"),
        name: "Command line".into(),
        secret_hash: None,
        grant_types: vec![GrantType::DeviceCode, GrantType::RefreshToken],
        redirect_uris: vec![],
        allowed_scopes: Scope::default(),
        may_introspect: false,
        origin: devauth_server::model::ClientOrigin::Admin,
        client_uri: None,
        used_at: None,
        id_token_alg: KeyAlgorithm::Rs256,
        created_at: T0,
    };
    let confidential = Client {
        id: format!("{}-web", public.id),
        name: "Web \"app\" ünïcode".into(),
        secret_hash: Some(TokenHash::of("s3cret")),
        grant_types: vec![
            GrantType::AuthorizationCode,
            GrantType::ClientCredentials,
            GrantType::Unknown("urn:example:custom".into()),
        ],
        redirect_uris: vec![
            "http://127.0.0.1/callback".into(),
            "https://app.example/cb".into(),
        ],
        allowed_scopes: scope("openid profile email"),
        may_introspect: false,
        origin: devauth_server::model::ClientOrigin::Admin,
        client_uri: None,
        used_at: None,
        id_token_alg: KeyAlgorithm::Rs256,
        created_at: T0.plus_secs(1),
    };
    d.add_client(&confidential).await.expect("add client");
    d.add_client(&public).await.expect("add client");
    assert_eq!(d.client(&public.id).await.unwrap(), Some(public.clone()));
    assert_eq!(
        d.client(&confidential.id).await.unwrap(),
        Some(confidential.clone())
    );
    assert_eq!(d.client("no-such-client").await.unwrap(), None);
    assert!(
        matches!(
            d.add_client(&public).await,
            Err(StoreError::AlreadyExists(_))
        ),
        "a duplicate client id is AlreadyExists"
    );
    let listed = d.list_clients().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|c| c.id.as_str()).collect();
    assert!(ids.is_sorted(), "clients are listed by id");
    assert!(ids.contains(&public.id.as_str()) && ids.contains(&confidential.id.as_str()));

    // Update: what can change does, the id, secret and creation time do not.
    let mut changed = confidential.clone();
    changed.name = "Renamed".into();
    changed.grant_types = vec![GrantType::ClientCredentials];
    changed.redirect_uris = vec![];
    changed.allowed_scopes = scope("api:read");
    changed.may_introspect = true;
    changed.id_token_alg = KeyAlgorithm::Es256;
    changed.secret_hash = Some(TokenHash::of("not-this"));
    changed.created_at = T0.plus_secs(99);
    assert!(d.update_client(&changed).await.unwrap());
    let stored = d.client(&confidential.id).await.unwrap().unwrap();
    assert_eq!(
        stored,
        Client {
            secret_hash: confidential.secret_hash.clone(),
            created_at: confidential.created_at,
            ..changed.clone()
        }
    );
    let mut ghost = changed;
    ghost.id = uniq("no-such-client");
    assert!(!d.update_client(&ghost).await.unwrap(), "absent: false");
}

/// Signing keys: newest first, retirement, deletion of long-retired keys.
pub async fn keys(stores: &Stores) {
    let d = &stores.durable;
    let base = T0.plus_secs(100_000);
    let old = SigningKeyRecord {
        kid: uniq("kid-old"),
        alg: KeyAlgorithm::Rs256,
        private_pkcs8_der: vec![0x30, 0x82, 0x00, 0xff, 0x00],
        created_at: base,
        retired_at: None,
    };
    let new = SigningKeyRecord {
        kid: uniq("kid-new"),
        alg: KeyAlgorithm::Es256,
        private_pkcs8_der: (0..=255).collect(),
        created_at: base.plus_secs(10),
        retired_at: None,
    };
    d.add_key(&old).await.expect("add key");
    d.add_key(&new).await.expect("add key");
    let listed = d.list_keys().await.unwrap();
    let io = listed
        .iter()
        .position(|k| k.kid == old.kid)
        .expect("old key listed");
    let inew = listed
        .iter()
        .position(|k| k.kid == new.kid)
        .expect("new key listed");
    assert!(inew < io, "keys are listed newest first");
    assert_eq!(listed[inew], new);

    let retired_at = base.plus_secs(20);
    d.retire_keys_except(&new.kid, retired_at).await.unwrap();
    let listed = d.list_keys().await.unwrap();
    let find = |kid: &str| listed.iter().find(|k| k.kid == kid).cloned();
    assert_eq!(find(&old.kid).unwrap().retired_at, Some(retired_at));
    assert_eq!(find(&new.kid).unwrap().retired_at, None);

    // Retiring again keeps the first retirement time.
    d.retire_keys_except(&new.kid, retired_at.plus_secs(5))
        .await
        .unwrap();
    let listed = d.list_keys().await.unwrap();
    let again = listed.iter().find(|k| k.kid == old.kid).unwrap();
    assert_eq!(again.retired_at, Some(retired_at));

    assert_eq!(d.delete_keys_retired_before(retired_at).await.unwrap(), 0);
    assert!(
        d.delete_keys_retired_before(retired_at.plus_secs(1))
            .await
            .unwrap()
            >= 1
    );
    let listed = d.list_keys().await.unwrap();
    assert!(listed.iter().all(|k| k.kid != old.kid), "old key deleted");
    assert!(listed.iter().any(|k| k.kid == new.kid), "current key kept");
}

/// Revoking a family revokes every token in it, once.
pub async fn family_revoke(stores: &Stores) {
    let d = &stores.durable;
    let family = sample_family(&uniq("fam"));
    d.add_family(&family).await.expect("add family");
    assert_eq!(d.family(&family.id).await.unwrap(), Some(family.clone()));
    assert_eq!(d.family("no-such-family").await.unwrap(), None);
    // A family issued from an authorization code is found by the code's hash.
    let mut from_code = sample_family(&uniq("fam-code"));
    let code_hash = TokenHash::of(&uniq("code"));
    from_code.code_hash = Some(code_hash.clone());
    d.add_family(&from_code).await.unwrap();
    assert_eq!(d.family_by_code(&code_hash).await.unwrap(), Some(from_code));
    assert_eq!(
        d.family_by_code(&TokenHash::of("no-such-code"))
            .await
            .unwrap(),
        None
    );
    let t1 = sample_refresh(&family.id, T0);
    let t2 = sample_refresh(&family.id, T0.plus_secs(1));
    d.add_refresh_token(&t1).await.unwrap();
    d.add_refresh_token(&t2).await.unwrap();
    assert_eq!(
        d.refresh_token(&t1.token_hash).await.unwrap(),
        Some(t1.clone())
    );

    let other = sample_family(&uniq("fam-other"));
    d.add_family(&other).await.unwrap();
    let t3 = sample_refresh(&other.id, T0);
    d.add_refresh_token(&t3).await.unwrap();

    let at = T0.plus_secs(60);
    assert!(d.revoke_family(&family.id, at).await.unwrap());
    assert_eq!(
        d.family(&family.id).await.unwrap().unwrap().revoked_at,
        Some(at)
    );
    for t in [&t1, &t2] {
        let stored = d.refresh_token(&t.token_hash).await.unwrap().unwrap();
        assert!(
            matches!(stored.state, RefreshTokenState::Revoked { .. }),
            "every token of the family is revoked"
        );
    }
    let untouched = d.refresh_token(&t3.token_hash).await.unwrap().unwrap();
    assert_eq!(
        untouched.state,
        RefreshTokenState::Active,
        "other families untouched"
    );
    assert!(
        !d.revoke_family(&family.id, at).await.unwrap(),
        "second revoke is false"
    );
    assert!(!d.revoke_family("no-such-family", at).await.unwrap());
}

/// Rotation: CAS on the old token, insert of the new one, lost race.
pub async fn rotation(stores: &Stores) {
    let d = &stores.durable;
    let family = sample_family(&uniq("fam-rot"));
    d.add_family(&family).await.unwrap();
    let old = sample_refresh(&family.id, T0);
    d.add_refresh_token(&old).await.unwrap();

    let now = T0.plus_secs(30);
    let mut rotated = old.clone();
    rotated.state = RefreshTokenState::Rotated { rotated_at: now };
    let new = sample_refresh(&family.id, now);
    assert!(d.rotate_refresh_token(&rotated, 0, &new).await.unwrap());
    let stored_old = d.refresh_token(&old.token_hash).await.unwrap().unwrap();
    assert_eq!(
        stored_old.state,
        RefreshTokenState::Rotated { rotated_at: now }
    );
    assert_eq!(stored_old.version, 1, "the update bumps the version");
    assert_eq!(
        d.refresh_token(&new.token_hash).await.unwrap(),
        Some(new.clone())
    );
    assert_eq!(
        d.latest_in_family(&family.id).await.unwrap().map(|t| t.id),
        Some(new.id.clone())
    );

    // A second rotation from the stale version loses and inserts nothing.
    let loser = sample_refresh(&family.id, now.plus_secs(1));
    assert!(!d.rotate_refresh_token(&rotated, 0, &loser).await.unwrap());
    assert_eq!(d.refresh_token(&loser.token_hash).await.unwrap(), None);
    assert_eq!(
        d.latest_in_family(&family.id).await.unwrap().map(|t| t.id),
        Some(new.id)
    );
    assert_eq!(d.latest_in_family("no-such-family").await.unwrap(), None);
}

/// Concurrent rotations of one token: exactly one wins, one new token exists.
pub async fn rotation_race(stores: &Stores) {
    let d = &stores.durable;
    let family = sample_family(&uniq("fam-race"));
    d.add_family(&family).await.unwrap();
    let old = sample_refresh(&family.id, T0);
    d.add_refresh_token(&old).await.unwrap();
    let now = T0.plus_secs(30);
    let mut rotated = old.clone();
    rotated.state = RefreshTokenState::Rotated { rotated_at: now };

    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = Arc::clone(&stores.durable);
        let rotated = rotated.clone();
        let new = sample_refresh(&family.id, now);
        tasks.push(tokio::spawn(async move {
            let won = store.rotate_refresh_token(&rotated, 0, &new).await;
            (won, new)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (won, new) = task.await.expect("task");
        if won.expect("rotation call") {
            winners.push(new);
        } else {
            assert_eq!(d.refresh_token(&new.token_hash).await.unwrap(), None);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation wins");
    assert!(
        d.refresh_token(&winners[0].token_hash)
            .await
            .unwrap()
            .is_some()
    );
}

/// Revoked access tokens are remembered until their expiry, then swept.
pub async fn access_token_revocation(stores: &Stores) {
    let d = &stores.durable;
    let jti = uniq("jti");
    assert!(!d.is_access_token_revoked(&jti).await.unwrap());
    let exp = T0.plus_secs(900);
    d.revoke_access_token(&jti, exp).await.unwrap();
    d.revoke_access_token(&jti, exp)
        .await
        .expect("revoking twice is fine");
    assert!(d.is_access_token_revoked(&jti).await.unwrap());
    assert!(!d.is_access_token_revoked("another-jti").await.unwrap());
    d.sweep(T0.plus_secs(899)).await.unwrap();
    assert!(
        d.is_access_token_revoked(&jti).await.unwrap(),
        "kept before expiry"
    );
    d.sweep(exp).await.unwrap();
    assert!(
        !d.is_access_token_revoked(&jti).await.unwrap(),
        "swept at expiry"
    );
}

/// Audit events come back newest first with their details.
pub async fn audit(stores: &Stores) {
    let d = &stores.durable;
    let tag = uniq("audit");
    let far = T0.plus_secs(10_000_000);
    for (i, kind) in ["device_code.issued", "device_code.approved", "token.issued"]
        .iter()
        .enumerate()
    {
        d.audit(&AuditEvent {
            at: far.plus_secs(i as i64),
            kind: (*kind).to_owned(),
            client_id: Some("devauth-cli".into()),
            user_id: (i > 0).then(|| "u1".to_owned()),
            ip: Some("127.0.0.1".into()),
            details: serde_json::json!({ "tag": tag, "n": i, "nested": { "ok": true } }),
        })
        .await
        .unwrap();
    }
    let recent = d.recent_audit(2).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].kind, "token.issued");
    assert_eq!(recent[1].kind, "device_code.approved");
    assert_eq!(recent[0].details["tag"], tag);
    assert_eq!(recent[0].details["nested"]["ok"], true);
    assert_eq!(recent[1].user_id.as_deref(), Some("u1"));
    // Retention: events older than the cut-off go, oldest first, in
    // batches; newer ones stay.
    let d = &stores.durable;
    let far = T0.plus_secs(-400_000_000);
    for i in 0..5 {
        d.audit(&AuditEvent {
            at: far.plus_secs(i),
            kind: "old.event".into(),
            client_id: None,
            user_id: None,
            ip: None,
            details: serde_json::json!({}),
        })
        .await
        .unwrap();
    }
    let before_cut = d.recent_audit(10_000).await.unwrap().len();
    let mut deleted = 0;
    for _ in 0..10 {
        let n = d.delete_audit_before(far.plus_secs(3), 2).await.unwrap();
        assert!(n <= 2, "at most the batch");
        deleted += n;
        if n == 0 {
            break;
        }
    }
    assert!(
        deleted >= 3,
        "the three events before the cut-off were deleted"
    );
    let left = d.recent_audit(10_000).await.unwrap();
    assert_eq!(left.len() as u64, before_cut as u64 - deleted);
    assert_eq!(left.iter().filter(|e| e.kind == "old.event").count(), 2);
}

/// The durable sweep removes expired refresh tokens and keeps live ones.
pub async fn durable_sweep(stores: &Stores) {
    let d = &stores.durable;
    let family = sample_family(&uniq("fam-sweep"));
    d.add_family(&family).await.unwrap();
    let mut short = sample_refresh(&family.id, T0);
    short.expires_at = T0.plus_secs(600);
    let long = sample_refresh(&family.id, T0);
    d.add_refresh_token(&short).await.unwrap();
    d.add_refresh_token(&long).await.unwrap();
    let removed = d.sweep(T0.plus_secs(601)).await.unwrap();
    assert!(removed >= 1, "the sweep counts what it removed");
    assert_eq!(d.refresh_token(&short.token_hash).await.unwrap(), None);
    assert!(d.refresh_token(&long.token_hash).await.unwrap().is_some());
}

/// The durable sweep deletes a family once it has no token left and is older
/// than [`devauth_server::store::FAMILY_RETENTION_SECS`]; a family with tokens stays. Sweeps
/// far in the future: run it after the other durable checks.
pub async fn family_retention(stores: &Stores) {
    let d = &stores.durable;
    let base = T0.plus_secs(100_000_000);
    let mut empty = sample_family(&uniq("fam-empty"));
    empty.created_at = base;
    let mut used = sample_family(&uniq("fam-used"));
    used.created_at = base;
    d.add_family(&empty).await.unwrap();
    d.add_family(&used).await.unwrap();
    let mut token = sample_refresh(&used.id, base);
    token.expires_at = base.plus_secs(2 * devauth_server::store::FAMILY_RETENTION_SECS);
    d.add_refresh_token(&token).await.unwrap();

    d.sweep(base.plus_secs(devauth_server::store::FAMILY_RETENTION_SECS - 1))
        .await
        .unwrap();
    assert!(
        d.family(&empty.id).await.unwrap().is_some(),
        "kept until retention ends"
    );
    d.sweep(base.plus_secs(devauth_server::store::FAMILY_RETENTION_SECS))
        .await
        .unwrap();
    assert_eq!(
        d.family(&empty.id).await.unwrap(),
        None,
        "deleted after retention"
    );
    assert!(
        d.family(&used.id).await.unwrap().is_some(),
        "a family with tokens stays"
    );
}

/// Device grants: round trips in every state, lookups, user-code
/// uniqueness, CAS updates.
pub async fn device_grants(stores: &Stores) {
    let f = &stores.flow;
    // A grant for a protected resource (RFC 8707) keeps it.
    let mut for_resource = sample_grant(T0);
    for_resource.resource = Some("https://tools.example.test/mcp".into());
    f.add_device_grant(&for_resource).await.expect("add grant");
    assert_eq!(
        f.device_grant_by_code(&for_resource.device_code_hash)
            .await
            .unwrap(),
        Some(for_resource)
    );
    let g = sample_grant(T0);
    f.add_device_grant(&g).await.expect("add grant");
    assert_eq!(
        f.device_grant_by_code(&g.device_code_hash).await.unwrap(),
        Some(g.clone())
    );
    assert_eq!(
        f.device_grant_by_user_code(&g.user_code).await.unwrap(),
        Some(g.clone())
    );
    assert_eq!(
        f.device_grant_by_code(&TokenHash::of("nope"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(f.device_grant_by_user_code("BBBBBBBB").await.unwrap(), None);

    let mut clash = sample_grant(T0.plus_secs(1));
    clash.user_code = g.user_code.clone();
    assert!(
        matches!(
            f.add_device_grant(&clash).await,
            Err(StoreError::AlreadyExists(_))
        ),
        "a live user code cannot be reused"
    );
    assert_eq!(
        f.device_grant_by_code(&clash.device_code_hash)
            .await
            .unwrap(),
        None
    );

    // Poll (slow_down), then approve, then exchange: each a CAS step.
    let (_, polled) = g.clone().poll(T0.plus_secs(1));
    let (_, polled) = polled.poll(T0.plus_secs(2));
    assert_eq!(polled.interval_secs, 10);
    assert!(f.update_device_grant(&polled, 0).await.unwrap());
    let stored = f
        .device_grant_by_code(&g.device_code_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 1, "the update bumps the version");
    assert_eq!(stored.interval_secs, 10, "slow_down stays grown");
    assert_eq!(stored.last_polled_at, Some(T0.plus_secs(2)));

    assert!(
        !f.update_device_grant(&polled, 0).await.unwrap(),
        "stale version loses"
    );

    let mut approved = stored
        .clone()
        .approve("u1".into(), T0.plus_secs(3))
        .unwrap();
    approved.failed_confirmations = 2;
    assert!(f.update_device_grant(&approved, 1).await.unwrap());
    let stored = f
        .device_grant_by_user_code(&g.user_code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.state,
        DeviceGrantState::Approved {
            user_id: "u1".into(),
            approved_at: T0.plus_secs(3)
        }
    );
    assert_eq!(stored.failed_confirmations, 2);
    assert_eq!(stored.version, 2);

    let (_, exchanged) = stored.poll(T0.plus_secs(20));
    assert!(f.update_device_grant(&exchanged, 2).await.unwrap());
    let stored = f
        .device_grant_by_code(&g.device_code_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.state,
        DeviceGrantState::Exchanged {
            exchanged_at: T0.plus_secs(20)
        }
    );

    let denied = sample_grant(T0);
    f.add_device_grant(&denied).await.unwrap();
    let d2 = denied.clone().deny(T0.plus_secs(4)).unwrap();
    assert!(f.update_device_grant(&d2, 0).await.unwrap());
    let stored = f
        .device_grant_by_code(&denied.device_code_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.state,
        DeviceGrantState::Denied {
            denied_at: T0.plus_secs(4)
        }
    );
    assert!(
        !f.update_device_grant(&sample_grant(T0), 0).await.unwrap(),
        "updating an absent grant is a lost race, not an insert"
    );
}

/// Concurrent approvals of one grant: exactly one wins.
pub async fn device_grant_race(stores: &Stores) {
    let g = sample_grant(T0);
    stores.flow.add_device_grant(&g).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let store = Arc::clone(&stores.flow);
        let approved = g
            .clone()
            .approve(format!("user-{i}"), T0.plus_secs(1))
            .unwrap();
        tasks.push(tokio::spawn(async move {
            (store.update_device_grant(&approved, 0).await, i)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (won, i) = task.await.expect("task");
        if won.expect("update call") {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one concurrent update wins");
    let stored = stores
        .flow
        .device_grant_by_code(&g.device_code_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.state,
        DeviceGrantState::Approved {
            user_id: format!("user-{}", winners[0]),
            approved_at: T0.plus_secs(1)
        },
        "the stored approval is the winner's"
    );
    assert_eq!(stored.version, 1);
}

/// Authorization codes are taken once.
pub async fn authorization_codes(stores: &Stores) {
    let f = &stores.flow;
    let c = sample_code(T0);
    f.add_authorization_code(&c).await.unwrap();
    assert_eq!(
        f.take_authorization_code(&c.code_hash).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(f.take_authorization_code(&c.code_hash).await.unwrap(), None);
    let mut no_nonce = sample_code(T0);
    no_nonce.nonce = None;
    f.add_authorization_code(&no_nonce).await.unwrap();
    assert_eq!(
        f.take_authorization_code(&no_nonce.code_hash)
            .await
            .unwrap(),
        Some(no_nonce)
    );
}

/// Concurrent takes of one code: exactly one gets it.
pub async fn authorization_code_race(stores: &Stores) {
    let c = sample_code(T0);
    stores.flow.add_authorization_code(&c).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = Arc::clone(&stores.flow);
        let hash = c.code_hash.clone();
        tasks.push(tokio::spawn(async move {
            store.take_authorization_code(&hash).await
        }));
    }
    let mut got = 0;
    for task in tasks {
        if let Some(taken) = task.await.expect("task").expect("take call") {
            assert_eq!(taken, c);
            got += 1;
        }
    }
    assert_eq!(got, 1, "exactly one concurrent take gets the code");
}

/// Sessions: add, read, CAS update, delete.
pub async fn sessions(stores: &Stores) {
    let f = &stores.flow;
    let s = sample_session(T0);
    f.add_session(&s).await.unwrap();
    assert_eq!(f.session(&s.id_hash).await.unwrap(), Some(s.clone()));
    assert_eq!(f.session(&TokenHash::of("nope")).await.unwrap(), None);

    let mut logged_in = s.clone();
    logged_in.user_id = Some("u1".into());
    logged_in.authenticated_at = Some(T0.plus_secs(5));
    logged_in.expires_at = T0.plus_secs(7200);
    assert!(f.update_session(&logged_in, 0).await.unwrap());
    let stored = f.session(&s.id_hash).await.unwrap().unwrap();
    assert_eq!(stored.user_id.as_deref(), Some("u1"));
    assert_eq!(stored.authenticated_at, Some(T0.plus_secs(5)));
    assert_eq!(stored.expires_at, T0.plus_secs(7200));
    assert_eq!(stored.version, 1);
    assert!(
        !f.update_session(&logged_in, 0).await.unwrap(),
        "stale version loses"
    );

    f.delete_session(&s.id_hash).await.unwrap();
    assert_eq!(f.session(&s.id_hash).await.unwrap(), None);
    f.delete_session(&s.id_hash)
        .await
        .expect("deleting twice is fine");
}

/// Fixed-window counting: per key, per window.
pub async fn hits(stores: &Stores) {
    let f = &stores.flow;
    let key = uniq("rl:ip:127.0.0.1");
    let other = uniq("rl:ip:127.0.0.2");
    // T0 is a multiple of 60 s, so these three instants share a window.
    assert_eq!(f.hit(&key, 60, T0).await.unwrap(), 1);
    assert_eq!(f.hit(&key, 60, T0.plus_secs(10)).await.unwrap(), 2);
    assert_eq!(f.hit(&key, 60, T0.plus_millis(59_999)).await.unwrap(), 3);
    assert_eq!(f.hit(&other, 60, T0.plus_secs(10)).await.unwrap(), 1);
    assert_eq!(
        f.hit(&key, 60, T0.plus_secs(60)).await.unwrap(),
        1,
        "a new window"
    );
    assert_eq!(f.hit(&key, 60, T0.plus_secs(61)).await.unwrap(), 2);
    // Reading a count adds nothing.
    let key = uniq("peek");
    assert_eq!(f.hits(&key, 60, T0).await.unwrap(), 0);
    f.hit(&key, 60, T0).await.unwrap();
    f.hit(&key, 60, T0).await.unwrap();
    assert_eq!(f.hits(&key, 60, T0.plus_secs(1)).await.unwrap(), 2);
    assert_eq!(f.hits(&key, 60, T0.plus_secs(1)).await.unwrap(), 2);
    assert_eq!(
        f.hits(&key, 60, T0.plus_secs(61)).await.unwrap(),
        0,
        "a new window"
    );
}

/// Concurrent hits all count.
pub async fn hit_race(stores: &Stores) {
    let key = uniq("rl:race");
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = Arc::clone(&stores.flow);
        let key = key.clone();
        tasks.push(tokio::spawn(async move { store.hit(&key, 60, T0).await }));
    }
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.expect("task").expect("hit call"));
    }
    counts.sort_unstable();
    let expected: Vec<u64> = (1..=RACERS as u64).collect();
    assert_eq!(counts, expected, "every hit counted once");
}

/// Expiry: an expired grant is still found (so a poll says `expired_token`),
/// and the sweep reports each grant that expired while pending exactly once.
pub async fn expiry_and_sweep(stores: &Stores) {
    let f = &stores.flow;
    // Before T0, so no other check's records are due at the sweep instant.
    let start = T0.plus_secs(-2_000);
    let pending = sample_grant(start);
    let approved = sample_grant(start);
    let live = sample_grant(start.plus_secs(500));
    for g in [&pending, &approved, &live] {
        f.add_device_grant(g).await.unwrap();
    }
    let a = approved
        .clone()
        .approve("u1".into(), start.plus_secs(5))
        .unwrap();
    assert!(f.update_device_grant(&a, 0).await.unwrap());

    let after = start.plus_secs(700); // pending/approved expired, live not.
    let found = f
        .device_grant_by_code(&pending.device_code_hash)
        .await
        .unwrap()
        .expect("an expired grant is still found before the sweep");
    assert!(found.is_expired(after));
    assert_eq!(
        found.clone().poll(after).0,
        devauth_server::model::PollVerdict::Expired
    );

    let swept = f.sweep(after).await.unwrap();
    let ids: Vec<&str> = swept.iter().map(|g| g.id.as_str()).collect();
    assert!(
        ids.contains(&pending.id.as_str()),
        "expired pending grant reported"
    );
    assert!(
        !ids.contains(&approved.id.as_str()),
        "approved grants are not reported"
    );
    assert!(
        !ids.contains(&live.id.as_str()),
        "live grants are not reported"
    );
    assert_eq!(
        swept.iter().find(|g| g.id == pending.id).unwrap().state,
        DeviceGrantState::Pending
    );
    let again = f.sweep(after).await.unwrap();
    assert!(
        again.iter().all(|g| g.id != pending.id),
        "each expired grant is reported once"
    );
    assert!(
        f.device_grant_by_code(&live.device_code_hash)
            .await
            .unwrap()
            .is_some(),
        "the sweep keeps live grants"
    );

    // Later, the live grant expires too and is reported.
    let later = start.plus_secs(1150);
    let swept = f.sweep(later).await.unwrap();
    assert!(swept.iter().any(|g| g.id == live.id));
    assert!(swept.iter().all(|g| g.id != pending.id));

    // Ten minutes past their expiry, grants are gone (a poll is `invalid_grant`).
    let much_later = start.plus_secs(600 + 600 + 1);
    f.sweep(much_later).await.unwrap();
    for g in [&pending, &approved] {
        assert_eq!(
            f.device_grant_by_code(&g.device_code_hash).await.unwrap(),
            None,
            "swept once its grace is over"
        );
        assert_eq!(
            f.device_grant_by_user_code(&g.user_code).await.unwrap(),
            None
        );
    }
    assert!(
        f.device_grant_by_code(&live.device_code_hash)
            .await
            .unwrap()
            .is_some(),
        "still within its grace"
    );
}

/// The user code of an expired grant may be drawn again; a live one may not.
pub async fn user_code_reuse(stores: &Stores) {
    let f = &stores.flow;
    // Far from the other checks' instants, so no sweep there sees these.
    let start = T0.plus_secs(50_000_000);
    let old = sample_grant(start);
    f.add_device_grant(&old).await.unwrap();
    let expired_at = old.expires_at;
    let retained_until = expired_at.plus_millis(devauth_server::store::EXPIRED_GRANT_RETENTION_MS);
    for at in [
        start.plus_secs(599),
        expired_at,
        retained_until.plus_millis(-1),
    ] {
        let mut clash = sample_grant(at);
        clash.user_code = old.user_code.clone();
        assert!(
            matches!(
                f.add_device_grant(&clash).await,
                Err(StoreError::AlreadyExists(_))
            ),
            "a retained grant's user code cannot be taken (at +{} ms)",
            at.millis_since(start)
        );
    }
    // The expired grant is intact: a late poll finds it and is told it expired,
    let late = f.device_grant_by_code(&old.device_code_hash).await.unwrap();
    let late = late.expect("an expired grant is readable during the retention");
    assert_eq!(late.id, old.id);
    assert!(late.is_expired(expired_at.plus_secs(1)));
    // and the sweep still reports its expiry, exactly once.
    let reported = f.sweep(expired_at.plus_secs(1)).await.unwrap();
    assert_eq!(reported.iter().filter(|g| g.id == old.id).count(), 1);
    let again = f.sweep(expired_at.plus_secs(2)).await.unwrap();
    assert!(again.iter().all(|g| g.id != old.id));
    // Once the retention is over the code is free again.
    let mut reuse = sample_grant(retained_until);
    reuse.user_code = old.user_code.clone();
    f.sweep(retained_until).await.unwrap();
    f.add_device_grant(&reuse)
        .await
        .expect("after the retention the user code may be drawn again");
    assert_eq!(
        f.device_grant_by_user_code(&old.user_code)
            .await
            .unwrap()
            .map(|g| g.id),
        Some(reuse.id.clone()),
        "the user code now names the new grant"
    );
    assert_eq!(
        f.device_grant_by_code(&reuse.device_code_hash)
            .await
            .unwrap()
            .map(|g| g.id),
        Some(reuse.id)
    );
}

/// A private PostgreSQL schema for one test run, so parallel tests (and other
/// people's tests) sharing a database never see each other's rows. Dropped
/// (with everything in it) when this value is dropped, even by a failing test.
pub struct PgTestSchema {
    name: String,
    url: String,
}

impl PgTestSchema {
    /// Creates `devauth_test_<random>` in the database at `url`.
    pub async fn create(url: &str) -> Result<Self, StoreError> {
        let name = format!("devauth_test_{}", random_hex(6));
        let admin = devauth_server::store::postgres::PgStore::connect(url)?;
        let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(admin.pool())
            .await
            .map_err(|e| StoreError::Unavailable(format!("creating test schema: {e}")));
        admin.close().await;
        created?;
        Ok(Self {
            name,
            url: url.to_owned(),
        })
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connection options whose `search_path` is this schema only.
    pub fn options(&self) -> sqlx::postgres::PgConnectOptions {
        let base: sqlx::postgres::PgConnectOptions =
            self.url.parse().expect("the URL parsed before");
        base.options([("search_path", self.name.as_str())])
    }

    /// A database URL whose connections use this schema (for code that takes URLs).
    pub fn url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.url, self.name)
    }

    /// A store in this schema.
    pub fn store(&self) -> devauth_server::store::postgres::PgStore {
        devauth_server::store::postgres::PgStore::connect_with(self.options(), 8)
    }
}

impl Drop for PgTestSchema {
    fn drop(&mut self) {
        // Drop may run inside a runtime (or while unwinding): use a thread of
        // our own with a runtime of its own, and a fresh connection.
        let url = self.url.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Deletes every Redis key under a prefix when dropped, even by a failing test.
pub struct RedisKeysGuard {
    url: String,
    prefix: String,
}

impl RedisKeysGuard {
    /// Guards the keys under `prefix` on the Redis at `url`.
    pub fn new(url: &str, prefix: &str) -> Self {
        Self {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
        }
    }
}

impl Drop for RedisKeysGuard {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(store) =
                    devauth_server::store::redis::RedisFlowStore::connect_with_prefix(&url, &prefix)
                {
                    let _ = store.delete_all().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// The shared test PostgreSQL: `DEVAUTH_TEST_DATABASE_URL`, else 127.0.0.1:5432 db `test`.
/// Every test that needs a PostgreSQL URL takes it from here.
pub fn test_database_url() -> String {
    std::env::var("DEVAUTH_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The shared test Redis: `DEVAUTH_TEST_REDIS_URL`, else 127.0.0.1:6379.
pub fn test_redis_url() -> String {
    std::env::var("DEVAUTH_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// Whether the TCP service `name` at `url` (default port `default_port`)
/// answers; when it does not, [`require_service`] decides: `SKIPPED: …` and
/// false, or a panic under `DEVAUTH_REQUIRE_SERVICES=1`.
pub fn service_up(name: &str, url: &str, default_port: u16) -> bool {
    use std::net::ToSocketAddrs;
    let host_port = host_port(url, default_port);
    let reachable = host_port.to_socket_addrs().ok().is_some_and(|mut addrs| {
        addrs.any(|a| {
            std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2)).is_ok()
        })
    });
    require_service(
        name,
        (!reachable)
            .then(|| format!("not reachable at {host_port}"))
            .as_deref(),
    )
}

/// `host:port` of a URL, for [`service_up`].
fn host_port(url: &str, default_port: u16) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(format!("{host}:{}", u.port().unwrap_or(default_port)))
        })
        .unwrap_or_else(|| format!("127.0.0.1:{default_port}"))
}

/// A storage combination for tests: the one enum every test that runs on
/// several backends uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TestBackend {
    /// One SQLite file.
    #[default]
    Sqlite,
    /// PostgreSQL for both stores, in a private schema.
    Postgres,
    /// PostgreSQL durable (private schema), Redis flow (private key prefix).
    PostgresRedis,
}

impl TestBackend {
    /// Every combination.
    pub const ALL: [Self; 3] = [Self::Sqlite, Self::Postgres, Self::PostgresRedis];

    /// The combination named by `DEVAUTH_TEST_BACKEND` (`sqlite`, `postgres`,
    /// `postgres+redis`); SQLite when unset. Lets a whole test suite run on
    /// each combination: `DEVAUTH_TEST_BACKEND=postgres+redis cargo test …`.
    pub fn from_env() -> Self {
        match std::env::var("DEVAUTH_TEST_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("sqlite") => Self::Sqlite,
            Ok("postgres") => Self::Postgres,
            Ok("postgres+redis") => Self::PostgresRedis,
            Ok(other) => {
                panic!("DEVAUTH_TEST_BACKEND={other}: expected sqlite, postgres or postgres+redis")
            }
        }
    }

    /// `sqlite`, `postgres` or `postgres+redis`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::PostgresRedis => "postgres+redis",
        }
    }

    /// Whether its services answer (at [`test_database_url`] and
    /// [`test_redis_url`]); see [`service_up`] for what happens when not.
    pub fn available(self) -> bool {
        match self {
            Self::Sqlite => true,
            Self::Postgres => service_up("PostgreSQL", &test_database_url(), 5432),
            Self::PostgresRedis => {
                service_up("PostgreSQL", &test_database_url(), 5432)
                    && service_up("Redis", &test_redis_url(), 6379)
            }
        }
    }
}

/// Stores for one test, isolated from every other test: SQLite in
/// `data_dir`, PostgreSQL in a private schema, Redis under a private prefix,
/// all removed when this value is dropped.
pub struct TestStores {
    /// The stores, migrated.
    pub stores: Stores,
    /// The combination.
    pub backend: TestBackend,
    /// The SQLite store with [`TestBackend::Sqlite`] (to close it and
    /// simulate an outage).
    pub sqlite: Option<SqliteStore>,
    _schema: Option<PgTestSchema>,
    _keys: Option<RedisKeysGuard>,
}

impl TestStores {
    /// Opens `backend`; `None` (with the reason printed) when its services are
    /// absent, a panic instead under `DEVAUTH_REQUIRE_SERVICES=1`.
    pub async fn open(backend: TestBackend, data_dir: &std::path::Path) -> Option<Self> {
        if !backend.available() {
            return None;
        }
        Some(Self::connect(backend, data_dir).await)
    }

    /// Opens `backend`, whose services the caller checked with
    /// [`TestBackend::available`]; panics when they fail.
    pub async fn connect(backend: TestBackend, data_dir: &std::path::Path) -> Self {
        match backend {
            TestBackend::Sqlite => {
                let sqlite = SqliteStore::open(&data_dir.join("devauth.db"))
                    .await
                    .expect("open SQLite");
                Self {
                    stores: sqlite.clone().into_stores(),
                    backend,
                    sqlite: Some(sqlite),
                    _schema: None,
                    _keys: None,
                }
            }
            TestBackend::Postgres | TestBackend::PostgresRedis => {
                let schema = PgTestSchema::create(&test_database_url())
                    .await
                    .expect("create a test schema");
                let pg = Arc::new(schema.store());
                devauth_server::store::DurableStore::migrate(pg.as_ref())
                    .await
                    .expect("migrate PostgreSQL");
                let mut stores = Stores {
                    durable: pg.clone(),
                    flow: pg,
                };
                let mut keys = None;
                if backend == TestBackend::PostgresRedis {
                    let url = test_redis_url();
                    let prefix = format!("devauth-test:{}:", random_hex(6));
                    keys = Some(RedisKeysGuard::new(&url, &prefix));
                    stores.flow = Arc::new(
                        devauth_server::store::redis::RedisFlowStore::connect_with_prefix(
                            &url, &prefix,
                        )
                        .expect("Redis URL"),
                    );
                }
                Self {
                    stores,
                    backend,
                    sqlite: None,
                    _schema: Some(schema),
                    _keys: keys,
                }
            }
        }
    }
}

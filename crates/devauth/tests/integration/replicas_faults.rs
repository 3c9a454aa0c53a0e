//! Faults under real `devauth serve` replicas on PostgreSQL (a private
//! schema) and a private `redis-server` without persistence: Redis killed and
//! restarted mid-flow, and a replica SIGKILLed after approval.
//!
//! What must hold: a replica that loses Redis answers 503
//! `temporarily_unavailable` (never a 500), stays up, reports the flow store
//! down on `/healthz`, and recovers by itself; a flow whose state was lost
//! ends with a clear RFC error, never tokens; the replicas left finish a flow
//! a killed one started.
//!
//! Skips (printing why) without PostgreSQL or `redis-server`, unless
//! `DEVAUTH_REQUIRE_SERVICES=1`.

use crate::replicas_support;

use std::time::{Duration, Instant};

use replicas_support::{Backends, PATIENCE, Replica, error_of, free_port};

/// Polls (keeping to the 1 s interval) until the answer is not
/// `authorization_pending`; bounded.
fn poll_until_decided(r: &Replica, device_code: &str) -> (u16, serde_json::Value) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        std::thread::sleep(Duration::from_millis(1100));
        let (status, body) = r.poll_now(device_code);
        if error_of(&body) != "authorization_pending" {
            return (status, body);
        }
        assert!(Instant::now() < deadline, "still pending: {body}");
    }
}

#[test]
fn redis_killed_mid_flow_gives_503_and_the_replica_recovers_when_it_returns() {
    let Some(mut backends) = Backends::start() else {
        return;
    };
    backends.add_user("alice");
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut r1 = backends.replica_on(port, &issuer, &[]);
    let r2 = backends.replica(&issuer, &[]);

    let (status, da) = r1.device_authorization();
    assert_eq!(status, 200, "{da}");
    let device_code = da["device_code"].as_str().unwrap().to_owned();
    let (_, pending) = r2.poll_now(&device_code);
    assert_eq!(error_of(&pending), "authorization_pending", "{pending}");

    backends.redis.kill();
    std::thread::sleep(Duration::from_millis(1100));
    for r in [&r1, &r2] {
        let (status, body) = r.poll_now(&device_code);
        assert_eq!(
            (status, error_of(&body)),
            (503, "temporarily_unavailable"),
            "poll without Redis on {}: {body}",
            r.base
        );
        let (status, body) = r.device_authorization();
        assert_eq!(
            (status, error_of(&body)),
            (503, "temporarily_unavailable"),
            "device authorization without Redis: {body}"
        );
        let (status, health) = r.healthz();
        assert_eq!(status, 503, "{health}");
        assert_eq!(health["flow"], "unavailable", "{health}");
        assert_eq!(health["durable"], "ok", "{health}");
    }
    assert!(r1.alive(), "the replica survives losing Redis");

    // Back, empty (no persistence): the replicas reconnect by themselves.
    backends.redis.restart();
    for r in [&r1, &r2] {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (status, health) = r.healthz();
            if status == 200 {
                assert_eq!(health["flow"], "ok", "{health}");
                break;
            }
            assert_eq!(status, 503, "{health}");
            assert!(Instant::now() < deadline, "never recovered: {health}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // The pending flow's state went with Redis: a clear RFC error, never tokens.
    let (status, lost) = poll_until_decided(&r2, &device_code);
    assert_eq!(status, 400, "{lost}");
    assert!(
        ["invalid_grant", "expired_token"].contains(&error_of(&lost)),
        "{lost}"
    );

    // New flows work again, across replicas.
    let (status, da) = r2.device_authorization();
    assert_eq!(status, 200, "{da}");
    backends.approve(da["user_code"].as_str().unwrap(), "alice");
    let (status, tokens) = poll_until_decided(&r1, da["device_code"].as_str().unwrap());
    assert_eq!(status, 200, "{tokens}");
    let (status, info) = r2.userinfo(tokens["access_token"].as_str().unwrap());
    assert_eq!(status, 200, "{info}");

    for r in [&r1, &r2] {
        assert!(
            !r.logs().contains(&device_code),
            "a device code in the logs of {}",
            r.base
        );
    }
}

#[test]
fn a_replica_killed_after_approval_leaves_the_flow_to_the_others() {
    let Some(backends) = Backends::start() else {
        return;
    };
    backends.add_user("alice");
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut r1 = backends.replica_on(port, &issuer, &[]);
    let r2 = backends.replica(&issuer, &[]);
    let r3 = backends.replica(&issuer, &[]);

    let (status, da) = r1.device_authorization();
    assert_eq!(status, 200, "{da}");
    let device_code = da["device_code"].as_str().unwrap();
    let (_, pending) = r1.poll_now(device_code);
    assert_eq!(error_of(&pending), "authorization_pending", "{pending}");
    backends.approve(da["user_code"].as_str().unwrap(), "alice");
    r1.kill();
    assert!(!r1.alive());

    let (status, tokens) = poll_until_decided(&r2, device_code);
    assert_eq!(status, 200, "{tokens}");
    let (status, info) = r3.userinfo(tokens["access_token"].as_str().unwrap());
    assert_eq!(status, 200, "{info}");
    std::thread::sleep(Duration::from_millis(1100));
    let (status, again) = r3.poll_now(device_code);
    assert_eq!(
        (status, error_of(&again)),
        (400, "invalid_grant"),
        "{again}"
    );
}

#[test]
fn an_approval_survives_a_redis_restart_when_redis_persists_writes() {
    let Some(mut backends) = Backends::start_durable() else {
        return;
    };
    backends.add_user("alice");
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let r1 = backends.replica_on(port, &issuer, &[]);
    let r2 = backends.replica(&issuer, &[]);

    let (status, da) = r1.device_authorization();
    assert_eq!(status, 200, "{da}");
    let device_code = da["device_code"].as_str().unwrap();
    backends.approve(da["user_code"].as_str().unwrap(), "alice");

    backends.redis.kill();
    std::thread::sleep(Duration::from_millis(1100));
    let (status, body) = r2.poll_now(device_code);
    assert_eq!(
        (status, error_of(&body)),
        (503, "temporarily_unavailable"),
        "{body}"
    );
    backends.redis.restart();
    for r in [&r1, &r2] {
        let deadline = Instant::now() + PATIENCE;
        while r.healthz().0 != 200 {
            assert!(Instant::now() < deadline, "{} never recovered", r.base);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // The failed poll above may or may not have been stored; either way the
    // approval is there and is redeemed once.
    let (status, tokens) = poll_until_decided(&r1, device_code);
    assert_eq!(status, 200, "the approval survived: {tokens}");
    std::thread::sleep(Duration::from_millis(1100));
    let (status, again) = r2.poll_now(device_code);
    assert_eq!(
        (status, error_of(&again)),
        (400, "invalid_grant"),
        "{again}"
    );
}

//! Three real `devauth serve` replicas on one PostgreSQL (a private schema)
//! and one Redis (a private `redis-server`), as behind a load balancer: a
//! device flow hops between them, `slow_down` and the device rate limit hold
//! across them, and a code two replicas redeem at once yields tokens once.
//!
//! Skips (printing why) without PostgreSQL, `redis-server` or Chromium,
//! unless `DEVAUTH_REQUIRE_SERVICES=1`.

use crate::replicas_support;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use devauth_testkit::browser::SCRIPT_LIMIT;
use devauth_testkit::{Browser, Choice};
use replicas_support::{Backends, PASSWORD, PATIENCE, error_of, free_port};

/// Three replicas sharing `backends`, all with the first one's URL as issuer.
fn three(backends: &Backends, extra: &[&str]) -> [replicas_support::Replica; 3] {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    [
        backends.replica_on(port, &issuer, extra),
        backends.replica(&issuer, extra),
        backends.replica(&issuer, extra),
    ]
}

#[test]
fn authorize_on_one_approve_in_chromium_on_another_poll_on_a_third() {
    let Some(backends) = Backends::start() else {
        return;
    };
    let Some(browser) = Browser::find() else {
        return;
    };
    backends.add_user("alice");
    let [r1, r2, r3] = three(&backends, &[]);

    let (status, da) = r1.device_authorization();
    assert_eq!(status, 200, "{da}");
    let device_code = da["device_code"].as_str().unwrap();
    let user_code = da["user_code"].as_str().unwrap();
    assert_eq!(
        da["verification_uri"].as_str(),
        Some(format!("{}/device", r1.base).as_str()),
        "the issuer names the endpoints"
    );
    let (status, pending) = r3.poll_now(device_code);
    assert_eq!((status, error_of(&pending)), (400, "authorization_pending"));

    // The person uses the second replica's pages; the device polls the third.
    let mut script = browser.start_deciding(
        &format!("{}/device", r2.base),
        user_code,
        "alice",
        PASSWORD,
        Choice::Approve,
    );
    let deadline = Instant::now() + PATIENCE;
    let tokens = loop {
        assert!(Instant::now() < deadline, "the flow never completed");
        std::thread::sleep(Duration::from_millis(1100));
        let (status, body) = r3.poll_now(device_code);
        if status == 200 {
            break body;
        }
        assert_eq!(
            (status, error_of(&body)),
            (400, "authorization_pending"),
            "{body}"
        );
        if !script.alive() {
            // Approved (or failed): one more poll decides.
            let (status, body) = {
                std::thread::sleep(Duration::from_millis(1100));
                r3.poll_now(device_code)
            };
            assert_eq!(status, 200, "after the browser finished: {body}");
            break body;
        }
    };
    let (status, stdout, stderr) = script.wait_exit(SCRIPT_LIMIT);
    assert!(
        status.success() && stdout.contains("\"result\":\"approved\""),
        "{stdout}{stderr}"
    );

    let access = tokens["access_token"].as_str().expect("access_token");
    for r in [&r1, &r2, &r3] {
        let (status, info) = r.userinfo(access);
        assert_eq!(status, 200, "userinfo on {}: {info}", r.base);
        assert_eq!(info["preferred_username"].as_str(), Some("alice"), "{info}");
    }
    // Redeemed once, whichever replica is asked next.
    std::thread::sleep(Duration::from_millis(1100));
    let (status, again) = r2.poll_now(device_code);
    assert_eq!(
        (status, error_of(&again)),
        (400, "invalid_grant"),
        "{again}"
    );
}

#[test]
fn polls_spread_over_replicas_faster_than_the_interval_get_slow_down() {
    let Some(backends) = Backends::start() else {
        return;
    };
    // A 5 s interval: the back-to-back polls below are surely inside it.
    let [r1, r2, r3] = three(&backends, &["--poll-interval", "5"]);
    let (status, da) = r1.device_authorization();
    assert_eq!(status, 200, "{da}");
    assert_eq!(da["interval"].as_u64(), Some(5));
    let device_code = da["device_code"].as_str().unwrap();

    let (_, first) = r2.poll_now(device_code);
    assert_eq!(error_of(&first), "authorization_pending", "{first}");
    let (status, second) = r3.poll_now(device_code);
    assert_eq!(
        (status, error_of(&second)),
        (400, "slow_down"),
        "another replica right away: {second}"
    );
    // The interval is now 10 s, on every replica: 6 s later is still too soon
    // (it would not be with the original 5 s).
    std::thread::sleep(Duration::from_secs(6));
    let (status, third) = r1.poll_now(device_code);
    assert_eq!(
        (status, error_of(&third)),
        (400, "slow_down"),
        "the grown interval holds on a third replica: {third}"
    );
}

#[test]
fn two_replicas_redeeming_one_approved_code_at_once_get_tokens_once() {
    let Some(backends) = Backends::start() else {
        return;
    };
    backends.add_user("alice");
    let [r1, r2, r3] = three(&backends, &[]);
    let (_, da) = r1.device_authorization();
    let device_code = da["device_code"].as_str().unwrap().to_owned();
    backends.approve(da["user_code"].as_str().unwrap(), "alice");

    let barrier = Arc::new(Barrier::new(2));
    let racers: Vec<_> = [r2.base.clone(), r3.base.clone()]
        .into_iter()
        .map(|base| {
            let barrier = barrier.clone();
            let code = device_code.clone();
            std::thread::spawn(move || {
                barrier.wait();
                replicas_support::post(
                    &base,
                    "/oauth/token",
                    &[
                        ("grant_type", replicas_support::DEVICE),
                        ("device_code", &code),
                        ("client_id", "devauth-cli"),
                    ],
                )
            })
        })
        .collect();
    let answers: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    let winners = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(winners, 1, "exactly one replica issues tokens: {answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
        // The loser polled at the same instant as the winner: too soon
        // (`slow_down`), or, if it read after the exchange, `invalid_grant`.
        assert_eq!(*status, 400, "{body}");
        assert!(
            ["slow_down", "invalid_grant"].contains(&error_of(body)),
            "{body}"
        );
    }
    // Once the (grown) interval has passed, any replica says it was used.
    std::thread::sleep(Duration::from_millis(6100));
    let (status, later) = r1.poll_now(&device_code);
    assert_eq!(
        (status, error_of(&later)),
        (400, "invalid_grant"),
        "{later}"
    );
}

#[test]
fn the_device_rate_limit_holds_across_replicas() {
    let Some(backends) = Backends::start() else {
        return;
    };
    let replicas = three(&backends, &["--device-rate-limit", "3"]);
    // Seven requests from one address, round robin: a limit kept per replica
    // (3, 2 and 2 requests each) would let every one through. The limit's
    // one-minute windows are aligned to the clock, so a window may turn
    // during the run; even then one window sees 4 or more, and a limit kept
    // across replicas refuses some.
    let statuses: Vec<u16> = (0..7)
        .map(|i| {
            let (status, body) = replicas[i % 3].device_authorization();
            assert!(status == 200 || status == 429, "{status} {body}");
            if status == 429 {
                assert_eq!(error_of(&body), "slow_down", "{body}");
            }
            status
        })
        .collect();
    assert!(statuses.contains(&429), "never limited: {statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s == 200).count() <= 6,
        "{statuses:?}"
    );
    assert_eq!(&statuses[..3], &[200, 200, 200][..], "{statuses:?}");
}

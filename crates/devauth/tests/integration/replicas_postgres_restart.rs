//! PostgreSQL restarted under two `devauth serve` replicas that keep both the
//! durable and the device-flow state in it: while it is down they answer 503
//! `temporarily_unavailable` (never a 500) and `/healthz` says so; when it is
//! back they recover by themselves and an approval made before the restart
//! is redeemed — nothing lost.
//!
//! Uses a private PostgreSQL (initdb in a temporary folder, on a spare port,
//! run as `postgres`), since the shared one must not be restarted. Skips
//! (printing why) without the PostgreSQL binaries or when not root.

use crate::devauth_bin;
use crate::replicas_support;

use std::process::Command;
use std::time::{Duration, Instant};

use replicas_support::{PASSWORD, PATIENCE, PrivatePostgres, Replica, error_of, free_port};

/// Waits (bounded) until `/healthz` of `r` answers 200.
fn wait_healthy(r: &Replica) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, health) = r.healthz();
        if status == 200 {
            return;
        }
        assert_eq!(status, 503, "{health}");
        assert!(Instant::now() < deadline, "never recovered: {health}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn postgres_restarted_mid_flow_gives_503_then_the_approval_is_redeemed() {
    let Some(mut pg) = PrivatePostgres::start() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let url = pg.url();

    let out = devauth_testkit::run_with_stdin(
        Command::new(devauth_bin())
            .args(["admin", "--database-url", &url, "user", "add", "alice"])
            .arg("--password-stdin")
            .env("DEVAUTH_HOME", home.path()),
        PASSWORD.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let args = |port: u16| -> Vec<String> {
        [
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--issuer",
            &issuer,
            "--poll-interval",
            "1",
            "--database-url",
            &url,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let mut r1 = Replica::start(home.path(), &args(port));
    let r2 = Replica::start(home.path(), &args(free_port()));

    let (status, da) = r1.device_authorization();
    assert_eq!(status, 200, "{da}");
    let device_code = da["device_code"].as_str().unwrap();
    let (_, pending) = r2.poll_now(device_code);
    assert_eq!(error_of(&pending), "authorization_pending", "{pending}");
    // The person approves (what the consent page does), then PostgreSQL restarts.
    {
        use devauth_server::clock::{Clock as _, SystemClock};
        use devauth_server::store::{DurableStore as _, FlowStore as _};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = devauth_server::store::postgres::PgStore::connect(&url).unwrap();
            let user = store.user_by_name("alice").await.unwrap().expect("user");
            let user_code = da["user_code"].as_str().unwrap().replace('-', "");
            let grant = store
                .device_grant_by_user_code(&user_code)
                .await
                .unwrap()
                .expect("grant");
            let version = grant.version;
            let approved = grant.approve(user.id, SystemClock.now()).unwrap();
            assert!(store.update_device_grant(&approved, version).await.unwrap());
            store.close().await;
        });
    }

    pg.stop();
    std::thread::sleep(Duration::from_millis(1100));
    for r in [&r1, &r2] {
        let (status, body) = r.poll_now(device_code);
        assert_eq!(
            (status, error_of(&body)),
            (503, "temporarily_unavailable"),
            "poll without PostgreSQL on {}: {body}",
            r.base
        );
        let (status, health) = r.healthz();
        assert_eq!(status, 503, "{health}");
        assert_eq!(health["durable"], "unavailable", "{health}");
    }
    assert!(r1.alive(), "the replica survives losing PostgreSQL");

    pg.restart();
    wait_healthy(&r1);
    wait_healthy(&r2);
    std::thread::sleep(Duration::from_millis(1100));
    let (status, tokens) = r2.poll_now(device_code);
    assert_eq!(status, 200, "the approval survived the restart: {tokens}");
    let (status, info) = r1.userinfo(tokens["access_token"].as_str().unwrap());
    assert_eq!(status, 200, "{info}");
    std::thread::sleep(Duration::from_millis(1100));
    let (status, again) = r1.poll_now(device_code);
    assert_eq!(
        (status, error_of(&again)),
        (400, "invalid_grant"),
        "{again}"
    );
}

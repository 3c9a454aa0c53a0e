//! `devauth admin migrate` on each storage combination, and replicas that
//! start together on a fresh PostgreSQL schema (the migrations take an
//! advisory lock, so exactly one applies them and all come up).
//!
//! The PostgreSQL + Redis cases skip (printing why) without those services,
//! unless `DEVAUTH_REQUIRE_SERVICES=1`.

use crate::devauth_bin;
use crate::replicas_support;

use std::process::{Command, Stdio};

use replicas_support::{Backends, free_port};

#[test]
fn admin_migrate_on_sqlite_says_so_and_creates_the_database() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(devauth_bin())
        .args(["admin", "migrate"])
        .env("DEVAUTH_HOME", home.path())
        .env("DEVAUTH_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("durable=sqlite, flow=sqlite"), "{err}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
    assert!(home.path().join("server/devauth.db").is_file());
}

#[test]
fn admin_migrate_on_postgres_and_redis_is_repeatable() {
    let Some(backends) = Backends::start() else {
        return;
    };
    for _ in 0..2 {
        let (code, err) = backends.admin(&["migrate"], "");
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("durable=postgres, flow=redis"), "{err}");
    }
    // The schema is usable by the rest of the admin commands.
    backends.add_user("alice");
    let (code, err) = backends.admin(&["user", "list"], "");
    assert_eq!(code, 0, "{err}");
}

#[test]
fn admin_migrate_refuses_an_unreachable_database() {
    let home = tempfile::tempdir().unwrap();
    // A loopback port nobody listens on.
    let url = format!("postgres://postgres@127.0.0.1:{}/test", free_port());
    let out = Command::new(devauth_bin())
        .args(["admin", "migrate", "--database-url", &url])
        .env("DEVAUTH_HOME", home.path())
        .env("DEVAUTH_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "migrating nothing cannot succeed");
}

#[test]
fn three_replicas_starting_at_once_on_a_fresh_schema_all_come_up() {
    let Some(backends) = Backends::start() else {
        return;
    };
    let issuer = format!("http://127.0.0.1:{}", free_port());
    let replicas: Vec<_> = std::thread::scope(|s| {
        let started: Vec<_> = (0..3)
            .map(|_| s.spawn(|| backends.replica(&issuer, &[])))
            .collect();
        started.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &replicas {
        let (status, health) = r.healthz();
        assert_eq!(status, 200, "{}: {health}", r.base);
        let (status, da) = r.device_authorization();
        assert_eq!(status, 200, "{da}");
    }
}

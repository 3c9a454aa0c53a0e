//! Unit tests of the SQLite store beyond the shared conformance suite
//! (`devauth_testkit::store_suite`): the group-committing writer, the WAL, migrations
//! taken over from older builds, and reads after answered writes.

use devauth_proto::Scope;

use super::sql::one;
use super::*;
use crate::model::{
    AuthorizationCode, DeviceGrant, DeviceGrantState, RefreshToken, RefreshTokenState, Requester,
    Timestamp, TokenFamily, TokenHash, User,
};
use crate::store::{DurableStore, FlowStore};

fn t0() -> Timestamp {
    Timestamp::from_secs(1_700_000_000)
}

fn grant(id: &str, user_code: &str) -> DeviceGrant {
    DeviceGrant {
        id: id.into(),
        device_code_hash: TokenHash::of(&format!("dc-{id}")),
        user_code: user_code.into(),
        client_id: "devauth-cli".into(),
        resource: None,
        scope: Scope::parse("openid offline_access").unwrap(),
        requester: Requester {
            ip: "127.0.0.1".into(),
            user_agent: "test".into(),
        },
        created_at: t0(),
        expires_at: t0().plus_secs(600),
        interval_secs: 5,
        last_polled_at: None,
        failed_confirmations: 0,
        state: DeviceGrantState::Pending,
        version: 0,
    }
}

async fn store() -> SqliteStore {
    SqliteStore::open_temporary().await.unwrap()
}

#[tokio::test]
async fn device_grant_round_trip_and_cas() {
    let s = store().await;
    let g = grant("g1", "BCDFGHJK");
    s.add_device_grant(&g).await.unwrap();
    assert!(matches!(
        s.add_device_grant(&grant("g2", "BCDFGHJK")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let read = s
        .device_grant_by_code(&g.device_code_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, g);
    let approved = read.clone().approve("u1".into(), t0()).unwrap();
    assert!(s.update_device_grant(&approved, 0).await.unwrap());
    // A second writer holding version 0 loses.
    let denied = read.deny(t0()).unwrap();
    assert!(!s.update_device_grant(&denied, 0).await.unwrap());
    let now = s
        .device_grant_by_user_code("BCDFGHJK")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.version, 1);
    assert!(matches!(now.state, DeviceGrantState::Approved { ref user_id, .. } if user_id == "u1"));
}

#[tokio::test]
async fn authorization_codes_are_taken_once() {
    let s = store().await;
    let code = AuthorizationCode {
        code_hash: TokenHash::of("code"),
        client_id: "c".into(),
        user_id: "u".into(),
        redirect_uri: "http://127.0.0.1:1234/callback".into(),
        scope: Scope::parse("openid").unwrap(),
        code_challenge: "x".into(),
        nonce: Some("n".into()),
        resource: None,
        auth_time: t0(),
        created_at: t0(),
        expires_at: t0().plus_secs(60),
    };
    s.add_authorization_code(&code).await.unwrap();
    let (a, b) = tokio::join!(
        s.take_authorization_code(&code.code_hash),
        s.take_authorization_code(&code.code_hash)
    );
    let taken: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(taken, vec![code]);
}

#[tokio::test]
async fn hits_count_per_window() {
    let s = store().await;
    assert_eq!(s.hit("ip:1", 60, t0()).await.unwrap(), 1);
    assert_eq!(s.hit("ip:1", 60, t0().plus_secs(1)).await.unwrap(), 2);
    assert_eq!(s.hit("ip:2", 60, t0()).await.unwrap(), 1);
    assert_eq!(s.hit("ip:1", 60, t0().plus_secs(61)).await.unwrap(), 1);
}

#[tokio::test]
async fn refresh_rotation_and_family_revocation() {
    let s = store().await;
    let fam = TokenFamily {
        id: "f".into(),
        client_id: "c".into(),
        user_id: "u".into(),
        auth_time: t0(),
        created_at: t0(),
        code_hash: None,
        resource: None,
        revoked_at: None,
    };
    s.add_family(&fam).await.unwrap();
    let rt = |id: &str, at: Timestamp| RefreshToken {
        id: id.into(),
        token_hash: TokenHash::of(id),
        family_id: "f".into(),
        client_id: "c".into(),
        user_id: "u".into(),
        scope: Scope::parse("openid").unwrap(),
        created_at: at,
        expires_at: at.plus_secs(3600),
        state: RefreshTokenState::Active,
        parent_id: None,
        version: 0,
    };
    let first = rt("r1", t0());
    s.add_refresh_token(&first).await.unwrap();
    let mut used = first.clone();
    used.state = RefreshTokenState::Rotated { rotated_at: t0() };
    let second = rt("r2", t0().plus_secs(1));
    assert!(s.rotate_refresh_token(&used, 0, &second).await.unwrap());
    assert!(
        !s.rotate_refresh_token(&used, 0, &rt("r3", t0()))
            .await
            .unwrap()
    );
    assert!(
        s.refresh_token(&TokenHash::of("r3"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.latest_in_family("f").await.unwrap().unwrap().id, "r2");
    assert!(s.revoke_family("f", t0()).await.unwrap());
    assert!(!s.revoke_family("f", t0()).await.unwrap());
    let r2 = s
        .refresh_token(&TokenHash::of("r2"))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(r2.state, RefreshTokenState::Revoked { .. }));
}

#[tokio::test]
async fn sweep_reports_expired_pending_grants_once() {
    let s = store().await;
    s.add_device_grant(&grant("g1", "BCDFGHJK")).await.unwrap();
    let approved = grant("g2", "CCCCCCCC").approve("u".into(), t0()).unwrap();
    s.add_device_grant(&approved).await.unwrap();
    let later = t0().plus_secs(601);
    let expired = FlowStore::sweep(&s, later).await.unwrap();
    assert_eq!(
        expired.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        ["g1"]
    );
    assert!(FlowStore::sweep(&s, later).await.unwrap().is_empty());
    // Kept for late polls, then deleted.
    assert!(
        s.device_grant_by_user_code("BCDFGHJK")
            .await
            .unwrap()
            .is_some()
    );
    let much_later = later.plus_millis(super::super::EXPIRED_GRANT_RETENTION_MS);
    FlowStore::sweep(&s, much_later).await.unwrap();
    assert!(
        s.device_grant_by_user_code("BCDFGHJK")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn file_database_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devauth.db");
    {
        let s = SqliteStore::open(&path).await.unwrap();
        s.add_device_grant(&grant("g1", "BCDFGHJK")).await.unwrap();
    }
    let s = SqliteStore::open(&path).await.unwrap();
    assert!(
        s.device_grant_by_user_code("BCDFGHJK")
            .await
            .unwrap()
            .is_some()
    );
    #[cfg(unix)]
    for file in ["devauth.db", "devauth.db-wal", "devauth.db-shm"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{file} is private: {mode:o}");
    }
}
fn user(id: &str, name: &str) -> User {
    User {
        id: id.into(),
        username: name.into(),
        password_hash: "x".into(),
        disabled: false,
        created_at: t0(),
    }
}

#[tokio::test]
async fn a_failing_write_in_a_group_is_rolled_back_alone() {
    let s = store().await;
    // Hold the writer inside a job until every other write is queued, so
    // that they are committed together as the next group.
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let held = s.write_all(move |_| {
        gate.recv().ok();
        Ok(())
    });
    let (alice, alice_again, carol) = (
        user("u1", "alice"),
        user("u2", "alice"),
        user("u5", "carol"),
    );
    // Futures queue their job when first polled: `join!` below polls
    // them in order, so all are queued before the release.
    let ok = s.add_user(&alice);
    let duplicate = s.add_user(&alice_again);
    // Two statements in one job; the second fails, so the first must go.
    let half = s.write_all(|c| {
        exec(
            c,
            "INSERT INTO users (id, username, password_hash, disabled, created_at) \
             VALUES ('u3', 'bob', 'x', 0, 0)",
            [],
        )?;
        exec(
            c,
            "INSERT INTO users (id, username, password_hash, disabled, created_at) \
             VALUES ('u4', 'alice', 'x', 0, 0)",
            [],
        )
        .map(drop)
    });
    let after = s.add_user(&carol);
    let releaser = async {
        tokio::task::yield_now().await;
        release.send(()).unwrap();
    };
    let (held, ok, duplicate, half, after, ()) =
        tokio::join!(held, ok, duplicate, half, after, releaser);
    held.unwrap();
    ok.unwrap();
    after.unwrap();
    assert!(matches!(duplicate, Err(StoreError::AlreadyExists(_))));
    assert!(matches!(half, Err(StoreError::AlreadyExists(_))));
    let names: Vec<_> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "carol"]);
    assert_eq!(s.user_by_id("u1").await.unwrap().unwrap().username, "alice");
}

#[tokio::test]
async fn many_concurrent_writes_are_all_stored() {
    let s = store().await;
    let writes = (0..500).map(|i| {
        let s = s.clone();
        tokio::spawn(async move {
            s.add_device_grant(&grant(&format!("g{i}"), &format!("{i:0>8}")))
                .await
        })
    });
    for w in writes.collect::<Vec<_>>() {
        w.await.unwrap().unwrap();
    }
    let count: i64 = s
        .read(|c| {
            one(c, "SELECT COUNT(*) FROM device_grants", [], |r| {
                r.get(0).map_err(map_err)
            })
        })
        .unwrap()
        .unwrap();
    assert_eq!(count, 500);
}

#[tokio::test]
async fn closed_store_refuses_reads_and_writes() {
    let s = store().await;
    s.add_user(&user("u1", "alice")).await.unwrap();
    s.close().await;
    assert!(matches!(
        s.user_by_id("u1").await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        s.add_user(&user("u2", "bob")).await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_database_migrated_by_sqlx_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devauth.db");
    {
        // What the sqlx-based store of earlier versions left behind.
        let c = Connection::open(&path).unwrap();
        c.execute_batch(include_str!("../../../migrations/sqlite/0001_initial.sql"))
            .unwrap();
        c.execute_batch(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, \
             description TEXT NOT NULL, installed_on TIMESTAMP, success BOOLEAN NOT NULL, \
             checksum BLOB NOT NULL, execution_time BIGINT NOT NULL); \
             INSERT INTO _sqlx_migrations VALUES (1, 'initial', 0, 1, x'00', 0); \
             INSERT INTO users VALUES ('u1', 'alice', 'x', 0, 0); \
             INSERT INTO device_grants VALUES ('g1', 'h1', 'BCDFGHJK', 'devauth-cli', \
             'openid', '127.0.0.1', 'curl', 0, 600000, 5, NULL, 0, 'pending', NULL, NULL, 0, 0);",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).await.unwrap();
    assert_eq!(s.user_by_id("u1").await.unwrap().unwrap().username, "alice");
    let version: i64 = s
        .read(|c| one(c, "PRAGMA user_version", [], |r| r.get(0).map_err(map_err)))
        .unwrap()
        .unwrap();
    // 0001 was taken over, not re-run; 0002 rebuilt device_grants
    // with the row in it; the later ones added columns.
    assert_eq!(version, 9);
    let g = s
        .device_grant_by_user_code("BCDFGHJK")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.id, "g1");
    assert_eq!(g.device_code_hash.as_str(), "h1");
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devauth.db");
    drop(SqliteStore::open(&path).await.unwrap());
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(err.to_string().contains("newer than this devauth"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_starts_over_under_writes_that_never_pause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devauth.db");
    let s = SqliteStore::open(&path).await.unwrap();
    // Eight writers without a pause: each new grant dirties pages at
    // random places, about 200 MB of WAL in all if it never restarted.
    let writers = (0..8).map(|w| {
        let s = s.clone();
        tokio::spawn(async move {
            for i in 0..2_500 {
                let id = format!("{w}-{i}");
                let mut g = grant(&id, &format!("{w}{i:0>7}"));
                g.device_code_hash = TokenHash::of(&id);
                s.add_device_grant(&g).await.unwrap();
            }
        })
    });
    for w in writers.collect::<Vec<_>>() {
        w.await.unwrap();
    }
    let wal = std::fs::metadata(dir.path().join("devauth.db-wal"))
        .unwrap()
        .len();
    assert!(
        wal < 2 * WAL_SIZE_LIMIT as u64,
        "the WAL grew to {} MiB",
        wal >> 20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_connection_sees_an_answered_write() {
    let s = store().await;
    let g = grant("g1", "BCDFGHJK");
    s.add_device_grant(&g).await.unwrap();
    let mut current = g.clone();
    // More rounds than read connections, so each one serves reads right
    // after a write it did not make.
    for round in 0..(READERS as i64 * 25) {
        let mut next = current.clone();
        next.failed_confirmations = u32::try_from(round + 1).unwrap();
        assert!(s.update_device_grant(&next, round).await.unwrap());
        let seen = s
            .device_grant_by_code(&g.device_code_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seen.version, round + 1);
        assert_eq!(seen.failed_confirmations, next.failed_confirmations);
        current = seen;
    }
}

#[tokio::test]
async fn a_panicking_write_fails_alone_and_the_writer_goes_on() {
    let s = store().await;
    let boom = s
        .write_all(|c| -> StoreResult<()> {
            exec(
                c,
                "INSERT INTO users (id, username, password_hash, disabled, created_at) \
                 VALUES ('u9', 'mallory', 'x', 0, 0)",
                [],
            )?;
            panic!("a bug in a write");
        })
        .await;
    assert!(matches!(boom, Err(StoreError::Other(_))));
    // Rolled back, and the next write works.
    assert!(s.user_by_id("u9").await.unwrap().is_none());
    s.add_user(&user("u1", "alice")).await.unwrap();
    assert!(s.user_by_id("u1").await.unwrap().is_some());
}

#[tokio::test]
async fn a_transaction_sqlite_gives_up_fails_the_whole_group() {
    let s = store().await;
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let (started, writer_busy) = tokio::sync::oneshot::channel::<()>();
    let held = s.write_all(move |_| {
        started.send(()).ok();
        gate.recv().ok();
        Ok(())
    });
    // The writer is inside the held job before anything else is queued, so
    // the three writes below can only form the next group, together (had the
    // writer drained the queue while they were being queued, `before` could
    // share the held job's group and be committed with it).
    tokio::pin!(held);
    tokio::select! {
        _ = &mut held => unreachable!("the held job waits for the release"),
        busy = writer_busy => busy.unwrap(),
    }
    let (alice, carol) = (user("u1", "alice"), user("u3", "carol"));
    let before = s.add_user(&alice);
    // What SQLite does on SQLITE_FULL or an I/O error: the transaction
    // is gone mid-group.
    let gives_up = async { s.execute("ROLLBACK", Vec::new()).await.map(drop) };
    let after = s.add_user(&carol);
    let releaser = async {
        tokio::task::yield_now().await;
        release.send(()).unwrap();
    };
    let (_held, before, gives_up, after, ()) =
        tokio::join!(held, before, gives_up, after, releaser);
    for result in [before, gives_up, after] {
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        );
    }
    // Nothing of that group is stored, and the writer goes on.
    assert!(s.list_users().await.unwrap().is_empty());
    s.add_user(&alice).await.unwrap();
    assert_eq!(s.list_users().await.unwrap().len(), 1);
}

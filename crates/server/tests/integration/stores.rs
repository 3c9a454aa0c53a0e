//! The storage conformance suite (`devauth_testkit::store_suite`) against every backend
//! combination, plus fault tests on a private Redis.
//!
//! PostgreSQL (`DEVAUTH_TEST_DATABASE_URL`, else 127.0.0.1:5432, db `test`,
//! user `postgres`) and Redis (`DEVAUTH_TEST_REDIS_URL`, else 127.0.0.1:6379)
//! are used when they answer; otherwise the test prints why
//! it skipped — unless `DEVAUTH_REQUIRE_SERVICES=1`, which turns a missing
//! service into a failure. Each run works in a private schema / key prefix and
//! removes it at the end. Fault tests start their own `redis-server` on a
//! spare port, so the shared one is never disturbed.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use devauth_server::model::TokenHash;
use devauth_server::store::open;
use devauth_server::store::postgres::PgStore;
use devauth_server::store::redis::RedisFlowStore;
use devauth_server::store::{DurableStore, FlowStore, StoreError, Stores};
use devauth_testkit::require_service;
use devauth_testkit::store_suite::{self, PgTestSchema, TestBackend, TestStores};

const REDIS_SERVER: &str = "/usr/bin/redis-server";

fn redis_server_available() -> bool {
    require_service(
        "redis-server",
        (!std::path::Path::new(REDIS_SERVER).exists())
            .then(|| format!("{REDIS_SERVER} is missing"))
            .as_deref(),
    )
}

fn prefix() -> String {
    format!("devauth-test:{}:", store_suite::random_hex(6))
}

/// Runs the whole suite on one combination, in private storage.
async fn run_suite(backend: TestBackend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(test) = TestStores::open(backend, dir.path()).await else {
        return;
    };
    assert_eq!(test.backend, backend);
    store_suite::run_all(&test.stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_suite() {
    run_suite(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_suite() {
    run_suite(TestBackend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_and_redis_suite() {
    run_suite(TestBackend::PostgresRedis).await;
}

/// Replicas starting together: every one migrates, each migration is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_migrations() {
    if !TestBackend::Postgres.available() {
        return;
    }
    let schema = PgTestSchema::create(&store_suite::test_database_url())
        .await
        .expect("test schema");
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = PgStore::connect_with(schema.options(), 2);
        tasks.push(tokio::spawn(async move {
            let result = DurableStore::migrate(&store).await;
            store.close().await;
            result
        }));
    }
    for task in tasks {
        task.await
            .expect("task")
            .expect("every replica's migrate succeeds");
    }
    let store = schema.store();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM devauth_migrations")
        .fetch_one(store.pool())
        .await
        .expect("migrations table");
    let embedded = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count() as i64;
    assert_eq!(applied, embedded, "each migration is recorded once");
    store.close().await;
    drop(schema);
}

/// Rolling upgrades: a binary that does not know a newer, already applied
/// migration still starts; one whose applied migration was edited refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_tolerate_newer_and_refuse_edited() {
    if !TestBackend::Postgres.available() {
        return;
    }
    let schema = PgTestSchema::create(&store_suite::test_database_url())
        .await
        .expect("test schema");
    let store = schema.store();
    DurableStore::migrate(&store).await.expect("migrate");
    sqlx::query(
        "INSERT INTO devauth_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990001, 'from a newer release', TRUE, '\\x00', 0)",
    )
    .execute(store.pool())
    .await
    .expect("record a newer migration");
    DurableStore::migrate(&store)
        .await
        .expect("an older binary starts on a newer schema");

    sqlx::query("UPDATE devauth_migrations SET checksum = '\\x00' WHERE version = 1")
        .execute(store.pool())
        .await
        .expect("tamper");
    let err = DurableStore::migrate(&store)
        .await
        .expect_err("an edited migration is refused");
    assert!(matches!(err, StoreError::Other(_)), "got {err:?}");
    store.close().await;
    drop(schema);
}

/// The schema is only in the test schema: `search_path` isolation works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_url_with_search_path_isolates() {
    if !TestBackend::Postgres.available() {
        return;
    }
    let schema = PgTestSchema::create(&store_suite::test_database_url())
        .await
        .expect("test schema");
    let store = PgStore::connect(&schema.url()).expect("url");
    DurableStore::migrate(&store).await.expect("migrate");
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(schema.name())
    .fetch_one(store.pool())
    .await
    .expect("count");
    assert!(
        tables >= 10,
        "tables created in the test schema, found {tables}"
    );
    store.close().await;
    drop(schema);
}

/// Nothing listens: calls answer `Unavailable` (within the pool's acquire
/// timeout), never another error and never a panic.
#[tokio::test]
async fn postgres_unreachable_is_unavailable() {
    let port = spare_port();
    let store = PgStore::connect(&format!("postgres://postgres@127.0.0.1:{port}/test"))
        .expect("url parses");
    let err = DurableStore::ping(&store)
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, StoreError::Unavailable(_)), "got {err:?}");
    let err = DurableStore::migrate(&store)
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, StoreError::Unavailable(_)), "got {err:?}");
    let err = store
        .device_grant_by_code(&TokenHash::of("x"))
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, StoreError::Unavailable(_)), "got {err:?}");
}

/// A port nobody listens on right now (bound then released).
fn spare_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// A private `redis-server`, killed on drop.
struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    fn start(port: u16) -> Self {
        let child = Command::new(REDIS_SERVER)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let server = Self { child, port };
        server.wait_ready();
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Waits (bounded) until the port accepts connections.
    fn wait_ready(&self) {
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        for _ in 0..200 {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("private redis-server did not start on port {}", self.port);
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Retries `ping` (bounded) until the store answers again by itself.
async fn until_ping_ok(store: &RedisFlowStore) -> usize {
    for attempt in 1..=100 {
        if FlowStore::ping(store).await.is_ok() {
            return attempt;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the store did not recover after the server came back");
}

/// Kill Redis mid-use: calls answer `Unavailable` (no panic, bounded by the
/// call timeout); restart it on the same port: calls succeed again without
/// any action on the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted() {
    if !redis_server_available() {
        return;
    }
    let port = spare_port();
    let mut server = PrivateRedis::start(port);
    let store = RedisFlowStore::connect_with_prefix(&server.url(), &prefix()).expect("client");
    let stores = Stores {
        durable: unused_durable(),
        flow: Arc::new(store.clone()),
    };
    store_suite::device_grants(&stores).await;
    let grant = store_suite::sample_grant(store_suite::T0);
    store
        .add_device_grant(&grant)
        .await
        .expect("add before kill");

    server.kill();
    for _ in 0..3 {
        // The hang guard is far above the store's own 3 s call timeout.
        let outcome = tokio::time::timeout(
            Duration::from_secs(30),
            store.device_grant_by_code(&grant.device_code_hash),
        )
        .await
        .expect("a call on a dead server returns instead of hanging");
        assert!(
            matches!(outcome, Err(StoreError::Unavailable(_))),
            "got {outcome:?}"
        );
    }
    let outcome = tokio::time::timeout(
        Duration::from_secs(30),
        store.update_device_grant(&grant, 0),
    )
    .await
    .expect("returns");
    assert!(
        matches!(outcome, Err(StoreError::Unavailable(_))),
        "got {outcome:?}"
    );
    let outcome =
        tokio::time::timeout(Duration::from_secs(30), store.hit("k", 60, store_suite::T0))
            .await
            .expect("returns");
    assert!(
        matches!(outcome, Err(StoreError::Unavailable(_))),
        "got {outcome:?}"
    );

    let _server = PrivateRedis::start(port);
    until_ping_ok(&store).await;
    // The restarted server is empty (no persistence): the store works on it,
    // scripts included (they are reloaded by the client on NOSCRIPT).
    assert_eq!(
        store
            .device_grant_by_code(&grant.device_code_hash)
            .await
            .unwrap(),
        None
    );
    store_suite::device_grants(&stores).await;
    store_suite::hits(&stores).await;
    store_suite::authorization_codes(&stores).await;
}

/// Redis down at start: the lazy store reports `Unavailable` and starts
/// working once a server appears on its port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_absent_at_start_then_up() {
    if !redis_server_available() {
        return;
    }
    let port = spare_port();
    let store =
        RedisFlowStore::connect_with_prefix(&format!("redis://127.0.0.1:{port}/"), &prefix())
            .expect("client");
    let err = FlowStore::ping(&store).await.expect_err("nothing listens");
    assert!(matches!(err, StoreError::Unavailable(_)), "got {err:?}");
    let _server = PrivateRedis::start(port);
    until_ping_ok(&store).await;
    let stores = Stores {
        durable: unused_durable(),
        flow: Arc::new(store),
    };
    store_suite::sessions(&stores).await;
}

/// A durable store for flow-only checks: lazy, pointed at a closed port, never called.
fn unused_durable() -> Arc<dyn DurableStore> {
    let port = spare_port();
    Arc::new(PgStore::connect(&format!("postgres://postgres@127.0.0.1:{port}/none")).expect("url"))
}

/// `store::open` with no URLs: SQLite in the data folder (created), both up.
#[tokio::test]
async fn open_defaults_to_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let stores = open::open(&data_dir, None, None).await.expect("open");
    assert!(data_dir.join(open::SQLITE_FILE).is_file());
    let health = open::health(&stores).await;
    assert!(health.is_ok(), "{health:?}");
    store_suite::users(&stores).await;
}

/// `store::open` with PostgreSQL + Redis URLs: migrated, both up; when the
/// Redis goes away, health says which service is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_postgres_and_redis_and_report_health() {
    if !TestBackend::Postgres.available() || !redis_server_available() {
        return;
    }
    let schema = PgTestSchema::create(&store_suite::test_database_url())
        .await
        .expect("test schema");
    let dir = tempfile::tempdir().expect("temp dir");

    let pg_only = open::open(dir.path(), Some(&schema.url()), None)
        .await
        .expect("open postgres");
    assert!(open::health(&pg_only).await.is_ok());
    store_suite::hits(&pg_only).await;

    let mut server = PrivateRedis::start(spare_port());
    let stores = open::open(dir.path(), Some(&schema.url()), Some(&server.url()))
        .await
        .expect("open postgres + redis");
    let health = open::health(&stores).await;
    assert!(health.is_ok(), "{health:?}");
    store_suite::device_grants(&stores).await;
    assert!(
        !dir.path().join(open::SQLITE_FILE).exists(),
        "no SQLite file with a database URL"
    );

    server.kill();
    let health = open::health(&stores).await;
    assert!(health.durable.is_up());
    assert!(!health.flow.is_up(), "{health:?}");
    assert!(!health.is_ok());
    let json = serde_json::to_value(&health).unwrap();
    assert_eq!(json["durable"]["status"], "up");
    assert_eq!(json["flow"]["status"], "down");

    // Opening against a Redis that is down fails with Unavailable.
    let err = open::open(dir.path(), Some(&schema.url()), Some(&server.url()))
        .await
        .map(|_| ())
        .expect_err("redis is down");
    assert!(matches!(err, StoreError::Unavailable(_)), "got {err:?}");
    drop(schema);
}

/// A private PostgreSQL cluster in a temp folder on a spare port (so the
/// shared server is never disturbed), stopped on drop. As root, it runs as
/// the `postgres` user (PostgreSQL refuses to run as root).
struct PrivatePostgres {
    bin: std::path::PathBuf,
    data: std::path::PathBuf,
    port: u16,
    as_root: bool,
    _dir: tempfile::TempDir,
}

impl PrivatePostgres {
    /// The newest installed PostgreSQL's `bin` folder.
    fn find_bin() -> Option<std::path::PathBuf> {
        let mut bins: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .collect();
        bins.sort();
        bins.pop()
    }

    fn run(&self, tool: &str, args: &[&str]) -> bool {
        let tool = self.bin.join(tool);
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&tool);
            c
        } else {
            Command::new(&tool)
        };
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Creates and starts a cluster; `None` (reason printed) when PostgreSQL
    /// binaries are missing, a panic under `DEVAUTH_REQUIRE_SERVICES=1`.
    fn start() -> Option<Self> {
        let Some(bin) = Self::find_bin() else {
            require_service(
                "PostgreSQL server binaries",
                Some("none under /usr/lib/postgresql"),
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if as_root {
            let chown = Command::new("chown")
                .args(["postgres:", &dir.path().display().to_string()])
                .status()
                .expect("chown");
            assert!(chown.success(), "chown the temp folder to postgres");
        }
        let data = dir.path().join("data");
        let pg = Self {
            bin,
            data,
            port: spare_port(),
            as_root,
            _dir: dir,
        };
        let data = pg.data.display().to_string();
        assert!(
            pg.run(
                "initdb",
                &[
                    "-D",
                    &data,
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8"
                ]
            ),
            "initdb"
        );
        pg.start_server();
        Some(pg)
    }

    fn start_server(&self) {
        let data = self.data.display().to_string();
        let socket_dir = self.data.parent().expect("parent").display().to_string();
        let opts = format!(
            "-p {} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        assert!(
            self.run(
                "pg_ctl",
                &["-D", &data, "-o", &opts, "-w", "-t", "60", "start"]
            ),
            "pg_ctl start"
        );
    }

    /// Stops like a crash (no shutdown checkpoint), and waits until it is down.
    fn crash(&self) {
        let data = self.data.display().to_string();
        assert!(
            self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]),
            "pg_ctl stop"
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

/// Crash PostgreSQL mid-flow: calls answer `Unavailable` (no panic, no hang);
/// start it again: the same store works again by itself and the approval
/// stored before the crash is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crashed_and_restarted() {
    let Some(server) = PrivatePostgres::start() else {
        return;
    };
    let store = PgStore::connect(&server.url()).expect("url");
    DurableStore::migrate(&store).await.expect("migrate");
    let grant = store_suite::sample_grant(store_suite::T0);
    store.add_device_grant(&grant).await.expect("add");
    let approved = grant
        .clone()
        .approve("u1".into(), store_suite::T0.plus_secs(5))
        .unwrap();
    assert!(
        store
            .update_device_grant(&approved, 0)
            .await
            .expect("approve")
    );

    server.crash();
    for _ in 0..3 {
        let outcome = tokio::time::timeout(
            Duration::from_secs(60),
            store.device_grant_by_code(&grant.device_code_hash),
        )
        .await
        .expect("a call on a dead server returns instead of hanging");
        assert!(
            matches!(outcome, Err(StoreError::Unavailable(_))),
            "got {outcome:?}"
        );
    }
    let outcome = tokio::time::timeout(Duration::from_secs(60), DurableStore::ping(&store))
        .await
        .expect("returns");
    assert!(
        matches!(outcome, Err(StoreError::Unavailable(_))),
        "got {outcome:?}"
    );

    server.start_server();
    let mut recovered = false;
    for _ in 0..100 {
        if DurableStore::ping(&store).await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the store did not recover after PostgreSQL came back"
    );
    let stored = store
        .device_grant_by_code(&grant.device_code_hash)
        .await
        .expect("read after restart")
        .expect("the approval survived the crash");
    assert_eq!(stored.state, approved.state);
    let (_, exchanged) = stored.clone().poll(store_suite::T0.plus_secs(10));
    assert!(
        store
            .update_device_grant(&exchanged, 1)
            .await
            .expect("redeem")
    );
    store.close().await;
}

/// PostgreSQL counters: a replica whose clock lags behind the newest window
/// counts into it rather than resetting it.
#[tokio::test]
async fn postgres_hit_windows_only_move_forward() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(test) = TestStores::open(TestBackend::Postgres, dir.path()).await else {
        return;
    };
    let f = &test.stores.flow;
    let t = store_suite::T0;
    assert_eq!(f.hit("k", 60, t.plus_secs(60)).await.unwrap(), 1);
    assert_eq!(f.hit("k", 60, t.plus_millis(59_900)).await.unwrap(), 2);
    assert_eq!(f.hit("k", 60, t.plus_secs(61)).await.unwrap(), 3);
    assert_eq!(f.hit("k", 60, t.plus_secs(120)).await.unwrap(), 1);
}

//! Shared pieces of the `replicas_*` tests: several real `devauth serve`
//! processes on one PostgreSQL schema of their own and a private
//! `redis-server`, plus the HTTP calls a device makes.
//!
//! Services that are missing make a test skip (printing why), unless
//! `DEVAUTH_REQUIRE_SERVICES=1`, which turns that into a failure. Every child
//! process is killed when its guard drops, also when a test fails.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use devauth_server::store::redis::RedisFlowStore;
use devauth_testkit::store_suite::{PgTestSchema, TestBackend, test_database_url};
use devauth_testkit::{TestServer, require_service};

use crate::devauth_bin;

const REDIS_SERVER: &str = "/usr/bin/redis-server";
pub const DEVICE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Upper bound for anything to happen; a test stuck longer fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(90);
/// The password of the users the tests add.
pub const PASSWORD: &str = "correct horse battery staple";

/// What the skips of these tests are reported as.
const WHAT: &str = "replicas test";

/// A port nobody listens on right now (the kernel's pick).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
        .port()
}

/// A private PostgreSQL schema (in the database of `DEVAUTH_TEST_DATABASE_URL`,
/// see [`test_database_url`]), or `None` (after [`require_service`]) when
/// PostgreSQL is absent.
pub fn pg_schema() -> Option<PgTestSchema> {
    if !TestBackend::Postgres.available() {
        return None;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match rt.block_on(PgTestSchema::create(&test_database_url())) {
        Ok(s) => Some(s),
        Err(e) => {
            require_service(
                WHAT,
                Some(&format!("cannot create a PostgreSQL schema: {e}")),
            );
            None
        }
    }
}

/// A private `redis-server` on a spare loopback port: without persistence,
/// or with an append-only file synced on every write ([`Redis::start_durable`]).
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    /// Folder of the append-only file, when persistent.
    aof: Option<tempfile::TempDir>,
}

impl Redis {
    /// Starts one, or `None` (after [`require_service`]) when there is no `redis-server`.
    pub fn start() -> Option<Self> {
        if !Path::new(REDIS_SERVER).is_file() {
            require_service(WHAT, Some(&format!("{REDIS_SERVER} is missing")));
            return None;
        }
        let mut r = Self {
            child: None,
            port: free_port(),
            aof: None,
        };
        r.restart();
        Some(r)
    }

    /// Same, keeping every write in an append-only file (fsync always), so a
    /// SIGKILL loses nothing acknowledged.
    pub fn start_durable() -> Option<Self> {
        if !Path::new(REDIS_SERVER).is_file() {
            require_service(WHAT, Some(&format!("{REDIS_SERVER} is missing")));
            return None;
        }
        let mut r = Self {
            child: None,
            port: free_port(),
            aof: Some(tempfile::tempdir().unwrap()),
        };
        r.restart();
        Some(r)
    }

    /// `redis://` URL of this server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again) on the same port and waits until it answers PING.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let mut cmd = Command::new(REDIS_SERVER);
        cmd.args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", ""]);
        match &self.aof {
            None => cmd.args(["--appendonly", "no"]),
            Some(dir) => cmd
                .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                .arg(dir.path()),
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while !self.answers() {
            assert!(Instant::now() < deadline, "redis-server never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the server answers a PING.
    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut buf = [0_u8; 16];
        s.write_all(b"PING\r\n").is_ok()
            && s.read(&mut buf)
                .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
    }

    /// SIGKILL: the data is gone (no persistence).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The backing services of a set of replicas.
pub struct Backends {
    pub schema: PgTestSchema,
    pub redis: Redis,
    /// `DEVAUTH_HOME` of the replicas (SQLite is not used; the folder must exist).
    pub home: tempfile::TempDir,
}

impl Backends {
    /// A private schema and Redis, or `None` when a service is missing.
    pub fn start() -> Option<Self> {
        Self::with_redis(Redis::start)
    }

    /// Same, with a Redis that persists every write.
    pub fn start_durable() -> Option<Self> {
        Self::with_redis(Redis::start_durable)
    }

    fn with_redis(start: fn() -> Option<Redis>) -> Option<Self> {
        let schema = pg_schema()?;
        let redis = start()?;
        Some(Self {
            schema,
            redis,
            home: tempfile::tempdir().unwrap(),
        })
    }

    /// `--database-url … --redis-url …`.
    pub fn storage_args(&self) -> Vec<String> {
        vec![
            "--database-url".into(),
            self.schema.url(),
            "--redis-url".into(),
            self.redis.url(),
        ]
    }

    /// Runs `devauth admin ARGS` on these stores with `stdin`; returns (exit code, stderr).
    pub fn admin(&self, args: &[&str], stdin: &str) -> (i32, String) {
        let out = devauth_testkit::run_with_stdin(
            Command::new(devauth_bin())
                .arg("admin")
                .args(self.storage_args())
                .args(args)
                .env("DEVAUTH_HOME", self.home.path())
                .env("DEVAUTH_LOG", "warn"),
            stdin.as_bytes(),
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Adds a user with [`PASSWORD`].
    pub fn add_user(&self, name: &str) {
        let (code, err) = self.admin(&["user", "add", name, "--password-stdin"], PASSWORD);
        assert_eq!(code, 0, "admin user add: {err}");
    }

    /// Approves `user_code` for `username` straight in the stores, with the
    /// same Pending → Approved transition the consent page makes.
    pub fn approve(&self, user_code: &str, username: &str) {
        use devauth_server::clock::{Clock as _, SystemClock};
        use devauth_server::store::{DurableStore as _, FlowStore as _};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let pg = self.schema.store();
            let user = pg.user_by_name(username).await.unwrap().expect("user");
            pg.close().await;
            let flow = RedisFlowStore::connect(&self.redis.url()).unwrap();
            let grant = flow
                .device_grant_by_user_code(&user_code.replace('-', ""))
                .await
                .unwrap()
                .expect("grant");
            let version = grant.version;
            let approved = grant.approve(user.id, SystemClock.now()).unwrap();
            assert!(flow.update_device_grant(&approved, version).await.unwrap());
        });
    }

    /// Starts a replica on these stores with `issuer` and extra flags.
    pub fn replica(&self, issuer: &str, extra: &[&str]) -> Replica {
        self.replica_on(free_port(), issuer, extra)
    }

    /// Same, on a given port. The poll interval is 1 s unless `extra` sets one.
    pub fn replica_on(&self, port: u16, issuer: &str, extra: &[&str]) -> Replica {
        let mut args = vec![
            "--listen".to_owned(),
            format!("127.0.0.1:{port}"),
            "--issuer".into(),
            issuer.to_owned(),
        ];
        if !extra.contains(&"--poll-interval") {
            args.extend(["--poll-interval".into(), "1".into()]);
        }
        args.extend(self.storage_args());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        Replica::start(self.home.path(), &args)
    }
}

/// A running `devauth serve`.
pub struct Replica {
    process: TestServer,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Replica {
    pub fn start(home: &Path, args: &[String]) -> Self {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let process = crate::start_serve(home, &args, &[], PATIENCE);
        Self {
            base: process.base.clone(),
            process,
        }
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        self.process.alive()
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Everything the process wrote on stderr so far.
    pub fn logs(&self) -> String {
        self.process.lines().join("\n")
    }

    /// `POST /oauth/device_authorization` for `devauth-cli`.
    pub fn device_authorization(&self) -> (u16, serde_json::Value) {
        post(
            &self.base,
            "/oauth/device_authorization",
            &[("client_id", "devauth-cli"), ("scope", "openid profile")],
        )
    }

    /// One device-code poll, right now.
    pub fn poll_now(&self, device_code: &str) -> (u16, serde_json::Value) {
        post(
            &self.base,
            "/oauth/token",
            &[
                ("grant_type", DEVICE),
                ("device_code", device_code),
                ("client_id", "devauth-cli"),
            ],
        )
    }

    /// `GET /healthz`.
    pub fn healthz(&self) -> (u16, serde_json::Value) {
        get(&self.base, "/healthz", None)
    }

    /// `GET /oauth/userinfo` with a bearer token.
    pub fn userinfo(&self, access_token: &str) -> (u16, serde_json::Value) {
        get(&self.base, "/oauth/userinfo", Some(access_token))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(PATIENCE))
        .build()
        .into()
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// A form POST; (status, JSON body or `Null`).
pub fn post(base: &str, path: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let mut res = agent()
        .post(format!("{base}{path}"))
        .send_form(form.iter().copied())
        .unwrap();
    let status = res.status().as_u16();
    (status, json(&res.body_mut().read_to_string().unwrap()))
}

/// A GET, optionally with a bearer token; (status, JSON body or `Null`).
pub fn get(base: &str, path: &str, bearer: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = agent().get(format!("{base}{path}"));
    if let Some(t) = bearer {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut res = req.call().unwrap();
    let status = res.status().as_u16();
    (status, json(&res.body_mut().read_to_string().unwrap()))
}

/// The `error` member of a JSON body.
pub fn error_of(body: &serde_json::Value) -> &str {
    body["error"].as_str().unwrap_or("")
}

/// A private PostgreSQL server (initdb in a temporary folder, trust auth, no
/// fsync) on a spare loopback port, run as the `postgres` user: one the test
/// may stop and start again, unlike the shared one.
pub struct PrivatePostgres {
    child: Option<Child>,
    bin: PathBuf,
    dir: tempfile::TempDir,
    uid: u32,
    gid: u32,
    pub port: u16,
}

impl PrivatePostgres {
    /// Creates and starts one, or `None` (after [`require_service`]) when this machine
    /// has no PostgreSQL binaries or the test does not run as root (needed to
    /// run the server as `postgres`).
    pub fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                versions
                    .filter_map(Result::ok)
                    .map(|v| v.path().join("bin"))
                    .find(|b| b.join("initdb").is_file() && b.join("postgres").is_file())
            });
        let Some(bin) = bin else {
            require_service(
                WHAT,
                Some("no /usr/lib/postgresql/*/bin/initdb for a private PostgreSQL"),
            );
            return None;
        };
        let id = |args: &[&str]| -> Option<u32> {
            let out = Command::new("id").args(args).output().ok()?;
            String::from_utf8(out.stdout).ok()?.trim().parse().ok()
        };
        if id(&["-u"]) != Some(0) {
            eprintln!("SKIPPED: a private PostgreSQL needs root (to run it as `postgres`)");
            return None;
        }
        let (Some(uid), Some(gid)) = (id(&["-u", "postgres"]), id(&["-g", "postgres"])) else {
            require_service(WHAT, Some("no `postgres` user for a private PostgreSQL"));
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        let out = Command::new(bin.join("initdb"))
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .uid(uid)
            .gid(gid)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = Self {
            child: None,
            bin,
            dir,
            uid,
            gid,
            port: free_port(),
        };
        pg.restart();
        Some(pg)
    }

    /// URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again) on the same port and data, and waits until
    /// it answers a query.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "PostgreSQL is already running");
        let child = Command::new(self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .uid(self.uid)
            .gid(self.gid)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        self.child = Some(child);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let deadline = Instant::now() + PATIENCE;
        rt.block_on(async {
            use devauth_server::store::DurableStore as _;
            let store = devauth_server::store::postgres::PgStore::connect(&self.url()).unwrap();
            while store.ping().await.is_err() {
                assert!(Instant::now() < deadline, "PostgreSQL never answered");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            store.close().await;
        });
    }

    /// Fast shutdown (SIGINT: open sessions are cut, data is kept), waited for.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + PATIENCE;
            while c.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = c.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

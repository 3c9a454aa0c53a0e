//! A real server for HTTP tests: the full router on an ephemeral loopback
//! port, one of the storage combinations ([`TestBackend`]: a temporary SQLite
//! file; a private PostgreSQL schema; that schema plus Redis under a random
//! key prefix), and a [`MockClock`] the test moves by hand.
//! Requests go over real TCP with a blocking `ureq` agent that does not
//! treat 4xx/5xx as errors (the tests read OAuth error bodies).

use std::net::SocketAddr;
use std::sync::Arc;

use devauth_proto::{GrantType, Scope, Secret};
use devauth_server::app::router;
use devauth_server::clock::{Clock as _, MockClock};
use devauth_server::config::Config;
use devauth_server::model::{DeviceGrant, Timestamp, User};
use devauth_server::setup::{NewClient, add_client};
use devauth_server::state::AppState;
use devauth_server::store::Stores;
use devauth_server::store::sqlite::SqliteStore;

pub mod faults;

pub use devauth_testkit::store_suite::TestBackend;
use devauth_testkit::store_suite::TestStores;

/// A running test server.
pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub clock: MockClock,
    /// The SQLite store behind `state` with [`TestBackend::Sqlite`] (to close
    /// it and simulate an outage).
    pub sqlite: Option<SqliteStore>,
    runtime: tokio::runtime::Runtime,
    /// Dropped after the runtime: drops the schema and the Redis keys.
    _opened: TestStores,
    _dir: tempfile::TempDir,
    agent: ureq::Agent,
}

/// A response, read fully.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Asserts an RFC 6749 error with `status` and `code`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.json()["error"], code, "body: {}", self.body);
        assert!(self.json()["error_description"].is_string());
    }
}

pub const T0: Timestamp = Timestamp::from_secs(1_800_000_000);

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    pub fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::on_with(TestBackend::Sqlite, adjust)
    }

    /// A server on `backend` (whose services the caller checked with [`TestBackend::available`]).
    pub fn on(backend: TestBackend) -> Self {
        Self::on_with(backend, |_| {})
    }

    /// Same, with the configuration adjusted.
    pub fn on_with(backend: TestBackend, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::on_wrapped(backend, adjust, |stores| stores)
    }

    /// A server whose stores are wrapped first (to inject faults, see
    /// [`faults::FaultyDurable`]).
    pub fn on_wrapped(
        backend: TestBackend,
        adjust: impl FnOnce(&mut Config),
        wrap: impl FnOnce(Stores) -> Stores,
    ) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let clock = MockClock::new(T0);
        let (state, base, opened) = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let base = format!("http://{addr}");
            let mut config = Config::new(base.clone(), addr, dir.path().to_owned());
            config.device_rate_limit = 0;
            adjust(&mut config);
            let opened = TestStores::connect(backend, dir.path()).await;
            let stores = wrap(opened.stores.clone());
            let state = AppState::new(stores, Arc::new(clock.clone()), config);
            state.init().await.unwrap();
            let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
            tokio::spawn(async move {
                axum::serve(listener, app).await.unwrap();
            });
            (state, base, opened)
        });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            base,
            state,
            clock,
            sqlite: opened.sqlite.clone(),
            runtime,
            _opened: opened,
            _dir: dir,
            agent,
        }
    }

    /// Runs a future on the server's runtime (direct store access).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    fn read(mut res: ureq::http::Response<ureq::Body>) -> Reply {
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = res.body_mut().read_to_string().unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        Self::read(
            self.agent
                .get(format!("{}{path}", self.base))
                .call()
                .unwrap(),
        )
    }

    pub fn get_bearer(&self, path: &str, token: &str) -> Reply {
        Self::read(
            self.agent
                .get(format!("{}{path}", self.base))
                .header("authorization", format!("Bearer {token}"))
                .call()
                .unwrap(),
        )
    }

    /// POSTs a form.
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.post_auth(path, form, None)
    }

    /// POSTs a form with HTTP Basic client credentials.
    pub fn post_auth(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Reply {
        let mut req = self.agent.post(format!("{}{path}", self.base));
        if let Some((id, secret)) = basic {
            use base64::Engine as _;
            let v = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            req = req.header("authorization", format!("Basic {v}"));
        }
        req = req.header("user-agent", "devauth-http-test/1");
        Self::read(req.send_form(form.iter().copied()).unwrap())
    }

    /// POSTs JSON, with an optional bearer token.
    pub fn post_json(&self, path: &str, body: &serde_json::Value, bearer: Option<&str>) -> Reply {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(token) = bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        Self::read(req.send(serde_json::to_vec(body).unwrap()).unwrap())
    }

    /// POSTs raw bytes with a content type.
    pub fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Reply {
        Self::read(
            self.agent
                .post(format!("{}{path}", self.base))
                .header("content-type", content_type)
                .send(body)
                .unwrap(),
        )
    }

    pub fn add_user(&self, name: &str) -> User {
        self.block_on(devauth_server::setup::add_user(
            self.state.stores.durable.as_ref(),
            name,
            &Secret::new("pw-for-tests"),
            self.clock.now(),
        ))
        .unwrap()
    }

    /// Adds a confidential client (as `devauth admin client add` does) and
    /// returns its secret.
    pub fn add_confidential(&self, id: &str, grants: &[GrantType], scopes: &str) -> String {
        let client = NewClient {
            grant_types: grants.to_vec(),
            allowed_scopes: Scope::parse(scopes).unwrap(),
            ..new_client(id, false)
        };
        let (_, secret) = self
            .block_on(add_client(
                self.state.stores.durable.as_ref(),
                client,
                self.clock.now(),
            ))
            .unwrap();
        secret
            .expect("a confidential client has a secret")
            .expose()
            .to_owned()
    }

    /// Adds a public client (as `devauth admin client add --public` does).
    pub fn add_public(&self, id: &str, grants: &[GrantType]) {
        let client = NewClient {
            grant_types: grants.to_vec(),
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            ..new_client(id, true)
        };
        self.block_on(add_client(
            self.state.stores.durable.as_ref(),
            client,
            self.clock.now(),
        ))
        .unwrap();
    }

    pub fn grant_by_user_code(&self, user_code: &str) -> DeviceGrant {
        let canonical = user_code.replace('-', "");
        self.block_on(self.state.stores.flow.device_grant_by_user_code(&canonical))
            .unwrap()
            .expect("grant exists")
    }

    /// What the consent page does on "approve": the Pending → Approved transition, CAS-stored.
    pub fn approve(&self, user_code: &str, user: &User) {
        let g = self.grant_by_user_code(user_code);
        let v = g.version;
        let approved = g.approve(user.id.clone(), self.clock.now()).unwrap();
        assert!(
            self.block_on(self.state.stores.flow.update_device_grant(&approved, v))
                .unwrap()
        );
    }

    pub fn deny(&self, user_code: &str) {
        let g = self.grant_by_user_code(user_code);
        let v = g.version;
        let denied = g.deny(self.clock.now()).unwrap();
        assert!(
            self.block_on(self.state.stores.flow.update_device_grant(&denied, v))
                .unwrap()
        );
    }

    /// Starts a device authorization for `devauth-cli`; returns (device_code, user_code).
    pub fn device_auth(&self, scope: &str) -> (String, String) {
        let r = self.post(
            "/oauth/device_authorization",
            &[("client_id", "devauth-cli"), ("scope", scope)],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let j = r.json();
        (
            j["device_code"].as_str().unwrap().to_owned(),
            j["user_code"].as_str().unwrap().to_owned(),
        )
    }

    pub fn poll(&self, device_code: &str) -> Reply {
        self.post(
            "/oauth/token",
            &[
                ("grant_type", devauth_proto::grant::DEVICE_CODE_GRANT),
                ("device_code", device_code),
                ("client_id", "devauth-cli"),
            ],
        )
    }

    /// A full device flow for `user`; returns the token response.
    pub fn login(&self, user: &User, scope: &str) -> serde_json::Value {
        let (dc, uc) = self.device_auth(scope);
        self.approve(&uc, user);
        self.clock.advance_secs(5);
        let r = self.poll(&dc);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    pub fn refresh(&self, refresh_token: &str) -> Reply {
        self.post(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", "devauth-cli"),
            ],
        )
    }
}

/// A client named "`id` app" with no grants, redirect URIs or scopes yet.
fn new_client(id: &str, public: bool) -> NewClient {
    NewClient {
        id: id.into(),
        name: format!("{id} app"),
        public,
        grant_types: vec![],
        redirect_uris: vec![],
        allowed_scopes: Scope::default(),
        may_introspect: false,
        id_token_alg: devauth_server::model::KeyAlgorithm::Rs256,
    }
}

//! Shared harness of the page tests: a real server on an ephemeral loopback
//! port (the `devauth_server` router, served with `ConnectInfo`) on one of
//! the storage combinations of `TestBackend` (SQLite by default), a
//! cookie-aware blocking HTTP client that does not follow redirects, and
//! fixtures (users, clients, device grants) written straight to the store.

pub mod memory;

pub use devauth_testkit::store_suite::TestBackend;
use devauth_testkit::store_suite::TestStores;

use std::net::SocketAddr;
use std::sync::Arc;

use devauth_proto::{GrantType, Scope};
use devauth_server::app::router;
use devauth_server::clock::MockClock;
use devauth_server::config::Config;
use devauth_server::model::{DeviceGrant, DeviceGrantState, Requester, Timestamp, TokenHash, User};
use devauth_server::setup::NewClient;
use devauth_server::state::AppState;
use devauth_server::store::Stores;

/// Where the mock clock starts (2026-01-01T00:00:00Z).
pub const T0: Timestamp = Timestamp::from_secs(1_767_225_600);

/// A server running on its own runtime; dropped at the end of the test.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The state the handlers see.
    pub state: AppState,
    /// The clock (moves only when told).
    pub clock: MockClock,
    /// Runs the server and store calls of the test.
    pub rt: tokio::runtime::Runtime,
    /// The stores opened for the test (`None` when the test brought its
    /// own); dropped after `rt`, with the schema and the Redis keys.
    _opened: Option<TestStores>,
    _dir: tempfile::TempDir,
}

/// How to start a server.
#[derive(Default)]
pub struct Options {
    /// Issuer override (default: the server's own `http://127.0.0.1:PORT`).
    pub issuer: Option<String>,
    /// Where state lives (default: a temporary SQLite database).
    pub backend: TestBackend,
    /// Stores override (instead of `backend`'s).
    pub stores: Option<Stores>,
}

impl TestServer {
    /// A server on a fresh temporary database.
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    /// A server on `backend` (whose services the caller checked with
    /// [`TestBackend::available`]).
    pub fn on(backend: TestBackend) -> Self {
        Self::start_with(Options {
            backend,
            ..Options::default()
        })
    }

    /// A server with options.
    pub fn start_with(options: Options) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind an ephemeral loopback port");
        let addr = listener.local_addr().expect("local addr");
        let base = format!("http://{addr}");
        let (stores, opened) = match options.stores {
            Some(stores) => (stores, None),
            None => {
                let opened = rt.block_on(TestStores::connect(options.backend, dir.path()));
                (opened.stores.clone(), Some(opened))
            }
        };
        let mut config = Config::new(
            options.issuer.unwrap_or_else(|| base.clone()),
            addr,
            dir.path().to_path_buf(),
        );
        config.device_rate_limit = 0;
        let clock = MockClock::new(T0);
        let state = AppState::new(stores, Arc::new(clock.clone()), config);
        rt.block_on(state.init())
            .expect("server init (migrations, keys, default client)");
        let app = router(state.clone());
        rt.spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Self {
            base,
            state,
            clock,
            rt,
            _opened: opened,
            _dir: dir,
        }
    }

    /// A new browser (own cookie jar) pointed at this server.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// Adds a user with a password; returns its id.
    pub fn add_user(&self, username: &str, password: &str) -> String {
        let hash = devauth_server::password::hash(password).expect("hash");
        let user = User {
            id: format!("u-{username}"),
            username: username.into(),
            password_hash: hash,
            disabled: false,
            created_at: T0,
        };
        self.rt
            .block_on(self.state.stores.durable.add_user(&user))
            .expect("add user");
        user.id
    }

    /// Disables a user.
    pub fn disable_user(&self, username: &str) {
        let found = self
            .rt
            .block_on(self.state.stores.durable.set_user_disabled(username, true))
            .expect("disable user");
        assert!(found);
    }

    /// Adds a public client that may use every grant, with `redirect_uris`
    /// (as `devauth admin client add --public` does).
    pub fn add_client(&self, id: &str, name: &str, redirect_uris: &[&str], allowed: &str) {
        let client = NewClient {
            id: id.into(),
            name: name.into(),
            public: true,
            grant_types: vec![
                GrantType::DeviceCode,
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
            ],
            redirect_uris: redirect_uris.iter().map(|s| (*s).to_owned()).collect(),
            allowed_scopes: Scope::parse(allowed).expect("scope"),
            may_introspect: false,
            id_token_alg: devauth_server::model::KeyAlgorithm::Rs256,
        };
        self.rt
            .block_on(devauth_server::setup::add_client(
                self.state.stores.durable.as_ref(),
                client,
                T0,
            ))
            .expect("add client");
    }

    /// Stores a pending device grant for `client_id` with `user_code`
    /// (canonical), asked two minutes ago from 203.0.113.7.
    pub fn add_grant(&self, client_id: &str, user_code: &str) -> DeviceGrant {
        let now = self.clock_now();
        let grant = DeviceGrant {
            id: format!("g-{user_code}"),
            device_code_hash: TokenHash::of(&format!("device-code-{user_code}")),
            user_code: user_code.into(),
            client_id: client_id.into(),
            resource: None,
            scope: Scope::parse("openid offline_access").expect("scope"),
            requester: Requester {
                ip: "203.0.113.7".into(),
                user_agent: "devauth/0.1 (linux; <b>test</b>)".into(),
            },
            created_at: now.plus_secs(-120),
            expires_at: now.plus_secs(480),
            interval_secs: 5,
            last_polled_at: None,
            failed_confirmations: 0,
            state: DeviceGrantState::Pending,
            version: 0,
        };
        self.rt
            .block_on(self.state.stores.flow.add_device_grant(&grant))
            .expect("add grant");
        grant
    }

    /// The stored grant with `user_code`.
    pub fn grant(&self, user_code: &str) -> DeviceGrant {
        self.rt
            .block_on(self.state.stores.flow.device_grant_by_user_code(user_code))
            .expect("read grant")
            .expect("grant exists")
    }

    /// Audit event kinds, oldest first.
    pub fn audit_kinds(&self) -> Vec<String> {
        let mut events = self
            .rt
            .block_on(self.state.stores.durable.recent_audit(1000))
            .expect("read audit");
        events.reverse();
        events.into_iter().map(|e| e.kind).collect()
    }

    /// The mock clock's time.
    pub fn clock_now(&self) -> Timestamp {
        devauth_server::clock::Clock::now(&self.clock)
    }
}

/// One HTTP answer, read whole.
#[derive(Debug)]
pub struct Page {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: ureq::http::HeaderMap,
    /// Body text.
    pub body: String,
}

impl Page {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every `Set-Cookie`.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// `Location`.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The value of the (first) input named `name`.
    pub fn input(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(unescape(&self.body[start..end]))
    }

    /// The CSRF token of the page's form.
    pub fn csrf(&self) -> String {
        self.input("csrf").expect("page has a csrf field")
    }

    /// Asserts the status, printing the body when it differs.
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body:\n{}",
            self.body
        );
        self
    }

    /// Asserts the body contains `text`.
    pub fn contains(&self, text: &str) -> &Self {
        assert!(
            self.body.contains(text),
            "page lacks {text:?}; body:\n{}",
            self.body
        );
        self
    }
}

/// A cookie-keeping HTTP client that stops at redirects.
pub struct Browser {
    agent: ureq::Agent,
    /// Base URL.
    pub base: String,
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            agent,
            base: base.to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Page {
        let response = self.agent.get(&self.url(path)).call().expect("GET");
        read(response)
    }

    /// `POST path` with a form, sending our own `Origin` like a browser does.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_from(path, fields, Some(&self.base.clone()))
    }

    /// `POST path` with a form and the given `Origin` (or none).
    pub fn post_from(&self, path: &str, fields: &[(&str, &str)], origin: Option<&str>) -> Page {
        let mut request = self.agent.post(&self.url(path));
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let response = request.send_form(fields.iter().copied()).expect("POST");
        read(response)
    }

    /// `POST path` with a form and extra headers (no `Origin`).
    pub fn post_with(&self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let mut request = self.agent.post(&self.url(path));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        read(request.send_form(fields.iter().copied()).expect("POST"))
    }

    /// `POST path` with a raw body, on a connection of its own: a server
    /// that refuses a request without reading its body may close the
    /// connection, and a pooled one reused after it would fail at random.
    pub fn post_raw(&self, path: &str, body: &str) -> Page {
        let response = self
            .agent
            .post(&self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Connection", "close")
            .send(body)
            .expect("POST");
        read(response)
    }

    /// Drops every cookie (a new browser profile, same client).
    pub fn clear_cookies(&self) {
        self.agent.cookie_jar_lock().clear();
    }

    /// Sets a raw `Cookie` header for one GET (bypassing the jar).
    pub fn get_with_cookie(&self, path: &str, cookie: &str) -> Page {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        let response = agent
            .get(&self.url(path))
            .header("Cookie", cookie)
            .call()
            .expect("GET");
        read(response)
    }

    /// Logs in through the pages (`GET /login`, `POST /login`).
    pub fn login(&self, username: &str, password: &str) -> Page {
        let form = self.get("/login");
        let csrf = form.csrf();
        self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
                ("next", "/device"),
            ],
        )
    }
}

/// A browser whose connections come from a chosen loopback address
/// (127.0.0.x), for the per-IP limits: plain HTTP/1.1 over a socket bound
/// before it connects, one connection per request, one session cookie.
pub struct BrowserFrom {
    server: std::net::SocketAddr,
    from: std::net::IpAddr,
    base: String,
    cookie: std::cell::RefCell<Option<String>>,
}

impl BrowserFrom {
    /// A browser at `from` (an address in 127.0.0.0/8) talking to `base`.
    pub fn new(base: &str, from: &str) -> Self {
        let server = base
            .trim_start_matches("http://")
            .parse()
            .expect("http://IP:PORT");
        Self {
            server,
            from: from.parse().expect("an IP address"),
            base: base.to_owned(),
            cookie: std::cell::RefCell::new(None),
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Page {
        self.send("GET", path, None)
    }

    /// `POST path` with a form and our own `Origin`.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().copied())
            .finish();
        self.send("POST", path, Some(body))
    }

    /// Logs in through the pages.
    pub fn login(&self, username: &str, password: &str) -> Page {
        let csrf = self.get("/login").csrf();
        self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
                ("next", "/device"),
            ],
        )
    }

    fn send(&self, method: &str, path: &str, body: Option<String>) -> Page {
        use std::io::{Read as _, Write as _};
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket
            .bind(&std::net::SocketAddr::new(self.from, 0).into())
            .expect("bind a loopback source address");
        socket.connect(&self.server.into()).expect("connect");
        let mut stream: std::net::TcpStream = socket.into();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nOrigin: {}\r\n",
            self.server, self.base
        );
        if let Some(cookie) = self.cookie.borrow().as_ref() {
            head.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        let body = body.unwrap_or_default();
        if method == "POST" {
            head.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("response");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let mut headers = ureq::http::HeaderMap::new();
        for line in lines {
            if let Some((k, v)) = line.split_once(':') {
                let name = ureq::http::HeaderName::from_bytes(k.trim().as_bytes()).unwrap();
                let value = ureq::http::HeaderValue::from_str(v.trim()).unwrap();
                if name == "set-cookie" {
                    let pair = v.trim().split(';').next().unwrap_or_default().to_owned();
                    if pair.starts_with("devauth_session=") {
                        *self.cookie.borrow_mut() = Some(pair);
                    }
                }
                headers.append(name, value);
            }
        }
        Page {
            status,
            headers,
            body: body.to_owned(),
        }
    }
}

/// Undoes askama's HTML escaping of an attribute value.
pub fn unescape(s: &str) -> String {
    s.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#38;", "&")
}

fn read(response: ureq::http::Response<ureq::Body>) -> Page {
    let (parts, mut body) = response.into_parts();
    Page {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.read_to_string().expect("body"),
    }
}

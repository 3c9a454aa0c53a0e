//! CPU time devauth's own code spends on one request of the load
//! benchmark's paths, without the network: requests go straight into the
//! router (`tower::ServiceExt::oneshot`) on one thread, so neither hyper,
//! the kernel's TCP work nor a load generator is counted, and the figure is
//! far steadier than a wrk run on a shared machine.
//!
//! Paths: `discovery` (the document, no store) and `poll` (a too-early poll
//! of a pending code on a real SQLite file in a temp folder, as
//! `bench/load.sh` sends once the code's interval has reached its cap).
//! Device authorizations are left out: their cost is mostly the writer
//! thread's, which `store_ceiling` measures.
//!
//! Usage: `cargo run --release -p devauth-server --example router_cost -- [N [PATH]]`
//! (PATH: only that one, e.g. to profile it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, header};
use devauth_server::app::router;
use devauth_server::clock::SystemClock;
use devauth_server::config::Config;
use devauth_server::state::AppState;
use devauth_server::store::sqlite::SqliteStore;
use tower::ServiceExt as _;

// The allocator `devauth serve` runs with, so allocation costs what it
// costs there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A benchmarked path: its name, how to make one request, the status expected.
type Path = (&'static str, Box<dyn Fn() -> Request<Body>>, u16);

const GRANT: &str = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code";

fn request(method: &str, path: &str, body: String) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::USER_AGENT, "wrk")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .expect("a request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    req
}

async fn send(app: &axum::Router, req: Request<Body>) -> (u16, axum::body::Bytes) {
    let response = app.clone().oneshot(req).await.expect("infallible");
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("a body");
    (status, body)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args
        .next()
        .map_or(100_000, |s| s.parse().expect("N is a number"));
    let only = args.next();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let dir = tempfile::tempdir().expect("a temp folder");
        let store = SqliteStore::open(&dir.path().join("devauth.db"))
            .await
            .expect("open the store");
        let listen = SocketAddr::from(([127, 0, 0, 1], 8080));
        let mut config = Config::new("http://127.0.0.1:8080", listen, dir.path().to_owned());
        config.device_rate_limit = 0;
        let state = AppState::new(store.into_stores(), Arc::new(SystemClock), config);
        state.init().await.expect("init");
        let app = router(state);

        let (status, body) = send(
            &app,
            request(
                "POST",
                "/oauth/device_authorization",
                "client_id=devauth-cli".into(),
            ),
        )
        .await;
        assert_eq!(status, 200, "device authorization");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        let code = json["device_code"]
            .as_str()
            .expect("a device code")
            .to_owned();
        let poll_body = format!("{GRANT}&client_id=devauth-cli&device_code={code}");

        let paths: [Path; 2] = [
            (
                "discovery",
                Box::new(|| request("GET", "/.well-known/openid-configuration", String::new())),
                200,
            ),
            (
                "poll",
                Box::new(move || request("POST", "/oauth/token", poll_body.clone())),
                400,
            ),
        ];
        for (name, make, expected) in &paths {
            if only.as_deref().is_some_and(|o| o != *name) {
                continue;
            }
            // Warm up (and, for `poll`, let the interval reach its cap).
            for _ in 0..1000 {
                send(&app, make()).await;
            }
            let start = Instant::now();
            for _ in 0..n {
                let (status, _) = send(&app, make()).await;
                assert_eq!(status, *expected, "{name}");
            }
            let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
            println!("{name}: {per:.2} µs per request ({n} requests, one thread)");
        }
    });
}

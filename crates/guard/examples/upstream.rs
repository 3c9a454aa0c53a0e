//! A trivial upstream for `bench/guard.sh`: answers every request with a
//! small JSON body, as fast as hyper can, so the benchmark measures the
//! guard and not its upstream.
//!
//!     cargo run --release -p devauth-guard --example upstream -- 127.0.0.1:3000

use std::convert::Infallible;

use hyper::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("upstream listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(|_req: hyper::Request<Incoming>| async {
                Ok::<_, Infallible>(Response::new(axum::body::Body::from(
                    r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
                )))
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

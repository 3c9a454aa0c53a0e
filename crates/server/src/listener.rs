//! Serving the router on a TCP listener with the limits a server facing the
//! internet needs (`axum::serve` has none): a client that trickles its
//! headers or body, or holds idle sockets, cannot hold the server.
//!
//! | limit | default | what happens |
//! |---|---|---|
//! | [`Limits::header_timeout`] | 10 s | the request line and headers must arrive within it, or the connection is closed (hyper's `header_read_timeout`) |
//! | [`Limits::body_timeout`] | 30 s | the whole body must arrive within it — a byte every few seconds does not reset it — or the request is refused as unreadable and the connection closed |
//! | [`Limits::idle_timeout`] | 60 s | a connection with no traffic either way for this long is closed |
//! | [`Limits::max_connections`] | 768 | connections beyond it are accepted and closed at once, so the server keeps accepting and its file descriptors stay bounded |
//! | [`Limits::shutdown_timeout`] | 10 s | after SIGTERM, in-flight requests get this long to finish; then every connection is dropped |
//!
//! HTTP/1.1 only: TLS and HTTP/2 belong to the reverse proxy in front
//! (docs/server.md).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The limits of [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time allowed for the request line and headers.
    pub header_timeout: Duration,
    /// Time allowed for the whole request body.
    pub body_timeout: Duration,
    /// A connection without traffic for this long is closed.
    pub idle_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
    /// How long a shutdown waits for in-flight requests.
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 768,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then drains
/// in-flight requests for at most [`Limits::shutdown_timeout`]. The router
/// sees the peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let body_timeout = limits.body_timeout;
    let app = app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| whole_body_within(body_timeout, req, next),
    ));
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // accept: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics::counter!("devauth_connections_refused_total").increment(1);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = tower::ServiceExt::map_request(app.clone(), move |mut req: Request<_>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let conn = http.serve_connection(
            TokioIo::new(Idle::new(stream, limits.idle_timeout)),
            hyper_util::service::TowerToHyperService::new(svc),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            timeout_secs = limits.shutdown_timeout.as_secs(),
            "connections still open at the shutdown deadline were dropped"
        );
    }
    Ok(())
}

/// Gives the request body a deadline: a body still arriving `limit` after
/// the handler started reading it fails its next read, the handler refuses
/// the request as it refuses any unreadable body, and the connection closes.
async fn whole_body_within(limit: Duration, req: Request, next: Next) -> Response {
    let req = req.map(|body| axum::body::Body::new(Deadline::new(body, limit)));
    next.run(req).await
}

/// A request body that errors once its deadline has passed.
struct Deadline {
    inner: axum::body::Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Deadline {
    fn new(inner: axum::body::Body, limit: Duration) -> Self {
        Self {
            inner,
            sleep: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

impl http_body::Body for Deadline {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                metrics::counter!("devauth_body_timeouts_total").increment(1);
                Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A TCP stream that fails its reads once nothing has moved either way for
/// the idle timeout (the connection then closes).
struct Idle {
    stream: TcpStream,
    timeout: Duration,
    started: Instant,
    /// Milliseconds after `started` of the last byte read or written.
    last: u64,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Idle {
    fn new(stream: TcpStream, timeout: Duration) -> Self {
        Self {
            stream,
            timeout,
            started: Instant::now(),
            last: 0,
            sleep: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    fn touch(&mut self) {
        self.last = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
    }

    fn deadline(&self) -> tokio::time::Instant {
        let last = Duration::from_millis(self.last);
        tokio::time::Instant::from_std(self.started + last + self.timeout)
    }
}

impl AsyncRead for Idle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                let deadline = self.deadline();
                if self.sleep.deadline() != deadline {
                    self.sleep.as_mut().reset(deadline);
                }
                match self.sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "idle connection closed",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for Idle {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

//! Forwarding a verified request to the upstream.
//!
//! Bodies stream both ways, frame by frame: a Server-Sent Events response
//! (MCP's Streamable HTTP answers with `text/event-stream`) reaches the
//! client as each event is written, never buffered. Headers pass as they
//! are — `Mcp-Session-Id`, `MCP-Protocol-Version`, `Last-Event-ID` included —
//! except:
//!
//! - hop-by-hop headers (RFC 9110 §7.6.1) and those `Connection` names;
//! - `Authorization`: the token was issued for this resource and stops here
//!   (the MCP spec forbids passing it through to another service);
//! - the `--forward-user-header` header: whatever the client sent under that
//!   name is removed, and the token's subject put in its place, so the
//!   upstream can trust it;
//! - `Host` becomes the upstream's; `X-Forwarded-For`, `-Proto` and `-Host`
//!   say where the request came from.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri, header};
use axum::response::IntoResponse;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::config::Config;
use crate::verify::Verified;

/// The HTTP client for the upstream (keeps connections alive).
pub type Upstream = Client<HttpConnector, Body>;

/// A client for the upstream.
pub fn client() -> Upstream {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(std::time::Duration::from_secs(5)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .build(connector)
}

const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
}

/// The upstream URI for a request to `uri`: the part after the resource's
/// path, appended to the upstream's path.
pub fn upstream_uri(config: &Config, uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let rest = path.strip_prefix(config.resource_path())?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None; // /mcpx is not under /mcp
    }
    let base = config.upstream.path().trim_end_matches('/');
    let mut target = format!(
        "{}://{}{}{}",
        config.upstream.scheme(),
        config.upstream.authority(),
        base,
        rest
    );
    if target.ends_with("://") || rest.is_empty() && base.is_empty() {
        target.push('/');
    }
    if let Some(q) = uri.query() {
        target.push('?');
        target.push_str(q);
    }
    target.parse().ok()
}

/// Sends `req` upstream as `verified`'s and streams the answer back.
pub async fn forward(
    client: &Upstream,
    config: &Config,
    mut req: Request<Body>,
    verified: &Verified,
    peer: SocketAddr,
) -> Response<Body> {
    let Some(target) = upstream_uri(config, req.uri()) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let original_host = req.headers().get(header::HOST).cloned();
    let headers = req.headers_mut();
    strip_hop_by_hop(headers);
    headers.remove(header::AUTHORIZATION);
    if let Some(name) = &config.forward_user_header {
        headers.remove(name.as_str());
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&verified.subject),
        ) {
            headers.insert(name, value);
        }
    }
    if let Ok(v) = HeaderValue::from_str(config.upstream.authority()) {
        headers.insert(header::HOST, v);
    }
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prior) => format!("{prior}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&forwarded_for) {
        headers.insert("x-forwarded-for", v);
    }
    if let Ok(v) = HeaderValue::from_str(config.resource.scheme()) {
        headers.insert("x-forwarded-proto", v);
    }
    if let Some(host) = original_host {
        headers.insert("x-forwarded-host", host);
    }
    *req.uri_mut() = target;
    // The hop to the upstream is HTTP/1.1 whatever the client spoke: an
    // HTTP/1.0 request forwarded as such poisons the pooled connection.
    *req.version_mut() = axum::http::Version::HTTP_11;
    match client.request(req).await {
        Ok(resp) => {
            let mut resp = resp.map(Body::new);
            strip_hop_by_hop(resp.headers_mut());
            resp
        }
        Err(e) => {
            tracing::warn!(error = %e, "the upstream did not answer");
            metrics::counter!("devauth_guard_upstream_errors_total").increment(1);
            (
                StatusCode::BAD_GATEWAY,
                axum::Json(serde_json::json!({"error": "the upstream did not answer"})),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_the_resource_map_onto_the_upstream() {
        let c = Config::new(
            "https://a",
            "https://tools.example.com/mcp",
            "http://127.0.0.1:3000/api/mcp",
        )
        .unwrap();
        let map = |p: &str| upstream_uri(&c, &p.parse().unwrap()).map(|u| u.to_string());
        assert_eq!(
            map("/mcp").as_deref(),
            Some("http://127.0.0.1:3000/api/mcp")
        );
        assert_eq!(
            map("/mcp/x?y=1").as_deref(),
            Some("http://127.0.0.1:3000/api/mcp/x?y=1")
        );
        assert_eq!(map("/mcpx"), None);
        assert_eq!(map("/other"), None);
        let root = Config::new("https://a", "https://t/", "http://127.0.0.1:3000").unwrap();
        assert_eq!(
            upstream_uri(&root, &"/x".parse().unwrap())
                .map(|u| u.to_string())
                .as_deref(),
            Some("http://127.0.0.1:3000/x")
        );
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("mcp-session-id", HeaderValue::from_static("s"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("mcp-session-id"));
    }
}

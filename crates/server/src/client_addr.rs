//! Who is asking: the client's IP address (for rate limits, the confirm
//! page and the audit log) and its `User-Agent`.
//!
//! The address is the TCP peer's, from axum's `ConnectInfo<SocketAddr>`.
//! Only when that peer is a proxy the operator trusts (`devauth serve
//! --trusted-proxy CIDR`) are `Forwarded` (RFC 7239) or, without it,
//! `X-Forwarded-For` read: walking from the right, past every trusted
//! hop, the first untrusted address is the client. A client that reaches
//! the server directly cannot choose its address by sending those headers,
//! and one behind the proxy cannot either: what it writes on the left of
//! the list is never reached while an untrusted hop stands to its right.
//! Without connect info every request shares the address `unknown` (the
//! per-IP limits then become global ones: safe, but coarse).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use ipnet::IpNet;

use crate::model::Requester;
use crate::state::AppState;

/// Longest user agent kept.
const MAX_USER_AGENT: usize = 256;

/// The requester of the current request: the client IP address as text
/// (`"unknown"` without connect info) and its user agent (cut to
/// 256 characters). Pages that need only the address take
/// `RequesterInfo(Requester { ip, .. })`.
#[derive(Debug, Clone)]
pub struct RequesterInfo(pub Requester);

impl FromRequestParts<AppState> for RequesterInfo {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let ip = client_ip(peer, &parts.headers, &state.config.trusted_proxies);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(MAX_USER_AGENT).collect())
            .unwrap_or_default();
        Ok(Self(Requester { ip, user_agent }))
    }
}

/// The client's address: `peer`, or — when `peer` is in `trusted` — the
/// rightmost untrusted hop of the forwarding headers.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> String {
    let Some(peer) = peer else {
        return "unknown".to_owned();
    };
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer.to_string();
    }
    let hops = forwarded_hops(headers);
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            // A hop we cannot read: stop at the last address we trust.
            None => break,
            Some(ip) => {
                client = *ip;
                if !is_trusted(ip) {
                    break;
                }
            }
        }
    }
    client.to_string()
}

/// The addresses the forwarding headers list, left (first) to right;
/// `None` for an entry that is not an IP address (`unknown`, an obfuscated
/// identifier, garbage). `Forwarded` wins over `X-Forwarded-For`.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| parse_node(v.trim().trim_matches('"')))
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| parse_node(hop.trim()))
        .collect()
}

/// An RFC 7239 node (`192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:80`,
/// `2001:db8::1`) as an address.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    node.parse::<SocketAddr>().ok().map(|s| s.ip())
}

/// Parses `--trusted-proxy` values: CIDRs (`10.0.0.0/8`) or single
/// addresses (`127.0.0.1`), each possibly a comma-separated list.
pub fn parse_trusted(values: &[String]) -> Result<Vec<IpNet>, String> {
    let mut nets = Vec::new();
    for item in values.iter().flat_map(|v| v.split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let net = item
            .parse::<IpNet>()
            .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("{item:?} is not an IP address or CIDR block"))?;
        nets.push(net);
    }
    Ok(nets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn forwarding_headers_are_ignored_without_trusted_proxies() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
        ]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &[]), "127.0.0.1");
        assert_eq!(client_ip(None, &h, &[]), "unknown");
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = parse_trusted(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        // The client wrote a spoofed address on the left; the proxy chain
        // appended the real one.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &trusted), "198.51.100.7");
        // An untrusted peer's headers are not read at all.
        assert_eq!(client_ip(ip("192.0.2.1"), &h, &trusted), "192.0.2.1");
        // Every hop trusted: the leftmost.
        let h = headers(&[("x-forwarded-for", "10.1.1.1, 10.0.0.2")]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &trusted), "10.1.1.1");
        // No header: the proxy itself.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            "127.0.0.1"
        );
        // A hop that is not an address stops the walk at the last trusted one.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, garbage")]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &trusted), "127.0.0.1");
    }

    #[test]
    fn forwarded_wins_and_is_parsed_per_rfc_7239() {
        let trusted = parse_trusted(&["127.0.0.0/8".into()]).unwrap();
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            (
                "forwarded",
                "for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\"",
            ),
        ]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &h, &trusted),
            "2001:db8:cafe::17"
        );
        let h = headers(&[
            ("forwarded", "for=192.0.2.43:8080"),
            ("forwarded", "for=127.0.0.5"),
        ]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &trusted), "192.0.2.43");
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &trusted), "127.0.0.1");
    }

    #[test]
    fn trusted_proxy_lists_are_checked() {
        assert_eq!(
            parse_trusted(&["10.0.0.0/8, 192.168.1.1".into(), "::1".into()])
                .unwrap()
                .len(),
            3
        );
        assert!(parse_trusted(&["10.0.0.0/33".into()]).is_err());
        assert!(parse_trusted(&["proxy.example".into()]).is_err());
    }
}

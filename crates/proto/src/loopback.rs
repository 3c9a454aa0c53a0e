//! What counts as this machine in a URL: the rule the client (plain `http`
//! is refused except to loopback), the guard (its issuer and upstream) and
//! the server's metadata-document fence (`--allow-private-client-metadata`)
//! share.

/// Whether `url` names this machine: an IPv4 or IPv6 loopback address
/// (all of 127.0.0.0/8, `::1`) or `localhost`.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_hosts_and_only_them() {
        for yes in [
            "http://127.0.0.1:8080/x",
            "http://127.9.9.9/",
            "http://[::1]:1/",
            "http://LOCALHOST/",
        ] {
            assert!(is_loopback(&url::Url::parse(yes).unwrap()), "{yes}");
        }
        for no in [
            "http://10.0.0.1/",
            "http://[::2]/",
            "http://localhost.example.com/",
            "http://127.0.0.1.nip.io/",
            "file:///etc/passwd",
        ] {
            assert!(!is_loopback(&url::Url::parse(no).unwrap()), "{no}");
        }
    }
}

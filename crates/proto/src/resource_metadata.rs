//! Where a protected resource's metadata document lives (RFC 9728 §3.1):
//! the rule the guard publishes by and the client looks it up by.

/// The well-known path.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The metadata URL of `resource`: the well-known path inserted between its
/// origin and its path (a trailing `/` dropped), e.g.
/// `https://tools.example.com/mcp` →
/// `https://tools.example.com/.well-known/oauth-protected-resource/mcp`.
pub fn url_for(resource: &url::Url) -> String {
    format!(
        "{}{WELL_KNOWN}{}",
        resource.origin().ascii_serialization(),
        resource.path().trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::url_for;

    #[test]
    fn the_well_known_path_goes_before_the_resource_path() {
        let at = |s: &str| url_for(&url::Url::parse(s).unwrap());
        assert_eq!(
            at("https://tools.example.com/mcp/"),
            "https://tools.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            at("https://tools.example.com"),
            "https://tools.example.com/.well-known/oauth-protected-resource"
        );
    }
}

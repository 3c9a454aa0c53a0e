//! Which profile holds the MCP login for a URL: the one `mcp login` made
//! for it (found by the URL it recorded), else the name it would get.

use devauth_client::ProfileStore;
use devauth_client::mcp;

/// The profile whose MCP login is for `url`, if any.
pub fn profile_for(url: &str) -> anyhow::Result<Option<String>> {
    let store = ProfileStore::open_default()?;
    let want = url.trim_end_matches('/');
    Ok(store.list()?.into_iter().flatten().find_map(|p| {
        let same = p
            .extra
            .get(mcp::EXTRA_KEY)
            .and_then(|m| m["url"].as_str())
            .is_some_and(|u| u.trim_end_matches('/') == want);
        same.then_some(p.name)
    }))
}

/// The command that makes (or makes again) the MCP login of `url` in
/// profile `name`: `--profile` only when `name` is not the one `mcp login`
/// would pick by itself.
pub fn login_command(url: &str, name: &str) -> String {
    if name == default_profile(url) {
        format!("devauth mcp login {url}")
    } else {
        format!("devauth mcp login {url} --profile {name}")
    }
}

/// The profile name an MCP server's login gets unless `--profile` names
/// one: `mcp-HOST[-PORT]`, lower-case, within the profile-name rules.
pub fn default_profile(url: &str) -> String {
    let parsed = url::Url::parse(url).ok();
    let host = parsed
        .as_ref()
        .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_owned()))
        .unwrap_or_else(|| "server".into());
    let mut name = format!("mcp-{host}");
    if let Some(port) = parsed.as_ref().and_then(url::Url::port) {
        name.push_str(&format!("-{port}"));
    }
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    name
}

#[cfg(test)]
mod tests {
    #[test]
    fn profile_names_follow_the_host() {
        assert_eq!(
            super::default_profile("https://tools.example.com/mcp"),
            "mcp-tools.example.com"
        );
        assert_eq!(
            super::default_profile("http://127.0.0.1:8443/mcp"),
            "mcp-127.0.0.1-8443"
        );
        assert_eq!(super::default_profile("http://[::1]:9/x"), "mcp---1-9");
    }

    #[test]
    fn the_login_command_names_a_profile_only_when_it_must() {
        let url = "https://tools.example.com/mcp";
        assert_eq!(
            super::login_command(url, "mcp-tools.example.com"),
            "devauth mcp login https://tools.example.com/mcp"
        );
        assert_eq!(
            super::login_command(url, "work"),
            "devauth mcp login https://tools.example.com/mcp --profile work"
        );
    }
}

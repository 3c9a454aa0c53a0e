//! `devauth login --provider …` against local stand-ins speaking each
//! provider's documented wire format, driven by the real `devauth` binary in
//! a temp `DEVAUTH_HOME` (only loopback is contacted):
//!
//! - [`github`]: JSON only when asked for, polling errors with HTTP 200,
//!   `slow_down` naming a new interval, tokens with and without expiry;
//! - [`google`]: a client secret on every request, `verification_url`, 428;
//! - [`microsoft`]: tenant discovery naming `{tenantid}`, `message`, AADSTS;
//! - [`gitlab`]: standard discovery and refresh;
//! - [`aws`]: SSO OIDC's JSON wire format and AWS error shapes;
//! - [`mcp`]: `devauth mcp` against a stand-in MCP server's failure paths.

use crate::client_support;
mod stand_in;

mod aws;
mod github;
mod gitlab;
mod google;
mod mcp;
mod microsoft;

use client_support::{devauth, run};

#[test]
fn presets_explain_what_they_need() {
    let home = tempfile::tempdir().unwrap();
    let (code, out, _) = run(devauth(home.path()).args(["login", "--provider", "list"]));
    assert_eq!(code, 0);
    for name in ["github", "google", "microsoft", "gitlab", "aws"] {
        assert!(out.contains(name), "{out}");
    }
    let (code, _, err) = run(devauth(home.path()).args(["login", "--provider", "github"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("--client-id") && err.contains("device flow"),
        "{err}"
    );
    let (code, _, err) = run(devauth(home.path()).args([
        "login",
        "--provider",
        "google",
        "--client-id",
        "x.apps.googleusercontent.com",
    ]));
    assert_eq!(code, 2);
    assert!(err.contains("DEVAUTH_CLIENT_SECRET"), "{err}");
    let (code, _, err) = run(devauth(home.path()).args(["login", "--provider", "nope"]));
    assert_eq!(code, 2, "{err}");
}

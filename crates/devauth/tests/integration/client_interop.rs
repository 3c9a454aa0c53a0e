//! Interop with a third-party provider: panva's oidc-provider (npm), the
//! approval clicked in headless Chromium, driven by tests/interop/*.mjs
//! against the real `devauth` binary: the device flow (login, token, refresh
//! with rotation, status, logout with revocation) and `login --web`
//! (authorization code + PKCE on a loopback redirect, then refresh); and
//! `devauth mcp login` with oidc-provider as the authorization server of an
//! MCP server (the official SDK's) behind `devauth guard`, registration and
//! resource indicators enabled.
//! Skips when node, the npm tools (`npm ci`) or Chromium are missing, unless
//! DEVAUTH_REQUIRE_SERVICES=1.

use devauth_testkit::Browser;

/// Runs `node SCRIPT DEVAUTH` and wants `INTEROP OK` from it.
fn run_script(script: &str) {
    let Some(browser) = Browser::find_with(
        "interop test",
        &["oidc-provider", "@modelcontextprotocol/sdk"],
    ) else {
        return;
    };
    let out = browser
        .script(script)
        .arg(crate::devauth_bin())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("INTEROP OK"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
}

#[test]
fn device_flow_against_oidc_provider_approved_in_chromium() {
    run_script("tests/interop/oidc-provider-device.mjs");
}

#[test]
fn web_login_with_pkce_against_oidc_provider_in_chromium() {
    run_script("tests/interop/oidc-provider-web.mjs");
}

#[test]
fn mcp_login_with_oidc_provider_as_the_authorization_server_behind_the_guard() {
    run_script("tests/interop/oidc-provider-mcp.mjs");
}

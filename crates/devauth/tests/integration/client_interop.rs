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

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    devauth_testkit::workspace_root()
}

fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return Some(format!("no Chromium at {chromium}"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    for pkg in [
        "oidc-provider",
        "playwright-core",
        "@modelcontextprotocol/sdk",
    ] {
        if !root().join("node_modules").join(pkg).exists() {
            return Some(format!("node_modules/{pkg} is missing (run `npm ci`)"));
        }
    }
    None
}

fn run_script(script: &str) {
    if !devauth_testkit::require_service("interop test", missing().as_deref()) {
        return;
    }
    let out = Command::new("node")
        .current_dir(root())
        .arg(script)
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

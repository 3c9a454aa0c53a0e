//! `devauth kubectl-credential`: a client-go exec credential plugin, so
//! `kubectl` (and anything built on client-go) authenticates with a fresh
//! token. In a kubeconfig:
//!
//! ```yaml
//! users:
//! - name: me
//!   user:
//!     exec:
//!       apiVersion: client.authentication.k8s.io/v1
//!       command: devauth
//!       args: [kubectl-credential, --profile, work]
//!       interactiveMode: Never
//! ```
//!
//! Prints an `ExecCredential` with `status.token` and
//! `status.expirationTimestamp` (so client-go asks again in time), in the
//! API version `KUBERNETES_EXEC_INFO` names (`v1` or `v1beta1`; `v1` when
//! unset). It never starts a login inside kubectl: a profile that needs one
//! fails with the command to run.

use std::io::Write as _;
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

/// Flags of `devauth kubectl-credential`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// What client-go passes in `KUBERNETES_EXEC_INFO` (the parts read here).
#[derive(Debug, Default, Deserialize)]
struct ExecInfo {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
}

/// The credential printed for client-go.
#[derive(Debug, Serialize)]
struct ExecCredential {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: &'static str,
    status: Status,
}

#[derive(Debug, Serialize)]
struct Status {
    token: String,
    #[serde(
        rename = "expirationTimestamp",
        skip_serializing_if = "Option::is_none"
    )]
    expiration_timestamp: Option<String>,
}

const V1: &str = "client.authentication.k8s.io/v1";
const V1BETA1: &str = "client.authentication.k8s.io/v1beta1";

/// Prints the credential.
pub fn run(_args: Args, profile_arg: &super::ProfileArg) -> anyhow::Result<ExitCode> {
    let info: ExecInfo = std::env::var("KUBERNETES_EXEC_INFO")
        .ok()
        .and_then(|raw| serde_json::from_str(&raw).ok())
        .unwrap_or_default();
    let api_version = match info.api_version.as_deref() {
        Some(V1BETA1) => V1BETA1,
        _ => V1,
    };
    // The cause names the next step (log in, or log in again).
    let fresh = super::token::fresh(profile_arg.name(), 60)
        .map_err(|e| e.context("no token for kubectl"))?;
    let credential = ExecCredential {
        api_version: api_version.to_owned(),
        kind: "ExecCredential",
        status: Status {
            token: fresh.token,
            expiration_timestamp: fresh.expires_at.and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            }),
        },
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &credential)?;
    writeln!(out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

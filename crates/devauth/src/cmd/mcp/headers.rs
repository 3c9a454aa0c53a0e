//! `devauth mcp headers URL`: `{"Authorization": "Bearer …"}` on stdout for
//! the MCP login of that URL (the profile `devauth mcp login URL` made, or
//! `--profile`), refreshed first when it expires within `--min-ttl`. A
//! missing or dead login exits 3 with the command to run, never a prompt.

use std::process::ExitCode;

use super::profile::{default_profile, profile_for};

/// Flags of `devauth mcp headers`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The MCP server's URL, as given to `devauth mcp login`.
    #[arg(value_name = "URL")]
    pub url: String,
    /// Refresh first when the token expires within this many seconds.
    #[arg(long, value_name = "S", default_value_t = 60)]
    pub min_ttl: u64,
}

/// Runs the command.
pub fn run(args: Args, chosen: Option<&str>) -> anyhow::Result<ExitCode> {
    let name = match chosen {
        Some(n) => n.to_owned(),
        None => profile_for(&args.url)?.unwrap_or_else(|| default_profile(&args.url)),
    };
    let fresh = crate::cmd::token::fresh(&name, args.min_ttl).map_err(|e| {
        match e.downcast_ref::<devauth_client::Error>() {
            Some(devauth_client::Error::NotLoggedIn { .. }) => {
                anyhow::Error::new(crate::exit::Explained {
                    kind: devauth_client::ErrorKind::NeedsLogin,
                    message: format!(
                        "no MCP login for {} yet (profile `{name}`); run `devauth mcp login {}`",
                        args.url, args.url
                    ),
                })
            }
            _ => e,
        }
    })?;
    let headers = serde_json::json!({ "Authorization": format!("Bearer {}", fresh.token) });
    println!("{headers}");
    Ok(ExitCode::SUCCESS)
}

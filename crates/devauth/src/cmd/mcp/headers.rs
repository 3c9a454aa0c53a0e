//! `devauth mcp headers URL`: `{"Authorization": "Bearer …"}` on stdout for
//! the MCP login of that URL (the profile `devauth mcp login URL` made, or
//! `--profile`), refreshed first when it expires within `--min-ttl`. A
//! missing or dead login exits 3 with the command to run, never a prompt.

use std::process::ExitCode;

use super::profile::{default_profile, login_command, profile_for};

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
    // Either way the next step is an MCP login, not `devauth login`.
    let fresh = crate::cmd::token::fresh(&name, args.min_ttl).map_err(|e| {
        let what = match e.downcast_ref::<devauth_client::Error>() {
            Some(devauth_client::Error::NotLoggedIn { .. }) => {
                format!("no MCP login for {} yet", args.url)
            }
            Some(devauth_client::Error::NeedsLogin { reason, .. }) => {
                format!("the MCP login for {} needs renewing ({reason})", args.url)
            }
            _ => return e,
        };
        anyhow::Error::new(crate::exit::Explained {
            kind: devauth_client::ErrorKind::NeedsLogin,
            message: format!(
                "{what} (profile `{name}`); run `{}`",
                login_command(&args.url, &name)
            ),
        })
    })?;
    let headers = serde_json::json!({ "Authorization": format!("Bearer {}", fresh.token) });
    println!("{headers}");
    Ok(ExitCode::SUCCESS)
}

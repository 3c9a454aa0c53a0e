//! `devauth profiles [--json]`: every stored profile with its state. The
//! current one (`--profile` / `DEVAUTH_PROFILE`) is marked. Never prints a
//! token. The JSON shape is documented in docs/troubleshooting.md.

use std::io::Write as _;
use std::process::ExitCode;

use devauth_client::clock::{Clock as _, SystemClock, secs_until};
use serde_json::json;

/// Flags of `devauth profiles`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let store = super::token::store_for_reading()?;
    let now = SystemClock.now();
    let entries = store.list()?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| match e {
                Ok(p) => {
                    let mut v = super::status::profile_json(p, &store, now);
                    v["current"] = json!(p.name == global.profile());
                    v
                }
                Err(err) => json!({ "error": err.to_string() }),
            })
            .collect();
        let v = json!({
            "current": global.profile(),
            "store": { "backend": super::status::backend_for_new(), "path": store.dir() },
            "profiles": list,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        drop(out);
        eprintln!("No profiles yet; run `devauth login --issuer URL`.");
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "  {:<16} {:<12} {:<18} {:<36} EXPIRES IN",
        "PROFILE", "STATE", "ACCOUNT", "ISSUER"
    )?;
    for e in &entries {
        match e {
            Ok(p) => {
                let mark = if p.name == global.profile() { '*' } else { ' ' };
                let expires = match p.tokens.expires_at {
                    None => "-".to_owned(),
                    Some(at) if at > now => super::status::human(secs_until(now, at)),
                    Some(_) => "expired".to_owned(),
                };
                writeln!(
                    out,
                    "{mark} {:<16} {:<12} {:<18} {:<36} {expires}",
                    p.name,
                    p.state.as_str(),
                    p.account.as_deref().unwrap_or("-"),
                    p.issuer.as_deref().unwrap_or("-"),
                )?;
            }
            Err(err) => writeln!(out, "! {err}")?,
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

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
    /// Print JSON: the current profile, the store, and each profile as
    /// `devauth status --json` shows it.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: Args, profile_arg: &super::ProfileArg) -> anyhow::Result<ExitCode> {
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
                    v["current"] = json!(p.name == profile_arg.name());
                    v
                }
                Err(err) => json!({ "error": err.to_string() }),
            })
            .collect();
        let v = json!({
            "current": profile_arg.name(),
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
    // Columns as wide as their widest cell, whatever the names.
    let rows: Vec<Result<[String; 5], String>> = entries
        .iter()
        .map(|e| match e {
            Ok(p) => Ok([
                p.name.clone(),
                p.state.as_str().to_owned(),
                p.account.clone().unwrap_or_else(|| "-".into()),
                p.issuer.clone().unwrap_or_else(|| "-".into()),
                match p.tokens.expires_at {
                    None => "-".to_owned(),
                    Some(at) if at > now => super::status::human(secs_until(now, at)),
                    Some(_) => "expired".to_owned(),
                },
            ]),
            Err(err) => Err(err.to_string()),
        })
        .collect();
    let header = ["PROFILE", "STATE", "ACCOUNT", "ISSUER", "EXPIRES IN"];
    let mut width = header.map(|h| h.chars().count());
    for cells in rows.iter().flatten() {
        for (w, c) in width.iter_mut().zip(cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |mark: char, cells: &[String; 5]| {
        let mut l = format!("{mark} ");
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  "));
            }
        }
        l
    };
    writeln!(out, "{}", line(' ', &header.map(str::to_owned)))?;
    for (e, row) in entries.iter().zip(&rows) {
        match row {
            Ok(cells) => {
                let current = e.as_ref().is_ok_and(|p| p.name == profile_arg.name());
                writeln!(out, "{}", line(if current { '*' } else { ' ' }, cells))?;
            }
            Err(err) => writeln!(out, "! {err}")?,
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

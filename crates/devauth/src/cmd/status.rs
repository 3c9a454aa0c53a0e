//! `devauth status [--json]`: who is logged in, where, until when, where the
//! credentials are stored, and whether the refresh token is still good.
//! Never prints a token.
//!
//! Exit status: 0 when the profile is usable, 3 when it is missing or needs a
//! new login (the JSON is printed either way). The JSON shape is documented
//! in docs/troubleshooting.md ("status --json").

use std::io::Write as _;
use std::process::ExitCode;

use devauth_client::ProfileStore;
use devauth_client::clock::{Clock as _, SystemClock, secs_until};
use devauth_client::store::{Profile, ProfileState};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::exit;

/// Flags of `devauth status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (shape documented in docs/troubleshooting.md).
    #[arg(long)]
    pub json: bool,
}

/// The `status --json` object for a stored profile (also one entry of
/// `profiles --json`).
pub fn profile_json(p: &Profile, store: &ProfileStore, now: OffsetDateTime) -> serde_json::Value {
    let expires_at = p.tokens.expires_at;
    let valid = expires_at.is_none_or(|at| at > now);
    let refresh = match (&p.state, &p.tokens.refresh_token) {
        (ProfileState::NeedsLogin { .. }, _) => "rejected",
        (_, Some(_)) => "ok",
        (_, None) => "absent",
    };
    let (reason, since) = match &p.state {
        ProfileState::NeedsLogin { reason, since } => (Some(reason.clone()), Some(fmt(*since))),
        ProfileState::Active => (None, None),
    };
    json!({
        "profile": p.name,
        "logged_in": true,
        "state": p.state.as_str(),
        "needs_login_reason": reason,
        "needs_login_since": since,
        "issuer": p.issuer,
        "client_id": p.client_id,
        "account": p.account,
        "subject": p.subject,
        "scopes": p.scopes,
        "source": p.source.as_str(),
        "access_token": {
            "valid": valid && p.state == ProfileState::Active,
            "expires_at": expires_at.map(fmt),
            "expires_in": expires_at.map(|at| secs_until(now, at)),
        },
        "refresh_token": refresh,
        "agent": devauth_agent::profiles::read_record(store, &p.name),
        "store": { "backend": backend_of(store, &p.name), "path": store.path_of(&p.name) },
        "updated_at": fmt(p.updated_at),
    })
}

/// Where a stored profile's secrets are (`file` or `keyring`), from its
/// file's marker.
fn backend_of(store: &ProfileStore, name: &str) -> &'static str {
    match store.backend_of(name) {
        Ok(Some(b)) => b.as_str(),
        _ => store.backend(),
    }
}

/// The backend `devauth login` would pick now (probes the keyring).
pub(crate) fn backend_for_new() -> &'static str {
    devauth_client::store::select_backend()
        .map(|b| b.as_str())
        .unwrap_or("none")
}

/// RFC 3339 in UTC, whole seconds (`2026-12-05T19:39:19Z`).
pub fn fmt(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// `1h 2m` style.
pub fn human(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// Runs the command.
pub fn run(args: Args, profile_arg: &super::ProfileArg) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    // `token` and `run` use DEVAUTH_TOKEN and touch no store: say so, rather
    // than "not logged in".
    if super::token::token_from_env().is_some() {
        if args.json {
            let v = json!({
                "profile": null,
                "logged_in": true,
                "state": "environment",
                "source": "DEVAUTH_TOKEN",
                "store": null,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        } else {
            writeln!(
                out,
                "Token:          from DEVAUTH_TOKEN (token and run use it; no profile is read)"
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let store = super::token::store_for_reading()?;
    let now = SystemClock.now();
    let Some(p) = store.load(profile_arg.name())? else {
        if args.json {
            let v = json!({
                "profile": profile_arg.name(),
                "logged_in": false,
                "state": "not-logged-in",
                "store": { "backend": backend_for_new(), "path": store.path_of(profile_arg.name()) },
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
            return Ok(exit::for_kind(devauth_client::ErrorKind::NeedsLogin));
        }
        return Err(devauth_client::Error::NotLoggedIn {
            profile: profile_arg.name().to_owned(),
        }
        .into());
    };
    let usable = p.state == ProfileState::Active;
    if args.json {
        let v = profile_json(&p, &store, now);
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        let dash = || "-".to_owned();
        writeln!(out, "Profile:        {}", p.name)?;
        writeln!(
            out,
            "Issuer:         {}",
            p.issuer.clone().unwrap_or_else(dash)
        )?;
        writeln!(
            out,
            "Account:        {}",
            p.account.clone().unwrap_or_else(dash)
        )?;
        writeln!(
            out,
            "Client:         {}",
            p.client_id.clone().unwrap_or_else(dash)
        )?;
        let scopes = if p.scopes.is_empty() {
            dash()
        } else {
            p.scopes.join(" ")
        };
        writeln!(out, "Scopes:         {scopes}")?;
        writeln!(out, "Obtained by:    {}", p.source.as_str())?;
        // One source of truth with `--json` and `token`: a profile that needs
        // a new login has no usable access token, whatever its expiry says.
        let access = match p.tokens.expires_at {
            _ if !usable => format!(
                "unusable: the profile needs a new login (run `devauth login --profile {}`)",
                p.name
            ),
            None => "valid (no expiry known)".to_owned(),
            Some(at) if at > now => format!(
                "valid for {} (until {})",
                human(secs_until(now, at)),
                fmt(at)
            ),
            Some(at) => format!("expired at {}", fmt(at)),
        };
        writeln!(out, "Access token:   {access}")?;
        let refresh = match (&p.state, &p.tokens.refresh_token) {
            (ProfileState::NeedsLogin { reason, .. }, _) => {
                format!(
                    "unusable ({reason}); run `devauth login --profile {}`",
                    p.name
                )
            }
            (_, Some(_)) => "present".to_owned(),
            (_, None) => "none".to_owned(),
        };
        writeln!(out, "Refresh token:  {refresh}")?;
        if let Some(rec) = devauth_agent::profiles::read_record(&store, &p.name) {
            let mut line = format!("{} (as of {})", rec.state, fmt(rec.updated_at));
            if let Some(err) = &rec.last_error {
                line.push_str(&format!("; last error: {err}"));
            }
            if let Some(next) = rec.next_attempt {
                line.push_str(&format!("; next attempt {}", fmt(next)));
            }
            writeln!(out, "Agent:          {line}")?;
        }
        writeln!(
            out,
            "Stored in:      {} ({})",
            store.path_of(&p.name).display(),
            backend_of(&store, &p.name)
        )?;
    }
    out.flush()?;
    if super::token::token_from_env().is_some() {
        eprintln!(
            "Note: DEVAUTH_TOKEN is set; `devauth token` and `devauth run` use it instead of this profile."
        );
    }
    if usable {
        Ok(ExitCode::SUCCESS)
    } else {
        drop(out);
        eprintln!(
            "Profile `{}` needs a new login; run `devauth login`.",
            p.name
        );
        Ok(exit::for_kind(devauth_client::ErrorKind::NeedsLogin))
    }
}

//! `devauth logout [--no-revoke]`: revokes the refresh and access tokens at
//! the server (RFC 7009) when it publishes a revocation endpoint, then
//! deletes the profile. A server that cannot be reached (or is failing)
//! keeps the profile, so the tokens can still be revoked later (exit 6); any
//! other failed revocation is reported and the local copy is still
//! forgotten. Logging out of a profile that does not exist is a no-op.

use std::process::ExitCode;

use devauth_client::ProfileStore;
use devauth_client::http::{ClientAuth, Http};
use devauth_client::store::Profile;

/// Flags of `devauth logout`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only forget the tokens here; do not revoke them at the server.
    #[arg(long)]
    pub no_revoke: bool,
}

/// Runs the command.
pub fn run(args: Args, profile_arg: &super::ProfileArg) -> anyhow::Result<ExitCode> {
    let store = ProfileStore::open_default()?;
    store.with_lock(profile_arg.name(), |lock| {
        let Some(p) = lock.load()? else {
            eprintln!("Not logged in (profile `{}`); nothing to do.", profile_arg.name());
            return Ok(ExitCode::SUCCESS);
        };
        let revoked = if args.no_revoke { None } else { Some(revoke(&p)) };
        // The server could not be reached: forgetting now would drop the only
        // copy of a refresh token that can still be revoked. Keep it.
        if let Some(Err(e)) = &revoked
            && e.kind() == devauth_client::ErrorKind::Unavailable
        {
            eprintln!(
                "Not logged out: the server could not be reached to revoke the tokens ({e}). \
                 They are kept, so you can try again later; to forget them here anyway, \
                 run `devauth logout --profile {} --no-revoke`.",
                p.name
            );
            return Ok(crate::exit::for_kind(e.kind()));
        }
        lock.delete()?;
        let issuer = p.issuer.as_deref().unwrap_or("the token's issuer");
        match revoked {
            Some(Ok(true)) if devauth_client::sso_oidc::ProfileRecord::of(&p).is_some() => eprintln!(
                "Logged out of {issuer} (profile `{}`); the AWS access portal ended the session.",
                p.name
            ),
            Some(Ok(true)) => eprintln!(
                "Logged out of {issuer} (profile `{}`); the tokens were revoked at the server.",
                p.name
            ),
            Some(Ok(false)) if p.extra.get("provider").and_then(|v| v.as_str()) == Some("github") => eprintln!(
                "Logged out (profile `{}`). GitHub offers no revocation a command-line \
                 client can call without the app's secret: the token stays valid until it \
                 expires or you revoke it at {issuer}/settings/applications.",
                p.name
            ),
            Some(Ok(false)) => eprintln!(
                "Logged out (profile `{}`); {issuer} publishes no revocation endpoint, so the tokens stay valid until they expire.",
                p.name
            ),
            Some(Err(e)) => eprintln!(
                "Logged out (profile `{}`), but revoking at the server failed: {e}. The tokens stay valid until they expire.",
                p.name
            ),
            None => eprintln!(
                "Logged out (profile `{}`); the tokens were not revoked (--no-revoke).",
                p.name
            ),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Revokes the refresh token, then the access token. `Ok(false)` when there
/// is nowhere to revoke.
fn revoke(p: &Profile) -> Result<bool, devauth_client::Error> {
    if let Some(aws) = devauth_client::sso_oidc::ProfileRecord::of(p) {
        // AWS: no revocation endpoint; the access portal's Logout ends the
        // session the tokens belong to.
        devauth_client::sso_oidc::portal_logout(&Http::new(), &aws.region, &p.tokens.access_token)?;
        return Ok(true);
    }
    let Some(endpoint) = p.endpoints.revocation.as_deref() else {
        return Ok(false);
    };
    let client_id = p.client_id.clone().unwrap_or_default();
    let auth = match &p.client_secret {
        Some(secret) => {
            devauth_client::client_credentials::auth_for(&p.endpoints, &client_id, secret)
        }
        None => ClientAuth::Public(&client_id),
    };
    let http = Http::new();
    if let Some(rt) = &p.tokens.refresh_token {
        devauth_client::revoke::revoke(&http, endpoint, auth, rt, "refresh_token")?;
    }
    devauth_client::revoke::revoke(
        &http,
        endpoint,
        auth,
        &p.tokens.access_token,
        "access_token",
    )?;
    Ok(true)
}

//! `devauth login`: gets tokens and stores them as a profile.
//!
//! - default: the device flow (RFC 8628), the login screen on stderr;
//! - `--web`: authorization code + PKCE on a loopback redirect, only when a
//!   browser can really open here, else the device flow with a note;
//! - `--with-token`: an access token (or a JSON token response) from stdin;
//! - `--client-credentials`: a service account; the secret comes from
//!   `DEVAUTH_CLIENT_SECRET` or stdin, never from a flag.
//!
//! Endpoints come from discovery; the `--*-endpoint` flags override it, and
//! with `--token-endpoint` + `--device-authorization-endpoint` discovery is
//! skipped (providers that publish none). `--provider` presets live in
//! `devauth_client::provider`; AWS, whose wire format is its own, in [`aws`].
//! The flags are in `args.rs`, and what a new profile records of where its
//! tokens came from in `origin.rs`.

mod args;
mod aws;
mod origin;

pub use args::Args;
use origin::{Origin, new_profile};

use std::io::{IsTerminal as _, Read as _};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use devauth_client::clock::{CancelFlag, Clock as _, SystemClock, ThreadSleeper};
use devauth_client::discovery::{self, Endpoints, Needs};
use devauth_client::headless::{self, SystemProbe};
use devauth_client::http::{ClientAuth, Http};
use devauth_client::loopback::Loopback;
use devauth_client::provider::Provider;
use devauth_client::screen::{self, Countdown, ScreenOptions};
use devauth_client::store::{Profile, Source};
use devauth_client::{ProfileStore, device, token_input};
use devauth_proto::Secret;
use devauth_proto::token::TokenResponse;

use crate::exit::UsageError;

/// Default OAuth client id: the public client devauth servers create.
pub const DEFAULT_CLIENT_ID: &str = "devauth-cli";
/// Default scopes for interactive logins.
pub const DEFAULT_SCOPES: &str = "openid offline_access";
/// The environment variable holding a service account's secret.
pub const CLIENT_SECRET_ENV: &str = "DEVAUTH_CLIENT_SECRET";
/// How long `--web` waits for the browser to come back.
const WEB_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs the command.
pub fn run(mut args: Args, profile_arg: &super::ProfileArg) -> anyhow::Result<ExitCode> {
    if args.provider.as_deref() == Some("list") {
        for p in Provider::ALL {
            println!("{:<10} {}", p.name(), p.describe());
        }
        return Ok(ExitCode::SUCCESS);
    }
    devauth_client::store::validate_name(profile_arg.name())?;
    let store = ProfileStore::open_default()?;
    let clock = SystemClock;
    // `devauth login` on a profile that exists logs in again where it did:
    // the messages that say "run devauth login" mean exactly that.
    if args.issuer.is_none()
        && args.provider.is_none()
        && !args.with_token
        && !args.client_credentials
        && let Ok(Some(previous)) = store.load(profile_arg.name())
        && let Some(issuer) = previous.issuer.clone()
    {
        let provider = previous
            .extra
            .get("provider")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let aws = devauth_client::sso_oidc::ProfileRecord::of(&previous);
        if let Some(record) = &aws {
            args.start_url = args.start_url.take().or(Some(record.start_url.clone()));
            args.region = args.region.take().or(Some(record.region.clone()));
        } else if provider.as_deref() == Some("microsoft")
            && let Ok(url) = url::Url::parse(&issuer)
        {
            // `https://HOST/TENANT/v2.0`: the authority host and the tenant.
            args.tenant = args.tenant.take().or_else(|| {
                url.path_segments()
                    .and_then(|mut s| s.next())
                    .map(str::to_owned)
            });
            args.issuer = Some(url.origin().ascii_serialization());
        } else {
            args.issuer = Some(issuer.clone());
        }
        args.provider = provider;
        if aws.is_none() {
            // An AWS login's client id is its registration, made anew as needed.
            args.client_id = args.client_id.take().or(previous.client_id.clone());
        }
        if args.scopes.is_empty() {
            args.scopes = previous.scopes.clone();
        }
        eprintln!(
            "Logging in again to {issuer} as profile `{}` was set up.",
            profile_arg.name()
        );
    }
    let profile = if args.with_token {
        with_token(&args, profile_arg, &clock)?
    } else if args.client_credentials {
        client_credentials(&args, profile_arg, &clock)?
    } else {
        interactive(&args, profile_arg, &clock)?
    };
    store.save(&profile)?;
    let path = store.path_of(&profile.name);
    let who = profile.account.as_deref().unwrap_or("an unnamed account");
    match &profile.issuer {
        Some(issuer) => eprintln!(
            "Logged in to {issuer} as {who}; credentials stored in {}",
            path.display()
        ),
        None => eprintln!("Token stored in {}", path.display()),
    }
    Ok(ExitCode::SUCCESS)
}

fn interactive(
    args: &Args,
    profile_arg: &super::ProfileArg,
    clock: &SystemClock,
) -> anyhow::Result<Profile> {
    let provider = args.provider.as_deref().and_then(Provider::parse);
    // What the provider's error codes mean (GitHub's device_flow_disabled,
    // Entra's AADSTS numbers, …), said in words.
    let explain = |e: devauth_client::Error| match provider {
        Some(p) => devauth_client::provider::advice::explain(p, e),
        None => e,
    };
    let preset = match args.provider.as_deref() {
        None => None,
        Some(name) => {
            let provider = Provider::parse(name).ok_or_else(|| {
                UsageError(format!(
                    "unknown provider {name:?}: use github, google, microsoft, gitlab or aws \
                     (devauth login --provider list)"
                ))
            })?;
            if provider == Provider::Aws {
                return aws::login(args, profile_arg, clock);
            }
            let preset = provider.preset(args.issuer.as_deref(), args.tenant.as_deref());
            if let Some(help) = preset.client_help
                && args.client_id.is_none()
            {
                return Err(UsageError(format!(
                    "--provider {} needs --client-id: {help}",
                    provider.name(),
                ))
                .into());
            }
            if preset.needs_secret && args.client_secret.is_none() {
                return Err(UsageError(format!(
                    "--provider {} needs the client's secret in DEVAUTH_CLIENT_SECRET \
                     (or --client-secret)",
                    provider.name()
                ))
                .into());
            }
            Some(preset)
        }
    };
    let issuer = match &preset {
        Some(p) => p.issuer.as_str(),
        None => args.issuer()?,
    };
    let client_id = args.client_id.as_deref().unwrap_or(DEFAULT_CLIENT_ID);
    let scope = args.scope(preset.as_ref().map_or(DEFAULT_SCOPES, |p| p.default_scope))?;
    // Only a preset sends a secret in the device flow: a standard issuer's
    // public client has none (DEVAUTH_CLIENT_SECRET may be set for
    // --client-credentials in the same environment).
    let secret = preset
        .as_ref()
        .and(args.client_secret.as_deref())
        .map(Secret::new);
    let http = Http::new();
    let cancel = CancelFlag::new();
    {
        let cancel = cancel.clone();
        // Only fails when a handler is already installed, which is fine.
        let _ = ctrlc::set_handler(move || cancel.cancel());
    }
    let sleeper = ThreadSleeper::new(cancel);

    let needs = Needs {
        device: true,
        authorization: args.web,
    };
    let endpoints = match preset.as_ref().and_then(|p| p.endpoints.clone()) {
        // A preset that knows its endpoints (GitHub, Google): no discovery.
        Some(known) => {
            let endpoints = known.overlay(&args.overrides());
            endpoints.check()?;
            endpoints
        }
        None => discovery::resolve_checked(
            &http,
            issuer,
            &args.overrides(),
            needs,
            preset.as_ref().map(|p| p.issuer_check).unwrap_or_default(),
        )?,
    };
    let client = match &secret {
        Some(secret) => devauth_client::client_credentials::auth_for(&endpoints, client_id, secret),
        None => ClientAuth::Public(client_id),
    };
    if args.web
        && let Some(resp) = web(args, &http, &endpoints, client_id, &scope, &sleeper)?
    {
        return Ok(new_profile(
            profile_arg,
            Origin {
                issuer: Some(issuer),
                client_id: Some(client_id),
                source: Source::Loopback,
                endpoints,
                requested_scope: &scope,
            },
            &resp,
            clock.now(),
        ));
    }

    let token_endpoint = endpoints.token()?.to_owned();
    let auth = device::start(&http, &endpoints, client, &scope, None).map_err(explain)?;
    let opts = ScreenOptions::detect(args.no_qr);
    let mut stderr = std::io::stderr();
    screen::show_code(&mut stderr, &auth, &opts)?;
    let mut stderr = std::io::stderr();
    let countdown = Countdown::new(&sleeper, &mut stderr, opts.tty);
    let result = device::poll(
        &http,
        &token_endpoint,
        device::PollFor {
            client,
            resource: None,
        },
        &auth,
        clock,
        &countdown,
        &countdown,
    );
    countdown.finish();
    let resp = result.map_err(explain)?;
    let mut profile = new_profile(
        profile_arg,
        Origin {
            issuer: Some(issuer),
            client_id: Some(client_id),
            source: Source::DeviceCode,
            endpoints,
            requested_scope: &scope,
        },
        &resp,
        clock.now(),
    );
    // Refreshing needs the secret too, where the provider requires one; it
    // is kept with the tokens (keyring or 0600 file), never in the profile
    // file in clear when a keyring is used.
    profile.client_secret = secret;
    if let Some(name) = args.provider.as_deref() {
        profile
            .extra
            .insert("provider".into(), name.to_ascii_lowercase().into());
    }
    Ok(profile)
}

/// The `--web` flow; `Ok(None)` means "fall back to the device flow".
fn web(
    args: &Args,
    http: &Http,
    endpoints: &Endpoints,
    client_id: &str,
    scope: &str,
    sleeper: &ThreadSleeper,
) -> anyhow::Result<Option<TokenResponse>> {
    let Some(authorize) = endpoints.authorization.as_deref() else {
        eprintln!(
            "The provider publishes no authorization endpoint; using the device flow instead."
        );
        return Ok(None);
    };
    if !args.no_browser
        && let Some(reason) = headless::detect(&SystemProbe)
    {
        eprintln!("No browser can open here ({reason}); using the device flow instead.");
        return Ok(None);
    }
    let lb = Loopback::prepare(authorize, client_id, scope)?;
    if args.no_browser {
        eprintln!(
            "Open this URL in a browser on this machine:\n\n    {}\n",
            lb.url()
        );
    } else if headless::open_browser(lb.url()) {
        eprintln!(
            "Opened your browser. If nothing appeared, open:\n\n    {}\n",
            lb.url()
        );
    } else {
        eprintln!("Could not open a browser; using the device flow instead.");
        return Ok(None);
    }
    eprintln!("Waiting for the browser to come back…");
    let token = endpoints.token()?;
    Ok(Some(lb.finish(
        http,
        token,
        client_id,
        sleeper,
        WEB_TIMEOUT,
    )?))
}

fn read_stdin(what: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        return Err(UsageError(format!(
            "{what}: pipe it on stdin (it is never taken as a flag)"
        ))
        .into());
    }
    let mut s = String::new();
    std::io::stdin()
        .take(1 << 20)
        .read_to_string(&mut s)
        .context("cannot read stdin")?;
    Ok(s)
}

fn with_token(
    args: &Args,
    profile_arg: &super::ProfileArg,
    clock: &SystemClock,
) -> anyhow::Result<Profile> {
    let resp = token_input::parse(&read_stdin("--with-token reads the token from stdin")?)?;
    let endpoints = match &args.issuer {
        Some(issuer) => {
            discovery::resolve(&Http::new(), issuer, &args.overrides(), Needs::default())?
        }
        None => {
            let e = args.overrides();
            e.check()?;
            e
        }
    };
    Ok(new_profile(
        profile_arg,
        Origin {
            issuer: args.issuer.as_deref(),
            client_id: args.client_id.as_deref(),
            source: Source::WithToken,
            endpoints,
            requested_scope: "",
        },
        &resp,
        clock.now(),
    ))
}

fn client_credentials(
    args: &Args,
    profile_arg: &super::ProfileArg,
    clock: &SystemClock,
) -> anyhow::Result<Profile> {
    let client_id = args
        .client_id
        .as_deref()
        .ok_or_else(|| UsageError("--client-credentials needs --client-id ID".into()))?;
    let secret = match std::env::var(CLIENT_SECRET_ENV) {
        Ok(s) if !s.trim().is_empty() => s,
        _ => read_stdin("the client secret comes from DEVAUTH_CLIENT_SECRET or stdin")?,
    };
    let secret = Secret::new(secret.trim());
    if secret.is_empty() {
        return Err(UsageError(
            "the client secret is empty; set DEVAUTH_CLIENT_SECRET or pipe it on stdin".into(),
        )
        .into());
    }
    let scope = args.scope("")?;
    let http = Http::new();
    let endpoints = match &args.issuer {
        Some(issuer) => discovery::resolve(&http, issuer, &args.overrides(), Needs::default())?,
        None if args.token_endpoint.is_some() => {
            let e = args.overrides();
            e.check()?;
            e
        }
        None => {
            return Err(
                UsageError("--issuer URL (or --token-endpoint URL) is required".into()).into(),
            );
        }
    };
    let resp =
        devauth_client::client_credentials::fetch(&http, &endpoints, client_id, &secret, &scope)?;
    let mut p = new_profile(
        profile_arg,
        Origin {
            issuer: args.issuer.as_deref(),
            client_id: Some(client_id),
            source: Source::ClientCredentials,
            endpoints,
            requested_scope: &scope,
        },
        &resp,
        clock.now(),
    );
    if p.account.is_none() {
        p.account = Some(client_id.to_owned());
    }
    p.client_secret = Some(secret);
    Ok(p)
}

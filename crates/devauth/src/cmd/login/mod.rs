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

mod aws;

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
use devauth_client::store::{Profile, Source, Tokens};
use devauth_client::{ProfileStore, account, device, token_input};
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

/// Flags of `devauth login`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The issuer URL (https, or http on 127.0.0.1/localhost).
    ///
    /// [default: the profile's when it exists, else the --provider's]
    #[arg(long, env = "DEVAUTH_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,
    /// OAuth client id [default: devauth-cli].
    ///
    /// devauth-cli is the public client every devauth server has; other
    /// issuers, and every --provider but aws, need your own.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// A scope to request; repeat for several [default: openid offline_access].
    ///
    /// With --provider, the preset's scopes are the default; with
    /// --client-credentials, none is sent unless given.
    #[arg(long = "scope", value_name = "S")]
    pub scopes: Vec<String>,
    /// Log in in a browser on this machine (loopback redirect + PKCE).
    ///
    /// Falls back to the device flow when no browser can open here; waits up
    /// to 5 minutes for the browser to come back.
    #[arg(long, conflicts_with_all = ["with_token", "client_credentials"])]
    pub web: bool,
    /// With --web: print the URL instead of opening a browser.
    ///
    /// Also skips the check that a browser can open here: open the URL in a
    /// browser on this machine (or one that reaches its loopback port).
    #[arg(long, requires = "web")]
    pub no_browser: bool,
    /// Do not draw a QR code.
    #[arg(long)]
    pub no_qr: bool,
    /// Read an access token or a JSON token response from stdin.
    ///
    /// A JSON response's refresh token is used when --issuer or
    /// --token-endpoint says where to refresh.
    #[arg(long, conflicts_with = "client_credentials")]
    pub with_token: bool,
    /// Service account login; secret from DEVAUTH_CLIENT_SECRET or stdin.
    ///
    /// The client credentials grant: needs --client-id, and --issuer or
    /// --token-endpoint. The secret is never a flag; it is kept with the
    /// tokens so that `devauth token` can get new ones.
    #[arg(long, requires = "client_id")]
    pub client_credentials: bool,
    /// Device authorization endpoint, for providers without discovery.
    #[arg(long, value_name = "URL")]
    pub device_authorization_endpoint: Option<String>,
    /// Token endpoint, for providers without discovery.
    #[arg(long, value_name = "URL")]
    pub token_endpoint: Option<String>,
    /// Revocation endpoint (RFC 7009), used by `devauth logout`.
    #[arg(long, value_name = "URL")]
    pub revocation_endpoint: Option<String>,
    /// Authorization endpoint, for --web with providers without discovery.
    #[arg(long, value_name = "URL")]
    pub authorization_endpoint: Option<String>,
    /// A provider preset: github, google, microsoft, gitlab or aws (`list`
    /// shows them).
    ///
    /// `--provider list` says what each needs. With github or gitlab,
    /// --issuer names a GitHub Enterprise Server or a self-managed GitLab.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// The Entra ID tenant for --provider microsoft [default: organizations].
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// A client secret the provider requires even for the device flow
    /// (--provider google).
    ///
    /// Prefer DEVAUTH_CLIENT_SECRET: a flag lands in shell history, and other
    /// processes can read it.
    #[arg(
        long,
        value_name = "SECRET",
        env = "DEVAUTH_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<String>,
    /// --provider aws: the AWS access portal URL of your IAM Identity Center
    /// [default: AWS Builder ID, https://view.awsapps.com/start].
    #[arg(long, value_name = "URL")]
    pub start_url: Option<String>,
    /// --provider aws: the region of the IAM Identity Center instance
    /// [default with Builder ID: us-east-1].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// --provider aws: also write the login to the AWS CLI's SSO cache
    /// (~/.aws/sso/cache), so `aws` and tools that read it see it; devauth
    /// then keeps that file fresh instead of a copy of its own.
    #[arg(long)]
    pub write_aws_cache: bool,
    /// With --write-aws-cache: the `sso-session` name of your ~/.aws/config
    /// that the cache file is for (without it, the start URL names it, as
    /// for a legacy `sso_start_url` profile).
    #[arg(long, value_name = "NAME", requires = "write_aws_cache")]
    pub aws_sso_session: Option<String>,
}

impl Args {
    fn overrides(&self) -> Endpoints {
        Endpoints {
            token: self.token_endpoint.clone(),
            device_authorization: self.device_authorization_endpoint.clone(),
            authorization: self.authorization_endpoint.clone(),
            revocation: self.revocation_endpoint.clone(),
            token_auth_methods: Vec::new(),
        }
    }

    fn scope(&self, default: &str) -> anyhow::Result<String> {
        let joined = if self.scopes.is_empty() {
            default.to_owned()
        } else {
            self.scopes.join(" ")
        };
        let scope = devauth_proto::Scope::parse(&joined)
            .map_err(|e| UsageError(format!("--scope: {e}")))?;
        Ok(scope.to_string())
    }

    fn issuer(&self) -> anyhow::Result<&str> {
        self.issuer.as_deref().ok_or_else(|| {
            UsageError("--issuer URL is required (or set DEVAUTH_ISSUER)".into()).into()
        })
    }
}

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

/// Where tokens came from: everything of a new profile but the tokens.
struct Origin<'a> {
    issuer: Option<&'a str>,
    client_id: Option<&'a str>,
    source: Source,
    endpoints: Endpoints,
    requested_scope: &'a str,
}

fn new_profile(
    profile_arg: &super::ProfileArg,
    origin: Origin<'_>,
    resp: &TokenResponse,
    now: time::OffsetDateTime,
) -> Profile {
    let Origin {
        issuer,
        client_id,
        source,
        endpoints,
        requested_scope,
    } = origin;
    let acct = account::from_response(resp);
    let scope = resp.scope.as_deref().unwrap_or(requested_scope);
    let mut p = Profile::new(
        profile_arg.name(),
        source,
        Tokens::from_response(resp, now, None),
        now,
    );
    p.issuer = issuer.map(|i| i.trim_end_matches('/').to_owned());
    p.client_id = client_id.map(str::to_owned);
    p.account = acct.display;
    p.subject = acct.subject;
    p.scopes = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    p.endpoints = endpoints;
    p
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

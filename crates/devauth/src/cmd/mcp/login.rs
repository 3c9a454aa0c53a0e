//! `devauth mcp login URL`: discovery from the MCP server
//! (`devauth_client::mcp`), a client id (`--client-id`, else one registered
//! with RFC 7591 and kept per authorization server), then the device flow
//! with `resource` on every request, and the tokens stored as a profile.

use std::process::ExitCode;

use devauth_client::clock::{CancelFlag, Clock as _, SystemClock, ThreadSleeper};
use devauth_client::http::{ClientAuth, Http};
use devauth_client::screen::{self, Countdown, ScreenOptions};
use devauth_client::store::{Profile, Source, Tokens};
use devauth_client::{ProfileStore, account, device, mcp};
use serde_json::json;

use crate::exit::UsageError;

/// Flags of `devauth mcp login`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The MCP server's URL (Streamable HTTP), e.g. https://tools.example.com/mcp.
    #[arg(value_name = "URL")]
    pub url: String,
    /// A client id the authorization server knows, to use instead of
    /// registering one.
    #[arg(long, value_name = "ID", conflicts_with = "client_metadata_url")]
    pub client_id: Option<String>,
    /// The https URL of your client ID metadata document, used as the
    /// client id where the authorization server accepts them (the MCP
    /// spec's preferred way); else a client is registered.
    #[arg(long, value_name = "URL")]
    pub client_metadata_url: Option<String>,
    /// A scope to ask for; repeat for several [default: the scopes the
    /// server names, plus offline_access].
    #[arg(long = "scope", value_name = "S")]
    pub scopes: Vec<String>,
    /// Do not draw the QR code of the link.
    #[arg(long)]
    pub no_qr: bool,
    /// Log in in a browser on this machine (loopback redirect + PKCE), as
    /// when the authorization server offers no device grant.
    #[arg(long)]
    pub web: bool,
    /// With --web (or when the server offers no device grant): print the URL
    /// instead of opening a browser.
    #[arg(long)]
    pub no_browser: bool,
}

/// How long `--web` waits for the browser to come back.
const WEB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs the command.
pub fn run(args: Args, chosen: Option<&str>) -> anyhow::Result<ExitCode> {
    let name = chosen.map_or_else(|| super::profile::default_profile(&args.url), str::to_owned);
    devauth_client::store::validate_name(&name)?;
    let store = ProfileStore::open_default()?;
    let http = Http::new();
    let target = mcp::discover(&http, &args.url)?;
    // In the MCP spec's order: a given id, a metadata document the server
    // accepts, a registration.
    let client_id = match (&args.client_id, &args.client_metadata_url) {
        (Some(id), _) => id.clone(),
        (None, Some(doc)) if target.metadata_documents => doc.clone(),
        (None, Some(_)) => {
            eprintln!(
                "{} does not take client metadata documents; registering a client instead.",
                target.issuer
            );
            registered_client(&http, &target)?
        }
        (None, None) => registered_client(&http, &target)?,
    };
    let mut scopes: Vec<String> = if args.scopes.is_empty() {
        target.scopes.clone()
    } else {
        args.scopes.clone()
    };
    if args.scopes.is_empty() && !scopes.iter().any(|s| s == "offline_access") {
        scopes.push("offline_access".into());
    }
    let scope = scopes.join(" ");

    let cancel = CancelFlag::new();
    {
        let cancel = cancel.clone();
        // Only fails when a handler is already installed, which is fine.
        let _ = ctrlc::set_handler(move || cancel.cancel());
    }
    let sleeper = ThreadSleeper::new(cancel);
    let client = ClientAuth::Public(&client_id);
    let no_device = target.endpoints.device_authorization.is_none();
    let (resp, source) = if args.web || no_device {
        if no_device && !args.web {
            eprintln!(
                "{} offers no device grant; logging in in a browser instead.",
                target.issuer
            );
        }
        (
            web(&args, &http, &target, &client_id, &scope, &sleeper)?,
            Source::Loopback,
        )
    } else {
        let auth = device::start(
            &http,
            &target.endpoints,
            client,
            &scope,
            Some(&target.resource),
        )?;
        let opts = ScreenOptions::detect(args.no_qr);
        eprintln!(
            "Logging in to the MCP server {} (authorization server {}).",
            target.url, target.issuer
        );
        let mut stderr = std::io::stderr();
        screen::show_code(&mut stderr, &auth, &opts)?;
        let mut stderr = std::io::stderr();
        let countdown = Countdown::new(&sleeper, &mut stderr, opts.tty);
        let result = device::poll(
            &http,
            target.endpoints.token()?,
            device::PollFor {
                client,
                resource: Some(&target.resource),
            },
            &auth,
            &SystemClock,
            &countdown,
            &countdown,
        );
        countdown.finish();
        (result?, Source::DeviceCode)
    };

    let now = SystemClock.now();
    let mut p = Profile::new(&name, source, Tokens::from_response(&resp, now, None), now);
    let acct = account::from_response(&resp);
    p.issuer = Some(target.issuer.clone());
    p.client_id = Some(client_id);
    p.account = acct.display;
    p.subject = acct.subject;
    p.scopes = resp
        .scope
        .as_deref()
        .unwrap_or(&scope)
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    p.endpoints = target.endpoints.clone();
    p.extra.insert(
        mcp::EXTRA_KEY.into(),
        json!({ "url": target.url, "resource": target.resource }),
    );
    store.save(&p)?;
    let who = p.account.as_deref().unwrap_or("an unnamed account");
    eprintln!(
        "Logged in to {} as {who} (profile `{name}`). MCP clients can use: devauth mcp headers {}",
        target.url, target.url
    );
    Ok(ExitCode::SUCCESS)
}

/// `--web`: authorization code + PKCE on a loopback redirect, with `resource`.
fn web(
    args: &Args,
    http: &Http,
    target: &mcp::Target,
    client_id: &str,
    scope: &str,
    sleeper: &ThreadSleeper,
) -> anyhow::Result<devauth_proto::token::TokenResponse> {
    use devauth_client::headless::{self, SystemProbe};
    let Some(authorize) = target.endpoints.authorization.as_deref() else {
        return Err(UsageError(format!(
            "{} publishes no authorization endpoint for --web",
            target.issuer
        ))
        .into());
    };
    if !args.no_browser
        && let Some(reason) = headless::detect(&SystemProbe)
    {
        return Err(UsageError(format!(
            "no browser can open here ({reason}); drop --web to use the device flow, or add --no-browser to open the URL elsewhere on this machine"
        ))
        .into());
    }
    let lb = devauth_client::loopback::Loopback::prepare(authorize, client_id, scope)?
        .for_resource(&target.resource);
    if args.no_browser || !headless::open_browser(lb.url()) {
        eprintln!(
            "Open this URL in a browser on this machine:\n\n    {}\n",
            lb.url()
        );
    } else {
        eprintln!(
            "Opened your browser. If nothing appeared, open:\n\n    {}\n",
            lb.url()
        );
    }
    eprintln!("Waiting for the browser to come back…");
    Ok(lb.finish(
        http,
        target.endpoints.token()?,
        client_id,
        sleeper,
        WEB_TIMEOUT,
    )?)
}

/// A public client registered with the authorization server (RFC 7591) for
/// the device grant and the loopback redirect, kept under
/// `$DEVAUTH_HOME/mcp/clients/` and reused.
fn registered_client(http: &Http, target: &mcp::Target) -> anyhow::Result<String> {
    let dir = devauth_client::store::home::data_home()?
        .join("mcp")
        .join("clients");
    let path = dir.join(format!(
        "{}.json",
        devauth_client::store::home::file_name(&target.issuer)
    ));
    if let Ok(raw) = std::fs::read(&path)
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&raw)
        && let Some(id) = v["client_id"].as_str()
    {
        return Ok(id.to_owned());
    }
    let Some(endpoint) = &target.registration_endpoint else {
        return Err(UsageError(format!(
            "{} offers no client registration: pass --client-id with a client made for \
             devauth there (a public client with the device grant)",
            target.issuer
        ))
        .into());
    };
    let reply = http.post_json(
        endpoint,
        &json!({
            "client_name": "devauth (MCP)",
            "grant_types": [
                "urn:ietf:params:oauth:grant-type:device_code",
                "authorization_code",
                "refresh_token"
            ],
            "response_types": ["code"],
            "redirect_uris": ["http://127.0.0.1/callback"],
            "token_endpoint_auth_method": "none",
        }),
    )?;
    let info: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
    let Some(id) = info["client_id"]
        .as_str()
        .filter(|_| reply.status == 201 || reply.status == 200)
    else {
        let why = info["error_description"]
            .as_str()
            .or(info["error"].as_str())
            .map(devauth_client::safe_text::sanitize)
            .unwrap_or_else(|| format!("HTTP {}", reply.status));
        return Err(UsageError(format!(
            "{} refused to register a client ({why}); pass --client-id",
            target.issuer
        ))
        .into());
    };
    devauth_client::store::home::create_private_dir(&dir)?;
    devauth_client::atomic_file::write(&path, json!({ "client_id": id }).to_string().as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", e.path.display(), e.source))?;
    Ok(id.to_owned())
}

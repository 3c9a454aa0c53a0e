//! `devauth login --provider aws`: IAM Identity Center (`--start-url`,
//! `--region`) or AWS Builder ID (the default) through SSO OIDC.
//!
//! 1. A client registration is taken from the cache when one is still
//!    usable, else made with `RegisterClient` and kept;
//! 2. `StartDeviceAuthorization` — a registration AWS no longer accepts is
//!    forgotten and replaced once, then the error is explained;
//! 3. the login screen and `CreateToken` polling, as for every provider;
//! 4. the profile keeps the registration (its secret with the tokens) and
//!    the region, so `devauth token` refreshes through `CreateToken`;
//! 5. with `--write-aws-cache`, the login is also written where the AWS CLI
//!    looks, and the profile follows that file (`devauth import`'s follow
//!    mode), so one refresh token serves both and is never reused.

use devauth_client::clock::{CancelFlag, Clock as _, SystemClock, ThreadSleeper};
use devauth_client::http::Http;
use devauth_client::provider::{Provider, advice};
use devauth_client::screen::{self, Countdown, ScreenOptions};
use devauth_client::sso_oidc::{self, ProfileRecord, Registration, RegistrationCache, Service};
use devauth_client::store::{Profile, Source};
use devauth_proto::ErrorCode;

use super::args::Args;
use super::origin::{Origin, new_profile};
use crate::exit::UsageError;

/// The name devauth registers its SSO OIDC clients under.
const CLIENT_NAME: &str = "devauth";

pub(super) fn login(
    args: &Args,
    profile_arg: &crate::cmd::ProfileArg,
    clock: &SystemClock,
) -> anyhow::Result<Profile> {
    if args.client_id.is_some() {
        return Err(UsageError(
            "--provider aws registers its own client with AWS; leave --client-id out".into(),
        )
        .into());
    }
    let start_url = args
        .start_url
        .as_deref()
        .or(args.issuer.as_deref())
        .unwrap_or(sso_oidc::BUILDER_ID_START_URL)
        .trim_end_matches('/')
        .to_owned();
    let builder_id = start_url == sso_oidc::BUILDER_ID_START_URL;
    let region = match (&args.region, builder_id) {
        (Some(r), _) => r.clone(),
        (None, true) => sso_oidc::DEFAULT_REGION.to_owned(),
        (None, false) => {
            return Err(UsageError(
                "--provider aws with --start-url needs --region, the region of your IAM \
                 Identity Center instance (the AWS access portal's settings show it)"
                    .into(),
            )
            .into());
        }
    };
    devauth_client::discovery::check_url(&start_url)?;
    let scopes: Vec<String> = args
        .scope(sso_oidc::DEFAULT_SCOPES)?
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let explain = |e| advice::explain(Provider::Aws, e);
    let http = Http::new();
    let service = Service::from_env(&region)?;
    let cache = RegistrationCache::open_default()?;

    let register = || -> anyhow::Result<Registration> {
        let reg = sso_oidc::register(&http, &service, CLIENT_NAME, &scopes).map_err(explain)?;
        cache.save(&service, &start_url, &reg)?;
        Ok(reg)
    };
    let (mut reg, cached) = match cache.load(&service, &start_url, &scopes, clock.now()) {
        Some(reg) => (reg, true),
        None => (register()?, false),
    };
    let auth = match sso_oidc::start(&http, &service, &reg, &start_url) {
        Err(devauth_client::Error::OAuth { error })
            if cached && error.error == ErrorCode::InvalidClient =>
        {
            // AWS dropped the registration before its announced end.
            cache.forget(&service, &start_url, &scopes);
            reg = register()?;
            sso_oidc::start(&http, &service, &reg, &start_url).map_err(explain)?
        }
        other => other.map_err(explain)?,
    };

    let cancel = CancelFlag::new();
    {
        let cancel = cancel.clone();
        // Only fails when a handler is already installed, which is fine.
        let _ = ctrlc::set_handler(move || cancel.cancel());
    }
    let sleeper = ThreadSleeper::new(cancel);
    let opts = ScreenOptions::detect(args.no_qr);
    let mut stderr = std::io::stderr();
    screen::show_code(&mut stderr, &auth, &opts)?;
    let mut stderr = std::io::stderr();
    let countdown = Countdown::new(&sleeper, &mut stderr, opts.tty);
    let result = sso_oidc::poll(&http, &service, &reg, &auth, clock, &countdown, &countdown);
    countdown.finish();
    let resp = result.map_err(explain)?;
    let now = clock.now();

    let record = ProfileRecord {
        region: region.clone(),
        start_url: start_url.clone(),
        registration_expires_at: reg.expires_at,
    };
    let record = serde_json::to_value(&record)?;
    let own_profile = || {
        let mut p = new_profile(
            profile_arg,
            Origin {
                issuer: Some(&start_url),
                client_id: Some(&reg.client_id),
                source: Source::DeviceCode,
                endpoints: devauth_client::discovery::Endpoints {
                    token: Some(service.token_url()),
                    ..Default::default()
                },
                requested_scope: &scopes.join(" "),
            },
            &resp,
            now,
        );
        p.client_secret = Some(reg.client_secret.clone());
        p
    };
    let mut profile = if args.write_aws_cache {
        // The login succeeded: a cache that cannot be written must not lose it.
        followed_cache_file(args, profile_arg, &start_url, &region, &reg, &resp, now)
            .unwrap_or_else(|e| {
                eprintln!(
                    "warning: the login could not be written to the AWS CLI's cache ({e:#}); \
                     it is kept by devauth only."
                );
                own_profile()
            })
    } else {
        own_profile()
    };
    profile.extra.insert(sso_oidc::EXTRA_KEY.into(), record);
    profile.extra.insert("provider".into(), "aws".into());
    Ok(profile)
}

/// Writes the login to the AWS CLI's SSO cache and returns a profile that
/// follows that file.
fn followed_cache_file(
    args: &Args,
    profile_arg: &crate::cmd::ProfileArg,
    start_url: &str,
    region: &str,
    reg: &Registration,
    resp: &devauth_proto::token::TokenResponse,
    now: time::OffsetDateTime,
) -> anyhow::Result<Profile> {
    use devauth_import::aws_sso;
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| UsageError("--write-aws-cache needs HOME to find ~/.aws".into()))?;
    let key = args.aws_sso_session.as_deref().unwrap_or(start_url);
    let path =
        aws_sso::default_cache_dir(std::path::Path::new(&home)).join(aws_sso::cache_file_name(key));
    let expires_at = now + time::Duration::seconds(resp.expires_in.unwrap_or(3600) as i64);
    aws_sso::write_login(
        &path,
        &aws_sso::NewLogin {
            start_url,
            region,
            access_token: &resp.access_token,
            expires_at,
            refresh_token: resp.refresh_token.as_ref(),
            client_id: &reg.client_id,
            client_secret: &reg.client_secret,
            registration_expires_at: reg.expires_at,
        },
    )?;
    let entry = aws_sso::CacheEntry::read(&path)?
        .ok_or_else(|| anyhow::anyhow!("{} holds no login after writing it", path.display()))?;
    let cred = entry.adopt(devauth_import::credential::Mode::Follow, now)?;
    eprintln!(
        "Wrote the login to {} for the AWS CLI; devauth keeps it fresh there.",
        path.display()
    );
    Ok(devauth_import::profile::new_profile(
        profile_arg.name(),
        &cred,
        now,
    ))
}

//! The flags of `devauth login`.

use devauth_client::discovery::Endpoints;

use crate::exit::UsageError;

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
    pub(super) fn overrides(&self) -> Endpoints {
        Endpoints {
            token: self.token_endpoint.clone(),
            device_authorization: self.device_authorization_endpoint.clone(),
            authorization: self.authorization_endpoint.clone(),
            revocation: self.revocation_endpoint.clone(),
            token_auth_methods: Vec::new(),
        }
    }

    pub(super) fn scope(&self, default: &str) -> anyhow::Result<String> {
        let joined = if self.scopes.is_empty() {
            default.to_owned()
        } else {
            self.scopes.join(" ")
        };
        let scope = devauth_proto::Scope::parse(&joined)
            .map_err(|e| UsageError(format!("--scope: {e}")))?;
        Ok(scope.to_string())
    }

    pub(super) fn issuer(&self) -> anyhow::Result<&str> {
        self.issuer.as_deref().ok_or_else(|| {
            UsageError("--issuer URL is required (or set DEVAUTH_ISSUER)".into()).into()
        })
    }
}

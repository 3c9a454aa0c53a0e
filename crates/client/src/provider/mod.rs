//! Presets for providers with quirks (`devauth login --provider NAME`): where
//! their endpoints are, what to ask for by default, and what they need that
//! a standard issuer does not.
//!
//! | preset | endpoints | quirks handled |
//! |---|---|---|
//! | `github` | `BASE/login/device/code`, `BASE/login/oauth/access_token` (BASE `https://github.com` or a GitHub Enterprise Server given with `--issuer`); no discovery | JSON only on `Accept: application/json` (always sent), polling errors with HTTP 200, `slow_down` naming a new `interval`, tokens with or without expiry and refresh; no revocation a CLI can call |
//! | `google` | `https://oauth2.googleapis.com/device/code`, `/token`, `/revoke` | `verification_url`, a client secret required even for this client type (sent with `client_secret_post`) |
//! | `microsoft` | discovery from `https://login.microsoftonline.com/TENANT/v2.0` (`--tenant`, default `organizations`; `--issuer` names another cloud's authority host) | `offline_access` asked by default, the `message` shown, a document naming the tenant by id accepted ([`IssuerCheck::EntraTenant`]) |
//! | `gitlab` | discovery from `https://gitlab.com` or a self-managed `--issuer` | — |
//! | `aws` | SSO OIDC at `https://oidc.REGION.amazonaws.com` ([`crate::sso_oidc`]) | its own JSON wire format, a client registered and kept until it expires |
//!
//! What each provider's error codes mean, in words that say what to change
//! where, lives in [`advice`].

pub mod advice;

use crate::discovery::{Endpoints, IssuerCheck};

/// A provider preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// GitHub and GitHub Enterprise Server.
    Github,
    /// Google.
    Google,
    /// Microsoft Entra ID (v2.0 endpoints).
    Microsoft,
    /// GitLab.com and self-managed GitLab.
    Gitlab,
    /// AWS IAM Identity Center and Builder ID (SSO OIDC).
    Aws,
}

/// What a preset resolves to for one login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    /// The issuer recorded in the profile (and discovered, unless
    /// `endpoints` is complete).
    pub issuer: String,
    /// Endpoints known without discovery (`None`: discover from `issuer`).
    pub endpoints: Option<Endpoints>,
    /// Scopes asked for when `--scope` is not given.
    pub default_scope: &'static str,
    /// Whether the provider requires a client secret for the device flow.
    pub needs_secret: bool,
    /// Where to create the OAuth client, for the error when none is given
    /// (`None`: the login needs no client id, AWS registers its own).
    pub client_help: Option<&'static str>,
    /// How discovery checks the issuer the document names.
    pub issuer_check: IssuerCheck,
}

impl Provider {
    /// Every preset, for `--provider list`.
    pub const ALL: [Provider; 5] = [
        Self::Github,
        Self::Google,
        Self::Microsoft,
        Self::Gitlab,
        Self::Aws,
    ];

    /// Parses a preset name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "github" => Self::Github,
            "google" => Self::Google,
            "microsoft" | "entra" | "azure" => Self::Microsoft,
            "gitlab" => Self::Gitlab,
            "aws" | "aws-sso" | "builder-id" => Self::Aws,
            _ => return None,
        })
    }

    /// The preset's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Google => "google",
            Self::Microsoft => "microsoft",
            Self::Gitlab => "gitlab",
            Self::Aws => "aws",
        }
    }

    /// One line for `--provider list`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Github => {
                "GitHub or GitHub Enterprise Server (--issuer https://ghes.example.com); an OAuth or GitHub App with device flow enabled"
            }
            Self::Google => {
                "Google; a \"TVs and Limited Input devices\" client and its secret (DEVAUTH_CLIENT_SECRET)"
            }
            Self::Microsoft => {
                "Microsoft Entra ID v2.0 (--tenant, default organizations); an app with public client flows allowed"
            }
            Self::Gitlab => {
                "GitLab.com or self-managed (--issuer); an application with the device grant"
            }
            Self::Aws => {
                "AWS IAM Identity Center (--start-url, --region) or Builder ID (the default); no client id needed"
            }
        }
    }

    /// The preset for this login; `issuer` overrides the default base (a
    /// GitHub Enterprise Server, a self-managed GitLab), `tenant` picks the
    /// Entra tenant.
    pub fn preset(self, issuer: Option<&str>, tenant: Option<&str>) -> Preset {
        match self {
            Self::Github => {
                let base = issuer
                    .unwrap_or("https://github.com")
                    .trim_end_matches('/')
                    .to_owned();
                Preset {
                    endpoints: Some(Endpoints {
                        device_authorization: Some(format!("{base}/login/device/code")),
                        token: Some(format!("{base}/login/oauth/access_token")),
                        ..Endpoints::default()
                    }),
                    issuer: base,
                    default_scope: "",
                    needs_secret: false,
                    issuer_check: IssuerCheck::Exact,
                    client_help: Some(
                        "create an OAuth App or GitHub App (Settings → Developer settings), enable the device flow, and pass its client ID",
                    ),
                }
            }
            Self::Google => Preset {
                issuer: issuer
                    .unwrap_or("https://accounts.google.com")
                    .trim_end_matches('/')
                    .to_owned(),
                endpoints: Some(Endpoints {
                    device_authorization: Some("https://oauth2.googleapis.com/device/code".into()),
                    token: Some("https://oauth2.googleapis.com/token".into()),
                    revocation: Some("https://oauth2.googleapis.com/revoke".into()),
                    token_auth_methods: vec!["client_secret_post".into()],
                    ..Endpoints::default()
                }),
                default_scope: "openid email profile",
                needs_secret: true,
                issuer_check: IssuerCheck::Exact,
                client_help: Some(
                    "create an OAuth client of type \"TVs and Limited Input devices\" in the Google Cloud console and pass its client ID",
                ),
            },
            Self::Microsoft => Preset {
                issuer: format!(
                    "{}/{}/v2.0",
                    issuer
                        .unwrap_or("https://login.microsoftonline.com")
                        .trim_end_matches('/'),
                    tenant.unwrap_or("organizations")
                ),
                endpoints: None,
                default_scope: "openid profile offline_access",
                needs_secret: false,
                issuer_check: IssuerCheck::EntraTenant,
                client_help: Some(
                    "register an application in Entra ID, allow public client flows, and pass its application (client) ID",
                ),
            },
            Self::Gitlab => Preset {
                issuer: issuer
                    .unwrap_or("https://gitlab.com")
                    .trim_end_matches('/')
                    .to_owned(),
                endpoints: None,
                default_scope: "openid",
                needs_secret: false,
                issuer_check: IssuerCheck::Exact,
                client_help: Some(
                    "create an application (User Settings → Applications) with the device authorization grant and pass its application ID",
                ),
            },
            // The issuer recorded is the access portal (start URL); the
            // endpoints are SSO OIDC's, which `crate::sso_oidc` knows.
            Self::Aws => Preset {
                issuer: issuer
                    .unwrap_or(crate::sso_oidc::BUILDER_ID_START_URL)
                    .to_owned(),
                endpoints: None,
                default_scope: crate::sso_oidc::DEFAULT_SCOPES,
                needs_secret: false,
                client_help: None,
                issuer_check: IssuerCheck::Exact,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_endpoints_follow_the_base() {
        let p = Provider::Github.preset(None, None);
        let e = p.endpoints.unwrap();
        assert_eq!(
            e.token.as_deref(),
            Some("https://github.com/login/oauth/access_token")
        );
        let p = Provider::Github.preset(Some("https://ghes.example.com/"), None);
        assert_eq!(
            p.endpoints.unwrap().device_authorization.as_deref(),
            Some("https://ghes.example.com/login/device/code")
        );
    }

    #[test]
    fn names_round_trip_and_entra_has_a_tenant() {
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.name()), Some(p));
        }
        assert_eq!(Provider::parse("nope"), None);
        assert_eq!(
            Provider::Microsoft
                .preset(None, Some("contoso.onmicrosoft.com"))
                .issuer,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
        );
        assert!(Provider::Google.preset(None, None).needs_secret);
    }
}

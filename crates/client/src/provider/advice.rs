//! What a provider's error codes mean, in words that say what to change and
//! where: [`explain`] turns an OAuth error a preset recognises into
//! [`Error::Provider`]; anything else passes through unchanged.
//!
//! The codes come from each provider's documentation: GitHub's device-flow
//! errors (`device_flow_disabled`, `incorrect_client_credentials`, …), the
//! `AADSTS` numbers Entra puts at the start of `error_description`, Google's
//! `invalid_client` / `unauthorized_client` / `invalid_scope`, and the SSO
//! OIDC exceptions AWS names (already turned into OAuth codes by
//! [`crate::sso_oidc::refusal`]).

use devauth_proto::{ErrorCode, ErrorResponse};

use super::Provider;
use crate::{Error, ErrorKind};

/// Explains `err` when it is an OAuth error `provider` is known to send.
pub fn explain(provider: Provider, err: Error) -> Error {
    let Error::OAuth { error } = &err else {
        return err;
    };
    let found = match provider {
        Provider::Github => github(error),
        Provider::Google => google(error),
        Provider::Microsoft => microsoft(error),
        Provider::Gitlab => gitlab(error),
        Provider::Aws => aws(error),
    };
    match found {
        Some((code, advice, kind)) => Error::Provider {
            provider: provider.name(),
            code,
            advice: advice.to_owned(),
            kind: kind.unwrap_or_else(|| err.kind()),
        },
        None => err,
    }
}

/// (the code shown, the advice, the kind when it differs from the error's).
type Found = Option<(String, &'static str, Option<ErrorKind>)>;

fn code(e: &ErrorResponse) -> String {
    e.error.as_str().to_owned()
}

fn github(e: &ErrorResponse) -> Found {
    let advice = match e.error.as_str() {
        "device_flow_disabled" => {
            "the app does not allow the device flow; on GitHub open Settings → Developer settings → \
             OAuth Apps (or GitHub Apps) → your app, tick \"Enable Device Flow\", save, and log in again"
        }
        "incorrect_client_credentials" | "invalid_client" => {
            "GitHub knows no app with this client ID; copy the Client ID from the app's page \
             (Settings → Developer settings) into --client-id — it is not the app's name or its ID number"
        }
        "unverified_user_email" => {
            "the GitHub account has no verified email address; verify one at \
             https://github.com/settings/emails and log in again"
        }
        "incorrect_device_code" => {
            "GitHub did not recognise the device code it issued; start again with `devauth login`"
        }
        _ => return None,
    };
    Some((code(e), advice, Some(ErrorKind::Usage)))
}

fn google(e: &ErrorResponse) -> Found {
    let advice = match &e.error {
        ErrorCode::InvalidClient => {
            "Google does not know this client ID, or the secret does not match it; copy both from \
             the Google Cloud console (APIs & Services → Credentials) into --client-id and \
             DEVAUTH_CLIENT_SECRET"
        }
        ErrorCode::UnauthorizedClient => {
            "this OAuth client's type cannot use the device flow; create a client of type \
             \"TVs and Limited Input devices\" in the Google Cloud console and use its ID and secret"
        }
        ErrorCode::InvalidScope => {
            "Google allows only some scopes on the device flow (openid, email, profile, and a \
             few APIs such as Drive's drive.file); see \
             https://developers.google.com/identity/protocols/oauth2/limited-input-device#allowedscopes"
        }
        ErrorCode::Unknown(c) if c == "org_internal" || c == "admin_policy_enforced" => {
            "your Google Workspace administrator does not allow this app for your account; ask \
             them to trust it in the Admin console (Security → API controls)"
        }
        _ => return None,
    };
    Some((code(e), advice, Some(ErrorKind::Usage)))
}

/// The `AADSTS` number at the start of an Entra `error_description`.
fn aadsts(e: &ErrorResponse) -> Option<u32> {
    let d = e.error_description.as_deref()?;
    let rest = d.trim_start().strip_prefix("AADSTS")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn microsoft(e: &ErrorResponse) -> Found {
    // Entra's word for RFC 8628's access_denied.
    if e.error.as_str() == "authorization_declined" {
        return Some((
            code(e),
            "you declined the request on Microsoft's page; run `devauth login` again if that was a mistake",
            Some(ErrorKind::Denied),
        ));
    }
    let n = aadsts(e)?;
    let (advice, kind) = match n {
        7_000_218 => (
            "the app is not allowed to use public client flows; in the Entra admin center open \
             App registrations → your app → Authentication → Advanced settings, set \"Allow \
             public client flows\" to Yes, save, and log in again",
            Some(ErrorKind::Usage),
        ),
        700_016 => (
            "no application with this client ID exists in the tenant; copy the \"Application \
             (client) ID\" from the app's overview page into --client-id, and check --tenant",
            Some(ErrorKind::Usage),
        ),
        90_002 | 900_023 | 50_059 => (
            "the tenant was not found; pass --tenant with your tenant's ID or domain \
             (contoso.onmicrosoft.com), or leave it out for `organizations`",
            Some(ErrorKind::Usage),
        ),
        53_003 => (
            "a Conditional Access policy blocked the sign-in (many tenants block the device code \
             flow); ask your Entra administrator to exclude this app or this use, or log in with \
             `--web` on a machine with a browser",
            Some(ErrorKind::Denied),
        ),
        65_001 => (
            "nobody has consented to the scopes this app asks for; ask an administrator to grant \
             consent for the app (API permissions → Grant admin consent), or ask for fewer scopes",
            Some(ErrorKind::Denied),
        ),
        50_020 => (
            "the account belongs to another tenant and is not a guest in this one; use \
             --tenant organizations or the account's own tenant",
            Some(ErrorKind::Usage),
        ),
        70_011 => (
            "Entra refused a scope; ask for scopes this app has, such as User.Read or \
             api://APP-ID/.default, with --scope",
            Some(ErrorKind::Usage),
        ),
        700_082 | 50_173 | 50_133 => (
            "the refresh token is no longer valid (unused for too long, or the password changed); \
             log in again",
            Some(ErrorKind::NeedsLogin),
        ),
        _ => return None,
    };
    Some((format!("AADSTS{n}"), advice, kind))
}

fn gitlab(e: &ErrorResponse) -> Found {
    let advice = match &e.error {
        ErrorCode::InvalidClient => {
            "GitLab knows no application with this ID; copy the Application ID from User Settings \
             → Applications (or the group's or instance's applications) into --client-id"
        }
        ErrorCode::UnauthorizedClient => {
            "the application may not use the device grant; on GitLab edit the application, make \
             it non-confidential or give it the device authorization grant, and log in again"
        }
        ErrorCode::InvalidScope => {
            "GitLab refused a scope; the application must have every scope you ask for (its \
             settings list them), for example `--scope openid --scope read_api`"
        }
        _ => return None,
    };
    Some((code(e), advice, Some(ErrorKind::Usage)))
}

fn aws(e: &ErrorResponse) -> Found {
    let advice = match &e.error {
        ErrorCode::InvalidClient => {
            "AWS refused the client registration even after devauth registered a new one; check \
             that --region is the region of your IAM Identity Center instance"
        }
        ErrorCode::InvalidRequest => {
            "AWS refused the request; check --start-url (your AWS access portal URL, such as \
             https://d-1234567890.awsapps.com/start) and --region (the Identity Center region)"
        }
        ErrorCode::InvalidScope => {
            "AWS refused a scope; leave --scope out for sso:account:access, or ask for scopes \
             your Identity Center application allows"
        }
        ErrorCode::UnauthorizedClient => {
            "IAM Identity Center does not let this client log in; ask your AWS administrator"
        }
        _ => return None,
    };
    Some((code(e), advice, Some(ErrorKind::Usage)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth(code: &str, description: &str) -> Error {
        Error::oauth(ErrorResponse::new(ErrorCode::parse(code), description))
    }

    #[test]
    fn known_codes_say_what_to_change_where() {
        let e = explain(
            Provider::Github,
            oauth(
                "device_flow_disabled",
                "Device Flow must be explicitly enabled",
            ),
        );
        let text = e.to_string();
        assert!(text.contains("Enable Device Flow"), "{text}");
        assert_eq!(e.kind(), ErrorKind::Usage);

        let e = explain(
            Provider::Microsoft,
            oauth(
                "invalid_client",
                "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ),
        );
        let text = e.to_string();
        assert!(text.contains("AADSTS7000218") && text.contains("Allow public client flows"));

        let e = explain(
            Provider::Microsoft,
            oauth(
                "invalid_grant",
                "AADSTS53003: Access has been blocked by Conditional Access policies.",
            ),
        );
        assert!(e.to_string().contains("Conditional Access"));
        assert_eq!(e.kind(), ErrorKind::Denied);
    }

    #[test]
    fn unknown_codes_and_other_errors_pass_through() {
        let e = explain(Provider::Github, oauth("server_error", "x"));
        assert!(matches!(e, Error::OAuth { .. }));
        let e = explain(
            Provider::Microsoft,
            oauth("invalid_grant", "no number here"),
        );
        assert!(matches!(e, Error::OAuth { .. }));
        assert!(matches!(
            explain(Provider::Aws, Error::Denied),
            Error::Denied
        ));
    }
}

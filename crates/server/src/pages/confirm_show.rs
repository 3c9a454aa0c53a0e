//! `GET /device/confirm?user_code=…`: the confirm page, where the person sees
//! what asked (client, scopes, code, IP, user agent, age) and approves or
//! denies. Needs login (redirects to `/login` and back); counts as a code
//! entry for the rate limits, since it looks a code up.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::model::{DeviceGrant, Requester, User};
use crate::state::AppState;

use super::error::PageError;
use super::redirect;
use super::session::{self, Session};
use super::throttle::{self, Action, CodeEntrant};
use super::view::{self, ConfirmPage, DevicePage, ScopeLine};
use super::{device_code, form, login_show};
use crate::client_addr::RequesterInfo;

#[derive(Deserialize)]
struct Query {
    #[serde(default)]
    user_code: String,
}

/// The local path of the confirm page for a code.
pub fn path(user_code: &str) -> String {
    let code = device_code::display(user_code);
    let mut out = String::from("/device/confirm?");
    out.push_str(
        &url::form_urlencoded::Serializer::new(String::new())
            .append_pair("user_code", &code)
            .finish(),
    );
    out
}

/// Shows the confirm page (after login).
#[tracing::instrument(name = "pages.device.confirm_show", skip_all)]
pub async fn handler(
    State(state): State<AppState>,
    RequesterInfo(Requester { ip, .. }): RequesterInfo,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query: Query = form::parse_query(query.as_deref())?;
    let session = session::load_or_start(&state, &headers, &ip).await?;
    let Some(user) = session.user(&state).await? else {
        let to = login_show::location(&path(&device_code::refill(&query.user_code)));
        return Ok(session.attach(redirect::see_other(&to)?));
    };
    throttle::check(&state, Action::CodeEntry, session.throttle_key(), &ip).await?;
    let who = CodeEntrant {
        session: session.throttle_key(),
        account: Some(&user.id),
        ip: &ip,
    };
    let Some(grant) = device_code::find(&state, who, &query.user_code).await? else {
        let page = DevicePage {
            csrf: session.record.csrf_token.clone(),
            user_code: device_code::refill(&query.user_code),
            error: Some(device_code::why_not(&state, &query.user_code).await?.into()),
        };
        return Ok(session.attach(view::render(StatusCode::BAD_REQUEST, &page)));
    };
    let response = render(&state, &session, &user, &grant, &ip).await?;
    Ok(session.attach(response))
}

/// The confirm page for `grant`, shown to `user`, who browses from `approver_ip`.
pub async fn render(
    state: &AppState,
    session: &Session,
    user: &User,
    grant: &DeviceGrant,
    approver_ip: &str,
) -> Result<Response, PageError> {
    let client = state.stores.durable.client(&grant.client_id).await?;
    let unverified = client
        .as_ref()
        .is_some_and(|c| c.origin.is_self_registered());
    let client_uri = client.as_ref().and_then(|c| c.client_uri.clone());
    let now = state.clock.now();
    let network_warning = (!same_network(&grant.requester.ip, approver_ip)).then(|| {
        format!(
            "This request came from another network (IP address {}) than the one you \
             are using now ({approver_ip}). That is fine if the device is yours and you \
             know where it is — a server you are logged in to, say. If not, choose Deny.",
            grant.requester.ip
        )
    });
    let page = ConfirmPage {
        csrf: session.record.csrf_token.clone(),
        user_code: device_code::display(&grant.user_code),
        client_name: client.map_or_else(|| grant.client_id.clone(), |c| c.name),
        client_id: grant.client_id.clone(),
        scopes: ScopeLine::all(&grant.scope),
        ip: grant.requester.ip.clone(),
        user_agent: if grant.requester.user_agent.is_empty() {
            "(not given)".into()
        } else {
            grant.requester.user_agent.chars().take(300).collect()
        },
        age: view::ago(now.millis_since(grant.created_at)),
        asked_at: view::utc(grant.created_at),
        expires_in: view::from_now(grant.expires_at.millis_since(now)),
        username: user.username.clone(),
        here: path(&grant.user_code),
        unverified,
        client_uri,
        network_warning,
    };
    Ok(view::render(StatusCode::OK, &page))
}

/// Whether two addresses are in the same network: the same /24 for IPv4,
/// the same /48 for IPv6. An address that cannot be read (`unknown`) is not
/// evidence of anything: no warning.
fn same_network(a: &str, b: &str) -> bool {
    use std::net::IpAddr;
    let (Ok(a), Ok(b)) = (a.parse::<IpAddr>(), b.parse::<IpAddr>()) else {
        return true;
    };
    match (a.to_canonical(), b.to_canonical()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
        (IpAddr::V6(a), IpAddr::V6(b)) => a.segments()[..3] == b.segments()[..3],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::same_network;

    #[test]
    fn networks_are_compared_by_prefix() {
        assert!(same_network("192.0.2.10", "192.0.2.200"));
        assert!(!same_network("192.0.2.10", "198.51.100.10"));
        assert!(same_network("2001:db8:1:2::1", "2001:db8:1:ffff::9"));
        assert!(!same_network("2001:db8:1::1", "2001:db8:2::1"));
        assert!(!same_network("192.0.2.10", "2001:db8::1"));
        assert!(same_network("::ffff:192.0.2.10", "192.0.2.99"));
        assert!(same_network("unknown", "192.0.2.1"));
    }
}

//! What a new profile records of where its tokens came from.

use devauth_client::account;
use devauth_client::discovery::Endpoints;
use devauth_client::store::{Profile, Source, Tokens};
use devauth_proto::token::TokenResponse;

/// Where tokens came from: everything of a new profile but the tokens.
pub(super) struct Origin<'a> {
    pub(super) issuer: Option<&'a str>,
    pub(super) client_id: Option<&'a str>,
    pub(super) source: Source,
    pub(super) endpoints: Endpoints,
    pub(super) requested_scope: &'a str,
}

pub(super) fn new_profile(
    profile_arg: &crate::cmd::ProfileArg,
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

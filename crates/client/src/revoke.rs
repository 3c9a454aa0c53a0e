//! Token revocation (RFC 7009).

use devauth_proto::Secret;

use crate::Error;
use crate::http::{ClientAuth, Http};

/// Revokes one token. RFC 7009 §2.2: 200 for unknown or already revoked
/// tokens too, so any 200 is success.
pub fn revoke(
    http: &Http,
    endpoint: &str,
    auth: ClientAuth<'_>,
    token: &Secret,
    hint: &str,
) -> Result<(), Error> {
    match http.post_status(
        endpoint,
        auth,
        &[("token", token.expose()), ("token_type_hint", hint)],
    )? {
        (_, None) => Ok(()),
        (_, Some(e)) => Err(Error::oauth(e)),
    }
}

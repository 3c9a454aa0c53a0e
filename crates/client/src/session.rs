//! "Give me a valid access token": the read → lock → re-read → refresh →
//! write sequence every consumer (`token`, `run`, the agent) shares.
//!
//! The fast path reads the file once and returns when the access token lives
//! long enough: no lock, no HTTP client. Otherwise the profile's lock is
//! taken and the file re-read, because a process that waited for the lock
//! usually finds the token already refreshed by the one before it, and must
//! not refresh again (a rotated refresh token would be reused, and the
//! provider would revoke the whole family).
//!
//! A refresh token the server rejects marks the profile
//! [`ProfileState::NeedsLogin`]; from then on every call fails fast with
//! [`Error::NeedsLogin`] until `devauth login` replaces the profile.

use std::cell::OnceCell;
use std::time::Duration;

use time::OffsetDateTime;

use crate::Error;
use crate::clock::Clock;
use crate::http::{ClientAuth, Http};
use crate::store::{Profile, ProfileState, ProfileStore, Source};

/// Renews a profile's tokens. [`OAuthRenewer`] handles standard OAuth;
/// an importer implements this for its tool's own refresh protocol.
pub trait Renewer {
    /// Renews `profile.tokens` in place (and any field that changes with them).
    /// Return [`Error::RefreshRejected`] when the credentials are dead for good.
    fn renew(&self, profile: &mut Profile, now: OffsetDateTime) -> Result<(), Error>;
}

/// Standard renewal: the refresh token grant, or for service accounts a new
/// client credentials grant. The HTTP client is built on first use only.
#[derive(Debug, Default)]
pub struct OAuthRenewer {
    http: OnceCell<Http>,
}

impl OAuthRenewer {
    /// A renewer with no HTTP client yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn http(&self) -> &Http {
        self.http.get_or_init(Http::new)
    }
}

impl Renewer for OAuthRenewer {
    fn renew(&self, p: &mut Profile, now: OffsetDateTime) -> Result<(), Error> {
        if p.extra.contains_key(crate::sso_oidc::EXTRA_KEY) {
            // AWS SSO OIDC: the refresh grant in its own JSON wire format.
            return crate::sso_oidc::renew(self.http(), p, now);
        }
        let client_id = p.client_id.clone().unwrap_or_default();
        if let (Some(rt), Some(endpoint)) = (&p.tokens.refresh_token, &p.endpoints.token) {
            let auth = match &p.client_secret {
                Some(secret) => {
                    crate::client_credentials::auth_for(&p.endpoints, &client_id, secret)
                }
                None => ClientAuth::Public(&client_id),
            };
            let resp = crate::refresh::refresh(
                self.http(),
                endpoint,
                auth,
                rt,
                crate::mcp::resource_of(p),
            )?;
            p.apply_response(&resp, now);
            return Ok(());
        }
        if p.source == Source::ClientCredentials
            && let Some(secret) = &p.client_secret
        {
            let scope = p.scopes.join(" ");
            let resp = match crate::client_credentials::fetch(
                self.http(),
                &p.endpoints,
                &client_id,
                secret,
                &scope,
            ) {
                Err(Error::OAuth { error })
                    if matches!(
                        error.error,
                        devauth_proto::ErrorCode::InvalidClient
                            | devauth_proto::ErrorCode::UnauthorizedClient
                    ) =>
                {
                    return Err(Error::RefreshRejected);
                }
                other => other?,
            };
            p.apply_response(&resp, now);
            return Ok(());
        }
        Err(Error::NeedsLogin {
            profile: p.name.clone(),
            reason: "the access token expired and there is no refresh token".into(),
        })
    }
}

/// Returns profile `name` with an access token valid for at least `min_ttl`,
/// refreshing (under the lock) when needed.
pub fn fresh_access_token(
    store: &ProfileStore,
    name: &str,
    min_ttl: Duration,
    clock: &dyn Clock,
    renewer: &dyn Renewer,
) -> Result<Profile, Error> {
    let usable = |p: Option<Profile>| -> Result<Profile, Error> {
        let p = p.ok_or_else(|| Error::NotLoggedIn {
            profile: name.to_owned(),
        })?;
        if let ProfileState::NeedsLogin { reason, .. } = &p.state {
            return Err(Error::NeedsLogin {
                profile: name.to_owned(),
                reason: reason.clone(),
            });
        }
        Ok(p)
    };
    let p = usable(store.load(name)?)?;
    if p.tokens.is_fresh(clock.now(), min_ttl) {
        return Ok(p);
    }
    store.with_lock(name, |lock| {
        let mut p = usable(lock.load()?)?;
        let now = clock.now();
        if p.tokens.is_fresh(now, min_ttl) {
            return Ok(p); // refreshed by whoever held the lock before us
        }
        match renewer.renew(&mut p, now) {
            Ok(()) => {
                lock.save(&p)?;
                Ok(p)
            }
            Err(Error::RefreshRejected) => {
                let reason = "the server rejected the refresh token".to_owned();
                p.state = ProfileState::NeedsLogin {
                    reason: reason.clone(),
                    since: now,
                };
                p.updated_at = now;
                lock.save(&p)?;
                Err(Error::NeedsLogin {
                    profile: name.to_owned(),
                    reason,
                })
            }
            Err(e) => Err(e),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use devauth_proto::Secret;

    use super::*;
    use crate::clock::{MockClock, mock};
    use crate::store::Tokens;

    struct Scripted {
        calls: Cell<u32>,
        reject: bool,
    }

    impl Renewer for Scripted {
        fn renew(&self, p: &mut Profile, now: OffsetDateTime) -> Result<(), Error> {
            self.calls.set(self.calls.get() + 1);
            if self.reject {
                return Err(Error::RefreshRejected);
            }
            p.tokens.access_token = Secret::new("new");
            p.tokens.expires_at = Some(now + Duration::from_secs(3600));
            Ok(())
        }
    }

    fn profile(expires_in: i64, clock: &MockClock) -> Profile {
        let now = clock.now();
        Profile {
            version: 1,
            name: "default".into(),
            issuer: Some("https://id.example".into()),
            client_id: Some("cli".into()),
            account: None,
            subject: None,
            scopes: vec![],
            source: Source::DeviceCode,
            endpoints: Default::default(),
            tokens: Tokens {
                access_token: Secret::new("old"),
                token_type: "Bearer".into(),
                expires_at: Some(now + time::Duration::seconds(expires_in)),
                refresh_token: Some(Secret::new("r")),
                id_token: None,
            },
            client_secret: None,
            state: ProfileState::Active,
            created_at: now,
            updated_at: now,
            extra: Default::default(),
        }
    }

    #[test]
    fn fresh_tokens_are_not_refreshed() {
        let home = tempfile::tempdir().unwrap();
        let store = ProfileStore::open(home.path()).unwrap();
        let clock = mock::clock();
        store.save(&profile(600, &clock)).unwrap();
        let r = Scripted {
            calls: Cell::new(0),
            reject: false,
        };
        let p = fresh_access_token(&store, "default", Duration::from_secs(60), &clock, &r).unwrap();
        assert_eq!(p.tokens.access_token.expose(), "old");
        assert_eq!(r.calls.get(), 0);
        // --min-ttl beyond the lifetime forces a refresh
        let p =
            fresh_access_token(&store, "default", Duration::from_secs(601), &clock, &r).unwrap();
        assert_eq!(p.tokens.access_token.expose(), "new");
        assert_eq!(r.calls.get(), 1);
        assert_eq!(
            store
                .load("default")
                .unwrap()
                .unwrap()
                .tokens
                .access_token
                .expose(),
            "new"
        );
    }

    #[test]
    fn rejection_marks_needs_login_once() {
        let home = tempfile::tempdir().unwrap();
        let store = ProfileStore::open(home.path()).unwrap();
        let clock = mock::clock();
        store.save(&profile(-1, &clock)).unwrap();
        let r = Scripted {
            calls: Cell::new(0),
            reject: true,
        };
        for _ in 0..3 {
            let e = fresh_access_token(&store, "default", Duration::ZERO, &clock, &r).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::NeedsLogin);
        }
        assert_eq!(r.calls.get(), 1, "a rejected refresh token is not retried");
        assert_eq!(
            store.load("default").unwrap().unwrap().state.as_str(),
            "needs-login"
        );
    }

    #[test]
    fn missing_profile_is_not_logged_in() {
        let home = tempfile::tempdir().unwrap();
        let store = ProfileStore::open(home.path()).unwrap();
        let r = OAuthRenewer::new();
        let e = fresh_access_token(&store, "nope", Duration::ZERO, &mock::clock(), &r).unwrap_err();
        assert!(matches!(e, Error::NotLoggedIn { .. }));
    }
}

//! Domain types of the authorization server, with no I/O.
//!
//! Grants are state machines (cf. MAS's `data-model`): each state is an enum
//! variant holding only the data that exists in that state, and transitions
//! consume the old value and return `Result<Self, InvalidTransition>`, so a
//! wrong-state call is an error, never a silent update. Expiry is not a state
//! but a comparison with the injected clock.
//!
//! Every record that can be changed concurrently carries a `version`; stores
//! update with `WHERE id = ? AND version = ?` (or the Redis equivalent) and
//! report a lost race as `Ok(false)`, never by overwriting.
//!
//! Secrets never live here in raw form: device codes, refresh tokens,
//! authorization codes, session ids and client secrets are kept as
//! [`TokenHash`]es (SHA-256, hex), passwords as argon2id PHC strings.

use devauth_proto::{GrantType, Scope};
use sha2::{Digest, Sha256};

/// Milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From milliseconds since the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    /// From seconds since the epoch.
    pub const fn from_secs(s: i64) -> Self {
        Self(s * 1000)
    }
    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// Whole seconds since the epoch (rounded down), as in JWT `iat`/`exp`.
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }
    /// This instant plus `secs` seconds.
    pub const fn plus_secs(self, secs: i64) -> Self {
        Self(self.0 + secs * 1000)
    }
    /// This instant plus `ms` milliseconds.
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0 + ms)
    }
    /// Milliseconds from `earlier` to `self` (negative if `earlier` is later).
    pub const fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0 - earlier.0
    }
}

/// SHA-256 of a high-entropy secret, hex-encoded: what the server stores
/// instead of device codes, refresh tokens, authorization codes, session ids
/// and client secrets. (High-entropy values need no salt or slow hash;
/// passwords use argon2id instead.)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a raw secret.
    pub fn of(raw: &str) -> Self {
        let mut hex = String::with_capacity(64);
        push_sha256_hex(&mut hex, raw);
        Self(hex)
    }

    /// The stored form of a device code: for a code of the current shape
    /// (`<12 hex digits of issue time>.<secret>`, see
    /// [`crate::random::device_code`]) the time prefix in clear, a dot, then
    /// the SHA-256 of the whole code; for any other string (codes issued
    /// before that shape, or garbage) the plain hash, as [`TokenHash::of`].
    ///
    /// The prefix makes stored device-code hashes grow in issue order, so
    /// every new grant lands at the same end of the stores' unique index
    /// instead of at a random page of it. It tells nothing that is not
    /// stored beside it anyway (`created_at`); the secret part keeps its
    /// 256 bits, and a changed prefix changes the hash.
    pub fn of_device_code(raw: &str) -> Self {
        match raw.split_once('.') {
            Some((prefix, _)) if is_issue_time_prefix(prefix) => {
                let mut out = String::with_capacity(prefix.len() + 1 + 64);
                out.push_str(prefix);
                out.push('.');
                push_sha256_hex(&mut out, raw);
                Self(out)
            }
            _ => Self::of(raw),
        }
    }
    /// Rebuilds a hash read back from storage.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }
    /// The hex form, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `s` is the issue-time prefix of a device code: 12 lowercase hex
/// digits.
fn is_issue_time_prefix(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Appends the lowercase hex SHA-256 of `raw` to `out`.
fn push_sha256_hex(out: &mut String, raw: &str) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in Sha256::digest(raw.as_bytes()) {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

/// A transition was asked of a record in a state that does not allow it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid state transition: {0}")]
pub struct InvalidTransition(pub &'static str);

/// A registered OAuth client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// Name shown to people on the confirm page.
    pub name: String,
    /// SHA-256 of the client secret; `None` for a public client.
    pub secret_hash: Option<TokenHash>,
    /// Grants the client may use.
    pub grant_types: Vec<GrantType>,
    /// Registered redirect URIs. Loopback URIs (`http://127.0.0.1/...`,
    /// `http://[::1]/...`, `http://localhost/...`) match on any port (RFC 8252 §7.3).
    pub redirect_uris: Vec<String>,
    /// Scopes the client may ask for; empty = any scope the server supports.
    pub allowed_scopes: Scope,
    /// Whether it may introspect tokens issued to other clients (a resource
    /// server); every confidential client may introspect its own.
    pub may_introspect: bool,
    /// The algorithm of its ID tokens (`id_token_signed_response_alg`).
    pub id_token_alg: KeyAlgorithm,
    /// How the client came to exist.
    pub origin: ClientOrigin,
    /// Its home page as the client declared it (registered clients; unverified).
    pub client_uri: Option<String>,
    /// When it first received tokens; a registered client never used
    /// expires (`devauth serve --registered-client-ttl`).
    pub used_at: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
}

/// How a client came to exist: shown by `devauth admin client list`, and on
/// the confirm page (a registered client's name is its own claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOrigin {
    /// `devauth admin client add`, or the built-in `devauth-cli`.
    Admin,
    /// RFC 7591 registration open to anyone (`--registration open`).
    Registered,
    /// RFC 7591 registration with an initial access token (`--registration token`).
    RegisteredWithToken,
    /// A client ID metadata document: the `client_id` is the URL of the
    /// client's own metadata (`crate::metadata_document`).
    MetadataDocument,
}

impl ClientOrigin {
    /// The stored and displayed word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Registered => "registration",
            Self::RegisteredWithToken => "registration-token",
            Self::MetadataDocument => "metadata-document",
        }
    }
    /// The stored word back; `None` for an unknown one.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "admin" => Self::Admin,
            "registration" => Self::Registered,
            "registration-token" => Self::RegisteredWithToken,
            "metadata-document" => Self::MetadataDocument,
            _ => return None,
        })
    }
    /// Whether the client registered itself (its name and URI are unverified).
    pub fn is_self_registered(self) -> bool {
        !matches!(self, Self::Admin)
    }
}

/// Why a requested scope is refused (`invalid_scope` on every grant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScopeRefusal {
    /// Not a valid RFC 6749 §3.3 scope string.
    #[error("the scope is malformed")]
    Malformed,
    /// A scope the client may not ask for (outside its list, or, for a
    /// client without a list, outside what the server supports).
    #[error("the requested scope is not allowed for this client")]
    NotAllowed,
}

impl Client {
    /// The scope this client gets for `requested` (`default` when none is
    /// asked): the one rule every grant applies. A client with a scope list
    /// may ask for a subset of it; a client without one, for the scopes the
    /// server supports (`supported`); with a `resource` (RFC 8707), also for
    /// that resource's scopes.
    pub fn grantable_scope(
        &self,
        requested: Option<&str>,
        default: &Scope,
        supported: &[&str],
        resource: Option<&Resource>,
    ) -> Result<Scope, ScopeRefusal> {
        let scope = match requested {
            Some(s) => Scope::parse(s).map_err(|_| ScopeRefusal::Malformed)?,
            None => default.clone(),
        };
        let of_resource = |t: &str| resource.is_some_and(|r| r.scopes.contains(t));
        let allowed = scope.iter().all(|t| {
            of_resource(t)
                || if self.allowed_scopes.is_empty() {
                    supported.contains(&t)
                } else {
                    self.allowed_scopes.contains(t)
                }
        });
        if allowed {
            Ok(scope)
        } else {
            Err(ScopeRefusal::NotAllowed)
        }
    }

    /// Whether the client is public (no secret).
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }
    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: &GrantType) -> bool {
        self.grant_types.contains(grant)
    }
}

/// A person who can log in to the verification pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable identifier (the `sub` claim).
    pub id: String,
    /// Login name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// A disabled user cannot log in and its tokens stop working.
    pub disabled: bool,
    /// When it was created.
    pub created_at: Timestamp,
}

/// Where and by whom a device authorization was requested: shown on the
/// confirm page so a person can spot a phishing attempt (RFC 8628 §5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// IP address of the device that asked.
    pub ip: String,
    /// Its `User-Agent`.
    pub user_agent: String,
}

/// The state of a device authorization (RFC 8628).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceGrantState {
    /// Waiting for a person.
    Pending,
    /// A person approved; the device may redeem once.
    Approved {
        /// Who approved.
        user_id: String,
        /// When.
        approved_at: Timestamp,
    },
    /// A person denied (or the code was locked after wrong confirmations).
    Denied {
        /// When.
        denied_at: Timestamp,
    },
    /// The device redeemed the approval for tokens; any further poll is `invalid_grant`.
    Exchanged {
        /// When.
        exchanged_at: Timestamp,
    },
}

/// A device authorization request and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceGrant {
    /// Internal id.
    pub id: String,
    /// SHA-256 of the device code.
    pub device_code_hash: TokenHash,
    /// The user code in canonical form (8 characters, no dash).
    pub user_code: String,
    /// The client that asked.
    pub client_id: String,
    /// Requested scope.
    pub scope: Scope,
    /// The resource (RFC 8707) its tokens are for; `None` = this server.
    pub resource: Option<String>,
    /// Where the request came from.
    pub requester: Requester,
    /// When it was made.
    pub created_at: Timestamp,
    /// When the device code and user code stop working.
    pub expires_at: Timestamp,
    /// Current polling interval in seconds; grows by 5 on every `slow_down`
    /// (up to [`MAX_POLL_INTERVAL_SECS`]) and stays grown.
    pub interval_secs: u32,
    /// The last poll, for interval enforcement.
    pub last_polled_at: Option<Timestamp>,
    /// Wrong confirmations seen for this code; the code is locked past a limit.
    pub failed_confirmations: u32,
    /// The state.
    pub state: DeviceGrantState,
    /// Optimistic-concurrency version, bumped by every update.
    pub version: i64,
}

/// The polling interval `slow_down` grows towards and stops at, in seconds.
///
/// RFC 8628 §3.5 puts the "+5 s for this and all subsequent requests" on the
/// client; the server's interval is the lower bound it enforces. Past a
/// minute a larger bound protects nothing, and a grant whose interval is at
/// the cap is not rewritten by a `slow_down` (neither the interval nor
/// `last_polled_at` moves: the interval then counts from the last poll that
/// was accepted or that grew the interval).
pub const MAX_POLL_INTERVAL_SECS: u32 = 60;

/// What a poll of the token endpoint finds, once interval enforcement is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollVerdict {
    /// Polled sooner than the interval: answer `slow_down`; the grant now carries the larger interval.
    SlowDown,
    /// Still waiting: `authorization_pending`.
    Pending,
    /// Denied: `access_denied`.
    Denied,
    /// Past `expires_at`: `expired_token`.
    Expired,
    /// Already redeemed: `invalid_grant`.
    AlreadyExchanged,
    /// Approved and now marked exchanged: issue tokens for this user.
    Redeem {
        /// Who approved.
        user_id: String,
    },
}

/// Wrong confirmations (a confirm form refused for its CSRF token or
/// `Origin`) after which a code is locked: denied, so it cannot be pushed
/// through by retrying.
pub const MAX_FAILED_CONFIRMATIONS: u32 = 3;

/// What the person chose on the confirm page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let the device in.
    Approve,
    /// Turn it away.
    Deny,
}

/// What a refused confirmation does to a pending grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusedConfirmation {
    /// One more failure counted; store the grant.
    Counted(DeviceGrant),
    /// The failure reached [`MAX_FAILED_CONFIRMATIONS`]: the grant is now
    /// denied (store it and record `device_code.locked`).
    Locked(DeviceGrant),
}

impl DeviceGrant {
    /// Whether the codes have expired at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    /// Applies one poll at `now` and returns the verdict and the grant as it must
    /// be stored (with `last_polled_at`, a grown interval, or the exchanged state).
    /// The caller stores it with a version check and re-polls on a lost race;
    /// a grant returned unchanged (expired, or `slow_down` at the interval
    /// cap) needs no write.
    pub fn poll(mut self, now: Timestamp) -> (PollVerdict, Self) {
        if self.is_expired(now) {
            return (PollVerdict::Expired, self);
        }
        let too_soon = self
            .last_polled_at
            .is_some_and(|last| now.millis_since(last) < i64::from(self.interval_secs) * 1000);
        if too_soon {
            // Once the interval has reached the cap the grant stays as it
            // is, so the caller needs no write: a device hammering a code
            // costs one read per request.
            if self.interval_secs < MAX_POLL_INTERVAL_SECS {
                self.last_polled_at = Some(now);
                self.interval_secs = (self.interval_secs
                    + devauth_proto::device::SLOW_DOWN_INCREMENT_SECS as u32)
                    .min(MAX_POLL_INTERVAL_SECS);
            }
            return (PollVerdict::SlowDown, self);
        }
        self.last_polled_at = Some(now);
        let verdict = match &self.state {
            DeviceGrantState::Pending => PollVerdict::Pending,
            DeviceGrantState::Denied { .. } => PollVerdict::Denied,
            DeviceGrantState::Exchanged { .. } => PollVerdict::AlreadyExchanged,
            DeviceGrantState::Approved { user_id, .. } => {
                let user_id = user_id.clone();
                self.state = DeviceGrantState::Exchanged { exchanged_at: now };
                PollVerdict::Redeem { user_id }
            }
        };
        (verdict, self)
    }

    /// Pending → Approved. Only the consent handler calls this.
    pub fn approve(mut self, user_id: String, now: Timestamp) -> Result<Self, InvalidTransition> {
        match self.state {
            DeviceGrantState::Pending if !self.is_expired(now) => {
                self.state = DeviceGrantState::Approved {
                    user_id,
                    approved_at: now,
                };
                Ok(self)
            }
            DeviceGrantState::Pending => Err(InvalidTransition("the code has expired")),
            _ => Err(InvalidTransition("the request was already decided")),
        }
    }

    /// Exchanged → Approved again, for a redemption whose tokens could not be
    /// issued (a store or signing failure after the poll was stored). `before`
    /// is the grant as it was read before that poll: its approval and its
    /// `last_polled_at` come back, so the device's next poll redeems the
    /// approval instead of being told the code was already used.
    pub fn undo_exchange(self, before: &DeviceGrant) -> Result<Self, InvalidTransition> {
        match (&self.state, &before.state) {
            (DeviceGrantState::Exchanged { .. }, DeviceGrantState::Approved { .. })
                if self.id == before.id =>
            {
                Ok(Self {
                    state: before.state.clone(),
                    last_polled_at: before.last_polled_at,
                    ..self
                })
            }
            _ => Err(InvalidTransition("only a fresh exchange can be undone")),
        }
    }

    /// Pending → Approved by `user_id`, or Pending → Denied: the person's
    /// `decision` on the confirm page ([`DeviceGrant::approve`],
    /// [`DeviceGrant::deny`]).
    pub fn decide(
        self,
        decision: Decision,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Self, InvalidTransition> {
        match decision {
            Decision::Approve => self.approve(user_id.to_owned(), now),
            Decision::Deny => self.deny(now),
        }
    }

    /// Whether this grant already carries `decision` as `user_id` would have
    /// made it (approved by them, or denied), so that a second click on the
    /// same button shows the same result instead of an error.
    pub fn carries(&self, decision: Decision, user_id: &str) -> bool {
        match (&self.state, decision) {
            (DeviceGrantState::Approved { user_id: by, .. }, Decision::Approve) => by == user_id,
            (DeviceGrantState::Denied { .. }, Decision::Deny) => true,
            _ => false,
        }
    }

    /// Counts a refused confirmation against a pending grant, locking
    /// (denying) it at [`MAX_FAILED_CONFIRMATIONS`]; a grant no longer pending
    /// has nothing to count.
    pub fn refuse_confirmation(
        mut self,
        now: Timestamp,
    ) -> Result<RefusedConfirmation, InvalidTransition> {
        if self.state != DeviceGrantState::Pending {
            return Err(InvalidTransition("the request was already decided"));
        }
        self.failed_confirmations += 1;
        if self.failed_confirmations < MAX_FAILED_CONFIRMATIONS {
            return Ok(RefusedConfirmation::Counted(self));
        }
        self.deny(now).map(RefusedConfirmation::Locked)
    }

    /// Pending → Denied.
    pub fn deny(mut self, now: Timestamp) -> Result<Self, InvalidTransition> {
        match self.state {
            DeviceGrantState::Pending => {
                self.state = DeviceGrantState::Denied { denied_at: now };
                Ok(self)
            }
            _ => Err(InvalidTransition("the request was already decided")),
        }
    }
}

/// The state of one refresh token in a rotation family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshTokenState {
    /// Usable.
    Active,
    /// Used once and replaced; presenting it again after the grace window revokes the family.
    Rotated {
        /// When it was used.
        rotated_at: Timestamp,
    },
    /// Revoked (by RFC 7009, by reuse detection, or by the family's revocation).
    Revoked {
        /// When.
        revoked_at: Timestamp,
    },
}

/// One refresh token. Its family groups every token rotated from the same login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// Internal id.
    pub id: String,
    /// SHA-256 of the token.
    pub token_hash: TokenHash,
    /// The rotation family (one per login / device approval).
    pub family_id: String,
    /// Client it was issued to.
    pub client_id: String,
    /// Resource owner.
    pub user_id: String,
    /// Granted scope.
    pub scope: Scope,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// The state.
    pub state: RefreshTokenState,
    /// The token this one replaced (`None` for the first of its family).
    pub parent_id: Option<String>,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// How long after a rotation a retry with the rotated token is forgiven, in
/// milliseconds (the response carrying its successor was probably lost).
pub const REFRESH_GRACE_MILLIS: i64 = 10_000;

/// What presenting a refresh token means, once the token is known to belong
/// to the presenting client, to be unexpired and to sit in a live family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshVerdict {
    /// It is the family's live token: rotate it.
    Rotate,
    /// A retry of the newest rotated token, within the grace window, whose
    /// successor was never used: the successor dies in its place and the
    /// retry gets a new pair.
    Retry {
        /// The unused successor, to be replaced.
        successor: Box<RefreshToken>,
    },
    /// Any other spent token: reuse. Revoke the family.
    Reuse,
}

impl RefreshToken {
    /// Judges a presentation of this token at `now` (RFC 9700 §4.14.2).
    /// `latest` is the newest token of the family; it is read only when this
    /// token is not active ([`RefreshToken::is_active`]).
    ///
    /// At most one refresh token of a family is ever live: rotation and
    /// retry both spend exactly one live token (compare-and-swap on its
    /// version) to make the next, so of N concurrent presentations of one
    /// token one rotates it, one may retry in the grace window, and the rest
    /// are reuse.
    pub fn presented(&self, now: Timestamp, latest: Option<&RefreshToken>) -> RefreshVerdict {
        match &self.state {
            RefreshTokenState::Active => RefreshVerdict::Rotate,
            RefreshTokenState::Revoked { .. } => RefreshVerdict::Reuse,
            RefreshTokenState::Rotated { rotated_at } => {
                let in_grace = now.millis_since(*rotated_at) <= REFRESH_GRACE_MILLIS;
                match latest {
                    Some(next)
                        if in_grace
                            && next.state == RefreshTokenState::Active
                            && next.parent_id.as_deref() == Some(self.id.as_str()) =>
                    {
                        RefreshVerdict::Retry {
                            successor: Box::new(next.clone()),
                        }
                    }
                    _ => RefreshVerdict::Reuse,
                }
            }
        }
    }

    /// Whether `client_id` may present this token at `now` at all: issued to
    /// it and unexpired. A token that is not is answered `invalid_grant`
    /// before [`RefreshToken::presented`] is asked, with no reuse detection:
    /// another client's token or one dead of age says nothing about theft.
    pub fn presentable_by(&self, client_id: &str, now: Timestamp) -> bool {
        self.client_id == client_id && now < self.expires_at
    }

    /// Whether this token is the family's live one.
    pub fn is_active(&self) -> bool {
        self.state == RefreshTokenState::Active
    }

    /// The state this token is stored in once spent at `now`: `Rotated` by a
    /// normal use (a retry of it may still be forgiven), `Revoked` when it
    /// dies unused in a retry's place (so presenting it later is reuse).
    pub fn spent(mut self, verdict: &RefreshVerdict, now: Timestamp) -> Self {
        self.state = match verdict {
            RefreshVerdict::Retry { .. } => RefreshTokenState::Revoked { revoked_at: now },
            _ => RefreshTokenState::Rotated { rotated_at: now },
        };
        self
    }
}

/// A refresh-token family: everything issued from one login. Revoking it ends
/// every refresh token in it, and the access tokens that carry its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFamily {
    /// Family id, also carried by access tokens (`sid` claim) so they can be revoked with it.
    pub id: String,
    /// Client.
    pub client_id: String,
    /// Resource owner.
    pub user_id: String,
    /// When the person authenticated (OIDC `auth_time`).
    pub auth_time: Timestamp,
    /// When it was created.
    pub created_at: Timestamp,
    /// The authorization code it was issued from (loopback flow), so that
    /// a replay of the code revokes it (RFC 6749 §4.1.2).
    pub code_hash: Option<TokenHash>,
    /// The resource (RFC 8707) its access tokens are for; `None` = this server.
    pub resource: Option<String>,
    /// Set once the family is revoked.
    pub revoked_at: Option<Timestamp>,
}

/// A protected resource (RFC 8707): a URL that tokens can be asked for with
/// `resource=URL`, whose access tokens then carry `aud` = URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The resource indicator: an absolute URI without a fragment.
    pub url: String,
    /// Scopes of this resource that any client may ask for with it.
    pub scopes: Scope,
    /// When it was registered.
    pub created_at: Timestamp,
}

impl Resource {
    /// Whether `url` may be a resource indicator (RFC 8707 §2): an absolute
    /// `https` URI (or `http` on a loopback host) with no fragment.
    pub fn valid_indicator(url: &str) -> bool {
        let Ok(parsed) = url::Url::parse(url) else {
            return false;
        };
        let loopback = matches!(
            parsed.host_str(),
            Some("127.0.0.1") | Some("[::1]") | Some("localhost")
        );
        parsed.fragment().is_none()
            && !parsed.cannot_be_a_base()
            && (parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback))
    }
}

/// An authorization code for the loopback + PKCE flow (single use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    /// SHA-256 of the code.
    pub code_hash: TokenHash,
    /// Client.
    pub client_id: String,
    /// Resource owner.
    pub user_id: String,
    /// The exact redirect URI used at `/oauth/authorize`.
    pub redirect_uri: String,
    /// Granted scope.
    pub scope: Scope,
    /// The S256 challenge.
    pub code_challenge: String,
    /// OIDC nonce to echo into the ID token.
    pub nonce: Option<String>,
    /// The resource (RFC 8707) asked for at `/oauth/authorize`.
    pub resource: Option<String>,
    /// When the person authenticated.
    pub auth_time: Timestamp,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it expires (short: 60 s).
    pub expires_at: Timestamp,
}

/// Signing algorithm of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (required by OIDC).
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
}

impl KeyAlgorithm {
    /// JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
    /// Parses a JOSE name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

/// A signing key as stored: private PKCS#8 DER. Keys stay published in JWKS
/// until every token they signed has expired (`retired_at` + max token TTL).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// JWK `kid`.
    pub kid: String,
    /// Algorithm.
    pub alg: KeyAlgorithm,
    /// PKCS#8 DER of the private key.
    pub private_pkcs8_der: Vec<u8>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When a newer key replaced it for signing.
    pub retired_at: Option<Timestamp>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_pkcs8_der", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// A browser session on the verification pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    /// SHA-256 of the session cookie value.
    pub id_hash: TokenHash,
    /// The CSRF token forms must echo (compared in constant time).
    pub csrf_token: String,
    /// Logged-in user, once authenticated.
    pub user_id: Option<String>,
    /// When the user authenticated.
    pub authenticated_at: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// An audit event: what happened, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When.
    pub at: Timestamp,
    /// What: the name of a [`crate::audit::EventKind`] (`device_code.issued`,
    /// `device_code.approved`, `token.issued`, `refresh.reuse_detected`,
    /// `user.login_failed`, ...). A string, so rows written by another
    /// version still read back.
    pub kind: String,
    /// The client involved.
    pub client_id: Option<String>,
    /// The user involved.
    pub user_id: Option<String>,
    /// The requester's IP.
    pub ip: Option<String>,
    /// Extra details as JSON (ids, never raw secrets).
    pub details: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(now: Timestamp) -> DeviceGrant {
        DeviceGrant {
            id: "g".into(),
            device_code_hash: TokenHash::of("dc"),
            user_code: "BCDFGHJK".into(),
            client_id: "devauth-cli".into(),
            resource: None,
            scope: Scope::parse("openid").unwrap(),
            requester: Requester {
                ip: "127.0.0.1".into(),
                user_agent: "t".into(),
            },
            created_at: now,
            expires_at: now.plus_secs(600),
            interval_secs: 5,
            last_polled_at: None,
            failed_confirmations: 0,
            state: DeviceGrantState::Pending,
            version: 0,
        }
    }

    #[test]
    fn an_exchange_that_could_not_issue_is_undone_to_the_approval() {
        let t0 = Timestamp::from_secs(1_000);
        let before = grant(t0).approve("u1".into(), t0).unwrap();
        let (v, exchanged) = before.clone().poll(t0.plus_secs(6));
        assert_eq!(
            v,
            PollVerdict::Redeem {
                user_id: "u1".into()
            }
        );
        let back = exchanged.undo_exchange(&before).unwrap();
        assert_eq!(back.state, before.state);
        assert_eq!(back.last_polled_at, before.last_polled_at);
        // The device's next poll redeems the same approval.
        let (v, _) = back.poll(t0.plus_secs(12));
        assert_eq!(
            v,
            PollVerdict::Redeem {
                user_id: "u1".into()
            }
        );
    }

    #[test]
    fn only_a_fresh_exchange_can_be_undone() {
        let t0 = Timestamp::from_secs(1_000);
        let pending = grant(t0);
        assert!(pending.clone().undo_exchange(&pending).is_err());
        let approved = pending.clone().approve("u1".into(), t0).unwrap();
        // Not exchanged: nothing to undo.
        assert!(approved.clone().undo_exchange(&approved).is_err());
        // Exchanged, but the grant read before was not an approval.
        let (_, exchanged) = approved.clone().poll(t0.plus_secs(6));
        assert!(exchanged.clone().undo_exchange(&pending).is_err());
        // Another grant's approval.
        let mut other = approved.clone();
        other.id = "other".into();
        assert!(exchanged.undo_exchange(&other).is_err());
    }

    fn refresh(id: &str, parent: Option<&str>, state: RefreshTokenState) -> RefreshToken {
        RefreshToken {
            id: id.into(),
            token_hash: TokenHash::of(id),
            family_id: "f".into(),
            client_id: "devauth-cli".into(),
            user_id: "u".into(),
            scope: Scope::parse("openid offline_access").unwrap(),
            created_at: Timestamp::from_secs(0),
            expires_at: Timestamp::from_secs(100_000),
            state,
            parent_id: parent.map(str::to_owned),
            version: 0,
        }
    }

    #[test]
    fn refresh_presentations_rotate_retry_or_are_reuse() {
        let t = Timestamp::from_secs(1_000);
        let rotated = RefreshTokenState::Rotated { rotated_at: t };
        let active = refresh("a", None, RefreshTokenState::Active);
        assert_eq!(active.presented(t, None), RefreshVerdict::Rotate);

        let spent = refresh("a", None, rotated.clone());
        let successor = refresh("b", Some("a"), RefreshTokenState::Active);
        // Within the grace window, the successor unused: a retry.
        assert_eq!(
            spent.presented(t.plus_millis(REFRESH_GRACE_MILLIS), Some(&successor)),
            RefreshVerdict::Retry {
                successor: Box::new(successor.clone())
            }
        );
        // Past the window: reuse.
        assert_eq!(
            spent.presented(t.plus_millis(REFRESH_GRACE_MILLIS + 1), Some(&successor)),
            RefreshVerdict::Reuse
        );
        // The latest is not this token's successor (it was used): reuse.
        let grandchild = refresh("c", Some("b"), RefreshTokenState::Active);
        assert_eq!(spent.presented(t, Some(&grandchild)), RefreshVerdict::Reuse);
        // The successor is not live any more: reuse.
        let dead = refresh("b", Some("a"), RefreshTokenState::Revoked { revoked_at: t });
        assert_eq!(spent.presented(t, Some(&dead)), RefreshVerdict::Reuse);
        assert_eq!(spent.presented(t, None), RefreshVerdict::Reuse);
        // A token that died unused in a retry's place: reuse.
        let revoked = refresh("b", Some("a"), RefreshTokenState::Revoked { revoked_at: t });
        assert_eq!(
            revoked.presented(t, Some(&grandchild)),
            RefreshVerdict::Reuse
        );
    }

    #[test]
    fn only_its_client_may_present_a_token_and_only_before_it_expires() {
        let token = refresh("r1", None, RefreshTokenState::Active);
        let before = token.expires_at.plus_millis(-1);
        assert!(token.presentable_by(&token.client_id, before));
        assert!(!token.presentable_by(&token.client_id, token.expires_at));
        assert!(!token.presentable_by("another-client", before));
    }

    #[test]
    fn a_retry_revokes_the_successor_and_a_rotation_marks_it_rotated() {
        let t = Timestamp::from_secs(1_000);
        let live = refresh("b", Some("a"), RefreshTokenState::Active);
        let retry = RefreshVerdict::Retry {
            successor: Box::new(live.clone()),
        };
        assert_eq!(
            live.clone().spent(&retry, t).state,
            RefreshTokenState::Revoked { revoked_at: t }
        );
        assert_eq!(
            live.spent(&RefreshVerdict::Rotate, t).state,
            RefreshTokenState::Rotated { rotated_at: t }
        );
    }

    #[test]
    fn slow_down_grows_and_stays_grown() {
        let t0 = Timestamp::from_secs(1_000);
        let (v, g) = grant(t0).poll(t0);
        assert_eq!(v, PollVerdict::Pending);
        let (v, g) = g.poll(t0.plus_secs(2));
        assert_eq!(v, PollVerdict::SlowDown);
        assert_eq!(g.interval_secs, 10);
        // 6 s after the last poll is fine under 5 s, too soon under 10 s.
        let (v, g) = g.poll(t0.plus_secs(8));
        assert_eq!(v, PollVerdict::SlowDown);
        assert_eq!(g.interval_secs, 15);
        let (v, g) = g.poll(t0.plus_secs(23));
        assert_eq!(v, PollVerdict::Pending);
        assert_eq!(g.interval_secs, 15);
    }

    #[test]
    fn slow_down_stops_growing_at_the_cap_and_then_changes_nothing() {
        let t0 = Timestamp::from_secs(1_000);
        let (_, mut g) = grant(t0).poll(t0);
        let mut at = t0;
        for expected in [10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 60] {
            at = at.plus_secs(1);
            let (v, next) = g.poll(at);
            assert_eq!(v, PollVerdict::SlowDown);
            assert_eq!(next.interval_secs, expected);
            g = next;
        }
        // At the cap a too-early poll leaves the grant exactly as it was.
        let before = g.clone();
        let (v, after) = g.poll(at.plus_secs(1));
        assert_eq!(v, PollVerdict::SlowDown);
        assert_eq!(after, before);
        assert_eq!(after.last_polled_at, Some(at.plus_secs(-1)));
        // The interval counts from the last stored poll.
        let last = after.last_polled_at.unwrap();
        let (v, _) = after.clone().poll(last.plus_secs(59));
        assert_eq!(v, PollVerdict::SlowDown);
        let (v, g) = after.poll(last.plus_secs(60));
        assert_eq!(v, PollVerdict::Pending);
        assert_eq!(g.interval_secs, MAX_POLL_INTERVAL_SECS);
    }

    #[test]
    fn a_configured_interval_above_the_cap_is_kept() {
        let t0 = Timestamp::from_secs(1_000);
        let mut g = grant(t0);
        g.interval_secs = 90;
        let (_, g) = g.poll(t0);
        let (v, after) = g.clone().poll(t0.plus_secs(30));
        assert_eq!(v, PollVerdict::SlowDown);
        assert_eq!(after, g, "no write needed");
    }

    #[test]
    fn approval_is_redeemed_once() {
        let t0 = Timestamp::from_secs(1_000);
        let g = grant(t0).approve("u1".into(), t0).unwrap();
        let (v, g) = g.poll(t0.plus_secs(5));
        assert_eq!(
            v,
            PollVerdict::Redeem {
                user_id: "u1".into()
            }
        );
        let (v, _) = g.poll(t0.plus_secs(10));
        assert_eq!(v, PollVerdict::AlreadyExchanged);
    }

    #[test]
    fn transitions_check_state_and_expiry() {
        let t0 = Timestamp::from_secs(1_000);
        assert!(grant(t0).approve("u".into(), t0.plus_secs(600)).is_err());
        let denied = grant(t0).deny(t0).unwrap();
        assert!(denied.clone().approve("u".into(), t0).is_err());
        let (v, _) = denied.poll(t0.plus_secs(5));
        assert_eq!(v, PollVerdict::Denied);
        let (v, _) = grant(t0).poll(t0.plus_secs(600));
        assert_eq!(v, PollVerdict::Expired);
    }

    #[test]
    fn a_decision_approves_or_denies_a_pending_grant_once() {
        let t0 = Timestamp::from_secs(1_000);
        let approved = grant(t0).decide(Decision::Approve, "u", t0).unwrap();
        assert_eq!(
            approved.state,
            DeviceGrantState::Approved {
                user_id: "u".into(),
                approved_at: t0
            }
        );
        let denied = grant(t0).decide(Decision::Deny, "u", t0).unwrap();
        assert_eq!(denied.state, DeviceGrantState::Denied { denied_at: t0 });
        assert!(approved.clone().decide(Decision::Deny, "u", t0).is_err());
        assert!(denied.clone().decide(Decision::Approve, "u", t0).is_err());
        // Expired codes cannot be approved.
        assert!(
            grant(t0)
                .decide(Decision::Approve, "u", t0.plus_secs(600))
                .is_err()
        );
    }

    #[test]
    fn a_second_click_is_recognised_only_for_the_same_decision_and_person() {
        let t0 = Timestamp::from_secs(1_000);
        let approved = grant(t0).decide(Decision::Approve, "u", t0).unwrap();
        assert!(approved.carries(Decision::Approve, "u"));
        assert!(!approved.carries(Decision::Approve, "someone-else"));
        assert!(!approved.carries(Decision::Deny, "u"));
        let denied = grant(t0).decide(Decision::Deny, "u", t0).unwrap();
        assert!(denied.carries(Decision::Deny, "u"));
        assert!(denied.carries(Decision::Deny, "someone-else"));
        assert!(!denied.carries(Decision::Approve, "u"));
        let pending = grant(t0);
        assert!(!pending.carries(Decision::Approve, "u"));
        assert!(!pending.carries(Decision::Deny, "u"));
        let (_, exchanged) = approved.poll(t0.plus_secs(5));
        assert!(!exchanged.carries(Decision::Approve, "u"));
    }

    #[test]
    fn refused_confirmations_are_counted_then_lock_the_code() {
        let t0 = Timestamp::from_secs(1_000);
        let mut g = grant(t0);
        for n in 1..MAX_FAILED_CONFIRMATIONS {
            match g.refuse_confirmation(t0).unwrap() {
                RefusedConfirmation::Counted(next) => {
                    assert_eq!(next.failed_confirmations, n);
                    assert_eq!(next.state, DeviceGrantState::Pending);
                    g = next;
                }
                other => panic!("counted, not {other:?}"),
            }
        }
        let RefusedConfirmation::Locked(locked) = g.refuse_confirmation(t0).unwrap() else {
            panic!("locked at the limit")
        };
        assert_eq!(locked.failed_confirmations, MAX_FAILED_CONFIRMATIONS);
        assert_eq!(locked.state, DeviceGrantState::Denied { denied_at: t0 });
        // A decided grant has nothing to count.
        assert!(locked.refuse_confirmation(t0).is_err());
        let approved = grant(t0).decide(Decision::Approve, "u", t0).unwrap();
        assert!(approved.refuse_confirmation(t0).is_err());
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            TokenHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn device_code_hashes_keep_the_issue_time_and_hash_the_whole_code() {
        let code = "0193a1b2c3d4.abc";
        let key = TokenHash::of_device_code(code);
        assert_eq!(
            key.as_str(),
            format!("0193a1b2c3d4.{}", TokenHash::of(code).as_str())
        );
        // The prefix is covered by the hash: another time, another key.
        let moved = TokenHash::of_device_code("0193a1b2c3d5.abc");
        assert!(!moved.as_str().ends_with(TokenHash::of(code).as_str()));
    }

    #[test]
    fn device_codes_of_other_shapes_hash_plainly() {
        // Codes issued before the time prefix existed, and garbage, keep
        // the plain hash, so grants stored under it are still found.
        for raw in [
            "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg",
            "0193A1B2C3D4.abc",
            "193a1b2c3d4.abc",
            "0193a1b2c3d4x.abc",
            "zz93a1b2c3d4.abc",
            ".",
            "",
        ] {
            assert_eq!(
                TokenHash::of_device_code(raw),
                TokenHash::of(raw),
                "{raw:?}"
            );
        }
    }
}

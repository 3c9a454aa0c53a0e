//! Storage, behind two traits that name no driver.
//!
//! * [`DurableStore`]: what must survive for months — users, clients, signing
//!   keys, refresh-token families, audit events. SQLite (default) or PostgreSQL.
//! * [`FlowStore`]: short-lived device-flow state — pending device grants
//!   (indexed by device-code hash and by user code), authorization codes,
//!   browser sessions, rate-limit counters. SQLite or PostgreSQL (same
//!   database), or Redis with TTLs when the server runs as several replicas.
//!
//! Handlers hold a [`Stores`] and never know which backend answers.
//!
//! # Rules every backend keeps
//! 1. Lookups return `Result<Option<T>>`: absent is not an error.
//! 2. Updates of versioned records are compare-and-swap on `version`
//!    (`UPDATE … WHERE id = ? AND version = ?`, or WATCH/MULTI / Lua in Redis)
//!    and bump it; a lost race returns `Ok(false)` and the caller re-reads.
//!    Never read-then-write without that check.
//! 3. Single-use things (authorization codes) are consumed atomically: of two
//!    concurrent callers exactly one gets `Some`.
//! 4. A backend that cannot be reached returns [`StoreError::Unavailable`],
//!    which handlers turn into 503 / `temporarily_unavailable`; nothing panics.
//! 5. Raw secrets never arrive here: only [`TokenHash`]es.
//!
//! # Adding a backend
//! Implement one or both traits in `store/<name>.rs` (or a folder
//! `store/<name>/` when it has parts, as `sqlite/` does), add it to
//! the URL dispatch of [`open`], and run the shared conformance suite
//! (`devauth_testkit::store_suite`, kept out of this library) against it,
//! as `crates/server/tests/integration/stores.rs` does for the built-in combinations.

mod columns;
pub mod open;
pub mod postgres;
pub mod redis;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::model::{
    AuditEvent, AuthorizationCode, BrowserSession, Client, DeviceGrant, RefreshToken, Resource,
    SigningKeyRecord, Timestamp, TokenFamily, TokenHash, User,
};

/// How long an expired device grant is kept, in milliseconds: a device that
/// polls late still gets `expired_token` (not `invalid_grant`), the sweeper
/// reports the expiry (`device_code.expired`) once, and the grant's user code
/// stays reserved — no new grant may take it — until this has passed, so a
/// person typing an old code never lands on someone else's request.
pub const EXPIRED_GRANT_RETENTION_MS: i64 = 10 * 60 * 1000;

/// How long a family without refresh tokens is kept (30 days, the longest
/// access-token lifetime `devauth serve` accepts).
pub const FAMILY_RETENTION_SECS: i64 = 30 * 24 * 3600;

/// A storage failure.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backing service cannot be reached or is overloaded; retry later.
    #[error("storage temporarily unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness constraint was violated (duplicate user name, client id, ...).
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// A stored row cannot be turned into a model value (impossible state).
    #[error("inconsistent stored data: {0}")]
    Inconsistent(String),
    /// Anything else (a bug or a broken database).
    #[error("storage error: {0}")]
    Other(String),
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Long-lived state.
#[async_trait]
pub trait DurableStore: Send + Sync + 'static {
    /// Creates or upgrades the schema (idempotent, safe when replicas start together).
    async fn migrate(&self) -> StoreResult<()>;
    /// Cheap round trip for `/healthz`.
    async fn ping(&self) -> StoreResult<()>;

    /// Adds a user; [`StoreError::AlreadyExists`] on a duplicate username.
    async fn add_user(&self, user: &User) -> StoreResult<()>;
    /// Finds a user by login name.
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;
    /// Finds a user by id.
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>>;
    /// All users, by name.
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Disables or enables a user; `false` when there is no such user.
    async fn set_user_disabled(&self, username: &str, disabled: bool) -> StoreResult<bool>;
    /// Replaces a user's password hash; `false` when there is no such user.
    async fn set_user_password(&self, username: &str, password_hash: &str) -> StoreResult<bool>;
    /// Deletes a user; `false` when there is no such user. Its tokens stop
    /// working (they name a user that no longer exists).
    async fn delete_user(&self, username: &str) -> StoreResult<bool>;

    /// Adds a client; [`StoreError::AlreadyExists`] on a duplicate id.
    async fn add_client(&self, client: &Client) -> StoreResult<()>;
    /// Replaces what can change of a client (name, grants, redirect URIs,
    /// scopes, introspection right, ID-token algorithm; not its id, secret
    /// or creation time); `false` when there is no such client.
    async fn update_client(&self, client: &Client) -> StoreResult<bool>;
    /// Records a client's first use (`used_at`, set once); `false` when it
    /// was already set or there is no such client.
    async fn mark_client_used(&self, id: &str, at: Timestamp) -> StoreResult<bool>;
    /// Deletes self-registered clients never used and created before
    /// `created_before`; returns how many.
    async fn delete_unused_registered_clients(&self, created_before: Timestamp)
    -> StoreResult<u64>;
    /// Stores an initial access token for registration (RFC 7591 §3), by hash.
    async fn add_registration_token(
        &self,
        hash: &TokenHash,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// Whether an initial access token exists and has not expired at `now`.
    async fn registration_token_valid(&self, hash: &TokenHash, now: Timestamp)
    -> StoreResult<bool>;
    /// Deletes a client; `false` when there is no such client.
    async fn delete_client(&self, id: &str) -> StoreResult<bool>;
    /// Finds a client.
    async fn client(&self, id: &str) -> StoreResult<Option<Client>>;
    /// All clients, by id.
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;

    /// Registers a protected resource; [`StoreError::AlreadyExists`] on a duplicate URL.
    async fn add_resource(&self, resource: &Resource) -> StoreResult<()>;
    /// Finds a protected resource by its exact URL.
    async fn resource(&self, url: &str) -> StoreResult<Option<Resource>>;
    /// All protected resources, by URL.
    async fn list_resources(&self) -> StoreResult<Vec<Resource>>;
    /// Removes a protected resource; `false` when there was none. Tokens
    /// already issued for it keep their `aud` until they expire.
    async fn remove_resource(&self, url: &str) -> StoreResult<bool>;

    /// Adds a signing key.
    async fn add_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;
    /// Every key, newest first (retired ones included).
    async fn list_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Marks every current key of `kid != keep` as retired at `at`.
    async fn retire_keys_except(&self, keep: &str, at: Timestamp) -> StoreResult<()>;
    /// Deletes keys retired before `before` (their tokens have all expired).
    async fn delete_keys_retired_before(&self, before: Timestamp) -> StoreResult<u64>;

    /// Creates a refresh-token family.
    async fn add_family(&self, family: &TokenFamily) -> StoreResult<()>;
    /// Finds a family.
    async fn family(&self, id: &str) -> StoreResult<Option<TokenFamily>>;
    /// Finds the family issued from an authorization code (by the code's hash).
    async fn family_by_code(&self, code_hash: &TokenHash) -> StoreResult<Option<TokenFamily>>;
    /// Revokes a family and every refresh token in it; `false` if it was already revoked or absent.
    async fn revoke_family(&self, id: &str, at: Timestamp) -> StoreResult<bool>;

    /// Stores a new refresh token.
    async fn add_refresh_token(&self, token: &RefreshToken) -> StoreResult<()>;
    /// Finds a refresh token by hash.
    async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshToken>>;
    /// In one transaction: CAS-updates `old` (expected at `old_version`) and
    /// inserts `new`. `Ok(false)` when `old` changed meanwhile (lost race).
    async fn rotate_refresh_token(
        &self,
        old: &RefreshToken,
        old_version: i64,
        new: &RefreshToken,
    ) -> StoreResult<bool>;
    /// The newest token of a family (the one a grace-window retry replaces).
    async fn latest_in_family(&self, family_id: &str) -> StoreResult<Option<RefreshToken>>;

    /// Marks an access token (by `jti`) revoked until it would have expired anyway.
    async fn revoke_access_token(&self, jti: &str, expires_at: Timestamp) -> StoreResult<()>;
    /// Whether an access token was revoked.
    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool>;

    /// Appends an audit event.
    async fn audit(&self, event: &AuditEvent) -> StoreResult<()>;
    /// Appends several audit events, in order (the background audit writer's
    /// batches). Backends may store them in one transaction; the default
    /// stores them one by one.
    async fn audit_batch(&self, events: &[AuditEvent]) -> StoreResult<()> {
        for event in events {
            self.audit(event).await?;
        }
        Ok(())
    }
    /// Deletes audit events older than `before` (the retention), oldest
    /// first, at most `limit` of them; returns how many.
    async fn delete_audit_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
    /// Most recent audit events, newest first.
    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditEvent>>;

    /// Deletes expired refresh tokens, revoked-jti entries past their expiry,
    /// and families that have no refresh token left and were created more
    /// than [`FAMILY_RETENTION_SECS`] ago (access tokens name their family in
    /// `sid`, and a missing family makes them inactive, so a family must
    /// outlive every access token minted from it).
    async fn sweep(&self, now: Timestamp) -> StoreResult<u64>;
}

/// Short-lived device-flow state.
#[async_trait]
pub trait FlowStore: Send + Sync + 'static {
    /// Creates or upgrades the schema (no-op for Redis).
    async fn migrate(&self) -> StoreResult<()>;
    /// Cheap round trip for `/healthz`.
    async fn ping(&self) -> StoreResult<()>;

    /// Stores a new device grant. [`StoreError::AlreadyExists`] when its user
    /// code collides with a live one (the caller draws another).
    async fn add_device_grant(&self, grant: &DeviceGrant) -> StoreResult<()>;
    /// Finds a grant by device-code hash.
    async fn device_grant_by_code(&self, hash: &TokenHash) -> StoreResult<Option<DeviceGrant>>;
    /// Finds a grant by canonical user code.
    async fn device_grant_by_user_code(&self, user_code: &str) -> StoreResult<Option<DeviceGrant>>;
    /// CAS update: stores `grant` (with `version` bumped) if the stored version
    /// is `expected_version`. `Ok(false)` on a lost race.
    async fn update_device_grant(
        &self,
        grant: &DeviceGrant,
        expected_version: i64,
    ) -> StoreResult<bool>;

    /// Stores an authorization code.
    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()>;
    /// Removes and returns a code; of concurrent callers exactly one gets `Some`.
    async fn take_authorization_code(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<AuthorizationCode>>;

    /// Stores a new browser session.
    async fn add_session(&self, session: &BrowserSession) -> StoreResult<()>;
    /// Finds a session by the hash of its cookie.
    async fn session(&self, id_hash: &TokenHash) -> StoreResult<Option<BrowserSession>>;
    /// CAS update of a session; `Ok(false)` on a lost race.
    async fn update_session(
        &self,
        session: &BrowserSession,
        expected_version: i64,
    ) -> StoreResult<bool>;
    /// Deletes a session.
    async fn delete_session(&self, id_hash: &TokenHash) -> StoreResult<()>;

    /// Counts one hit against `key` in the fixed window of `window_secs`
    /// containing `now`, atomically, and returns the count including this hit.
    async fn hit(&self, key: &str, window_secs: u32, now: Timestamp) -> StoreResult<u64>;
    /// The count of `key` in the window containing `now`, without adding a hit.
    async fn hits(&self, key: &str, window_secs: u32, now: Timestamp) -> StoreResult<u64>;

    /// Deletes everything expired at `now` (a backend may keep an expired
    /// device grant a few minutes more, so a late poll still gets
    /// `expired_token`); returns the grants that expired while still pending,
    /// each one once (for the `device_code.expired` audit event).
    async fn sweep(&self, now: Timestamp) -> StoreResult<Vec<DeviceGrant>>;
}

/// The two stores a server runs on.
#[derive(Clone)]
pub struct Stores {
    /// Long-lived state.
    pub durable: Arc<dyn DurableStore>,
    /// Device-flow state.
    pub flow: Arc<dyn FlowStore>,
}

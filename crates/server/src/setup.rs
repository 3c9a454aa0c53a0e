//! First-start provisioning: the default `devauth-cli` client and, with
//! `devauth serve --demo`, a `demo` user.

use devauth_proto::{GrantType, Scope, Secret};

use crate::config::{DEFAULT_CLIENT_ID, SUPPORTED_SCOPES};
use crate::model::{Client, KeyAlgorithm, Timestamp, User};
use crate::store::{DurableStore, StoreError, StoreResult};

/// The redirect URIs of the default client: loopback, any port (RFC 8252 §7.3).
pub const DEFAULT_REDIRECT_URIS: &[&str] =
    &["http://127.0.0.1/callback", "http://localhost/callback"];

/// Adds the public `devauth-cli` client unless it exists.
pub async fn ensure_default_client(store: &dyn DurableStore, now: Timestamp) -> StoreResult<()> {
    if store.client(DEFAULT_CLIENT_ID).await?.is_some() {
        return Ok(());
    }
    let client = Client {
        id: DEFAULT_CLIENT_ID.into(),
        name: "devauth command line".into(),
        secret_hash: None,
        grant_types: vec![
            GrantType::DeviceCode,
            GrantType::RefreshToken,
            GrantType::AuthorizationCode,
        ],
        redirect_uris: DEFAULT_REDIRECT_URIS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        allowed_scopes: Scope::from_tokens(SUPPORTED_SCOPES.iter().copied()),
        may_introspect: false,
        origin: crate::model::ClientOrigin::Admin,
        client_uri: None,
        used_at: None,
        id_token_alg: KeyAlgorithm::Rs256,
        created_at: now,
    };
    match store.add_client(&client).await {
        // Another replica (or a concurrent admin command) won the race.
        Ok(()) | Err(StoreError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Why a user could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddUserError {
    /// The store failed (including a duplicate name).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Password(#[from] crate::password::PasswordError),
}

/// Hashes `password` (off the async threads) and sets it as `username`'s;
/// `Ok(false)` when there is no such user.
pub async fn set_password(
    store: &dyn DurableStore,
    username: &str,
    password: &Secret,
) -> Result<bool, AddUserError> {
    let pw = password.clone();
    let hash = tokio::task::spawn_blocking(move || crate::password::hash(pw.expose()))
        .await
        .map_err(|e| StoreError::Other(format!("hashing task failed: {e}")))??;
    Ok(store.set_user_password(username, &hash).await?)
}

/// Adds a user with an argon2id hash of `password` (hashing off the async threads).
pub async fn add_user(
    store: &dyn DurableStore,
    username: &str,
    password: &Secret,
    now: Timestamp,
) -> Result<User, AddUserError> {
    let pw = password.clone();
    let hash = tokio::task::spawn_blocking(move || crate::password::hash(pw.expose()))
        .await
        .map_err(|e| StoreError::Other(format!("hashing task failed: {e}")))??;
    let user = User {
        id: crate::random::id(),
        username: username.to_owned(),
        password_hash: hash,
        disabled: false,
        created_at: now,
    };
    store.add_user(&user).await?;
    Ok(user)
}

/// Creates the `demo` user with a random password unless it exists; returns
/// the password when it was created (to be printed once).
pub async fn ensure_demo_user(
    store: &dyn DurableStore,
    now: Timestamp,
) -> Result<Option<Secret>, AddUserError> {
    if store.user_by_name("demo").await?.is_some() {
        return Ok(None);
    }
    let password = crate::random::secret();
    match add_user(store, "demo", &password, now).await {
        Ok(_) => Ok(Some(password)),
        Err(AddUserError::Store(StoreError::AlreadyExists(_))) => Ok(None),
        Err(e) => Err(e),
    }
}

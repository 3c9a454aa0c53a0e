//! Provisioning: the default `devauth-cli` client and, with `devauth serve
//! --demo`, a `demo` user at first start; the operator's clients
//! ([`add_client`]) and users ([`add_user`]) for `devauth admin`.

use devauth_proto::{GrantType, Scope, Secret};

use crate::config::{DEFAULT_CLIENT_ID, SUPPORTED_SCOPES};
use crate::model::{Client, ClientOrigin, KeyAlgorithm, Timestamp, TokenHash, User};
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
        origin: ClientOrigin::Admin,
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

/// A client an operator asks for (`devauth admin client add`).
#[derive(Debug, Clone)]
pub struct NewClient {
    /// Its `client_id`.
    pub id: String,
    /// Shown on the consent and confirm pages.
    pub name: String,
    /// Public (no secret: a command line, a device) or confidential (gets a
    /// secret, shown once).
    pub public: bool,
    /// Grants it may use; empty = device_code and refresh_token for a public
    /// client, client_credentials for a confidential one.
    pub grant_types: Vec<GrantType>,
    /// Where authorization codes may be sent (absolute URLs).
    pub redirect_uris: Vec<String>,
    /// Scopes it may ask for beyond the supported ones.
    pub allowed_scopes: Scope,
    /// Whether it may call the introspection endpoint (confidential only).
    pub may_introspect: bool,
    /// How its ID tokens are signed.
    pub id_token_alg: KeyAlgorithm,
}

/// Why a client could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddClientError {
    /// A grant this server does not know.
    #[error(
        "unknown grant {0:?}: use device_code, refresh_token, authorization_code or \
         client_credentials"
    )]
    UnknownGrant(String),
    /// `client_credentials` needs a secret.
    #[error("a public client cannot use client_credentials")]
    PublicClientCredentials,
    /// Introspection needs a secret.
    #[error("a public client cannot introspect: it has no secret to prove who it is")]
    PublicIntrospect,
    /// A redirect URI does not parse as a URL.
    #[error("redirect URI {0:?} is not a URL")]
    RedirectUri(String),
    /// The id is taken.
    #[error("a client {0} already exists")]
    AlreadyExists(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// Adds an operator-made client after checking `new` against the rules
/// (known grants; no client_credentials nor introspection without a
/// secret; redirect URIs that are URLs). Returns it with its secret when
/// confidential: the only time the secret exists in clear.
pub async fn add_client(
    store: &dyn DurableStore,
    new: NewClient,
    now: Timestamp,
) -> Result<(Client, Option<Secret>), AddClientError> {
    let NewClient {
        id,
        name,
        public,
        mut grant_types,
        redirect_uris,
        allowed_scopes,
        may_introspect,
        id_token_alg,
    } = new;
    for grant in &grant_types {
        match grant {
            GrantType::Unknown(g) => return Err(AddClientError::UnknownGrant(g.clone())),
            GrantType::ClientCredentials if public => {
                return Err(AddClientError::PublicClientCredentials);
            }
            _ => {}
        }
    }
    if grant_types.is_empty() {
        grant_types = if public {
            vec![GrantType::DeviceCode, GrantType::RefreshToken]
        } else {
            vec![GrantType::ClientCredentials]
        };
    }
    if let Some(bad) = redirect_uris.iter().find(|u| url::Url::parse(u).is_err()) {
        return Err(AddClientError::RedirectUri(bad.clone()));
    }
    if public && may_introspect {
        return Err(AddClientError::PublicIntrospect);
    }
    let secret = (!public).then(crate::random::secret);
    let client = Client {
        id,
        name,
        secret_hash: secret.as_ref().map(|s| TokenHash::of(s.expose())),
        grant_types,
        redirect_uris,
        allowed_scopes,
        may_introspect,
        origin: ClientOrigin::Admin,
        client_uri: None,
        used_at: None,
        id_token_alg,
        created_at: now,
    };
    match store.add_client(&client).await {
        Ok(()) => Ok((client, secret)),
        Err(StoreError::AlreadyExists(_)) => Err(AddClientError::AlreadyExists(client.id)),
        Err(e) => Err(AddClientError::Store(e)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);

    fn new(public: bool) -> NewClient {
        NewClient {
            id: "app".into(),
            name: "An app".into(),
            public,
            grant_types: vec![],
            redirect_uris: vec![],
            allowed_scopes: Scope::default(),
            may_introspect: false,
            id_token_alg: KeyAlgorithm::Rs256,
        }
    }

    #[tokio::test]
    async fn defaults_depend_on_the_kind_and_only_confidential_clients_get_a_secret() {
        let store = SqliteStore::open_temporary().await.unwrap();
        let (public, none) = add_client(&store, new(true), NOW).await.unwrap();
        assert!(none.is_none() && public.is_public());
        assert_eq!(
            public.grant_types,
            [GrantType::DeviceCode, GrantType::RefreshToken]
        );
        let (bot, secret) = add_client(
            &store,
            NewClient {
                id: "bot".into(),
                ..new(false)
            },
            NOW,
        )
        .await
        .unwrap();
        let secret = secret.expect("a secret");
        assert_eq!(bot.secret_hash, Some(TokenHash::of(secret.expose())));
        assert_eq!(bot.grant_types, [GrantType::ClientCredentials]);
        assert_eq!(bot.origin, ClientOrigin::Admin);
        let stored = store.client("bot").await.unwrap().expect("stored");
        assert_eq!(stored.secret_hash, bot.secret_hash);
    }

    #[tokio::test]
    async fn rules_are_kept() {
        let store = SqliteStore::open_temporary().await.unwrap();
        let refused = [
            (
                NewClient {
                    grant_types: vec![GrantType::parse("password")],
                    ..new(false)
                },
                "unknown grant",
            ),
            (
                NewClient {
                    grant_types: vec![GrantType::ClientCredentials],
                    ..new(true)
                },
                "cannot use client_credentials",
            ),
            (
                NewClient {
                    may_introspect: true,
                    ..new(true)
                },
                "cannot introspect",
            ),
            (
                NewClient {
                    redirect_uris: vec!["/callback".into()],
                    ..new(true)
                },
                "is not a URL",
            ),
        ];
        for (client, why) in refused {
            let e = add_client(&store, client, NOW).await.unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
        assert!(store.list_clients().await.unwrap().is_empty());
        add_client(&store, new(true), NOW).await.unwrap();
        assert!(matches!(
            add_client(&store, new(false), NOW).await,
            Err(AddClientError::AlreadyExists(id)) if id == "app"
        ));
    }
}

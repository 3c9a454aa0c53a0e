//! The application state every handler reaches: storage, time, settings,
//! signing keys, the client cache and where audit rows go.
//!
//! Start-up order (what `devauth serve` does): open the [`Stores`], build an
//! [`AppState`] with [`AppState::new`], call [`AppState::init`] (migrations,
//! signing keys, the default `devauth-cli` client), spawn
//! [`crate::sweeper::spawn`], then serve [`crate::app::router`].
//!
//! This module knows nothing of routes or pages: they depend on it, never
//! the other way round.

use std::sync::Arc;

use crate::audit::{self, AuditSink};
use crate::client_cache::ClientCache;
use crate::clock::Clock;
use crate::config::Config;
use crate::keys::{KeyError, Keys};
use crate::store::{StoreError, Stores};

/// What every handler can reach: one [`Arc`] around [`Shared`], so the
/// clones axum makes on every request (the route's service, the `State`
/// extractor) cost one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The fields of an [`AppState`], reached through it by `Deref`.
#[derive(Clone)]
pub struct Shared {
    /// Storage.
    pub stores: Stores,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub config: Arc<Config>,
    /// Signing keys (loaded by [`AppState::init`], reloaded by the sweeper).
    pub keys: Keys,
    /// Recently read client records (see [`crate::client_cache`]).
    pub clients: ClientCache,
    /// The client ID metadata document fetcher, when they are accepted
    /// (`--registration open`).
    pub documents: Option<Arc<crate::metadata_document::Documents>>,
    /// Where audit rows go ([`AuditSink::Direct`] unless the server starts
    /// an [`crate::audit::AuditWriter`], see [`AppState::with_audit`]).
    pub audit: AuditSink,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Start-up failed.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys could not be made or loaded.
    #[error(transparent)]
    Keys(#[from] KeyError),
}

impl AppState {
    /// A state with no keys loaded yet; call [`AppState::init`] before serving.
    pub fn new(stores: Stores, clock: Arc<dyn Clock>, config: Config) -> Self {
        Self(Arc::new(Shared {
            stores,
            clock,
            keys: Keys::default(),
            clients: ClientCache::default(),
            documents: (config.registration == crate::config::RegistrationPolicy::Open).then(
                || {
                    Arc::new(crate::metadata_document::Documents::new(
                        config.allow_private_client_metadata,
                    ))
                },
            ),
            config: Arc::new(config),
            audit: AuditSink::Direct,
        }))
    }

    /// The client `id`: the one its metadata document describes when `id`
    /// is such a URL and the server accepts them, else the stored one
    /// (through the cache). A document that cannot be used is no client.
    pub async fn client(&self, id: &str) -> Result<Option<Arc<crate::model::Client>>, StoreError> {
        let durable = self.stores.durable.as_ref();
        let Some(docs) = self.documents.as_ref().filter(|d| d.handles(id)) else {
            return self.clients.get(durable, id).await;
        };
        if let Some(hit) = docs.cached(id) {
            return Ok(hit.ok());
        }
        let scopes: Vec<String> = durable
            .list_resources()
            .await?
            .iter()
            .flat_map(|r| r.scopes.iter().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        Ok(docs
            .client(durable, id, self.clock.now(), &scopes)
            .await?
            .ok())
    }

    /// Records an audit event (see [`crate::audit`]), stamped with the
    /// state's clock.
    pub async fn record_audit(&self, event: audit::Event<'_>) {
        self.audit
            .record(self.stores.durable.as_ref(), self.clock.now(), event)
            .await;
    }

    /// The same state with audit rows going to `audit` (keys and cached
    /// clients stay shared with `self`).
    #[must_use]
    pub fn with_audit(&self, audit: AuditSink) -> Self {
        Self(Arc::new(Shared {
            audit,
            ..Shared::clone(&self.0)
        }))
    }

    /// Migrates both stores, makes sure signing keys and the default client
    /// exist, and loads the keys.
    pub async fn init(&self) -> Result<(), InitError> {
        self.stores.durable.migrate().await?;
        self.stores.flow.migrate().await?;
        let now = self.clock.now();
        crate::setup::ensure_default_client(self.stores.durable.as_ref(), now).await?;
        let keys = Keys::ensure(
            self.stores.durable.as_ref(),
            now,
            self.config.max_token_ttl_secs(),
        )
        .await?;
        self.keys.replace_with(&keys);
        Ok(())
    }
}

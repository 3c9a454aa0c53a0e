//! A short-lived in-memory cache of client records, so the OAuth endpoints
//! do not read the `clients` table on every request.
//!
//! Only clients that exist are cached (an unknown id always asks the store,
//! so a client added by `devauth admin` in another process works at once),
//! and an entry is trusted for at most [`CLIENT_CACHE_TTL`]: a change made
//! to a client's record outside this process shows within that time. Clients
//! edited by `devauth admin client update` in another process are seen
//! within that bound.
//! The cache holds at most `MAX_ENTRIES` clients and starts over when full.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::model::Client;
use crate::store::{DurableStore, StoreResult};

/// How long a cached client record is used before it is read again.
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(5);

/// How many clients the cache holds at most.
const MAX_ENTRIES: usize = 1024;

/// A cached client record and when it was read.
type Entry = (Instant, Arc<Client>);

/// Client records by id, each with when it was read (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct ClientCache {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl ClientCache {
    /// The client `id`, from the cache when read less than
    /// [`CLIENT_CACHE_TTL`] ago, else from `store`. Shared, not copied: a
    /// client record is a handful of strings and lists, read on every
    /// request.
    pub async fn get(
        &self,
        store: &dyn DurableStore,
        id: &str,
    ) -> StoreResult<Option<Arc<Client>>> {
        self.get_at(store, id, Instant::now()).await
    }

    async fn get_at(
        &self,
        store: &dyn DurableStore,
        id: &str,
        now: Instant,
    ) -> StoreResult<Option<Arc<Client>>> {
        if let Some(client) = self.fresh(id, now) {
            return Ok(Some(client));
        }
        let client = store.client(id).await?.map(Arc::new);
        let mut entries = self.lock();
        match &client {
            Some(c) => {
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
                entries.insert(id.to_owned(), (now, Arc::clone(c)));
            }
            None => {
                entries.remove(id);
            }
        }
        Ok(client)
    }

    fn fresh(&self, id: &str, now: Instant) -> Option<Arc<Client>> {
        let entries = self.lock();
        let (read_at, client) = entries.get(id)?;
        (now.saturating_duration_since(*read_at) < CLIENT_CACHE_TTL).then(|| Arc::clone(client))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves a plain map behind; keep using it.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KeyAlgorithm, Timestamp};
    use crate::store::sqlite::SqliteStore;
    use devauth_proto::{GrantType, Scope};

    fn client(id: &str, name: &str) -> Client {
        Client {
            id: id.into(),
            name: name.into(),
            secret_hash: None,
            grant_types: vec![GrantType::DeviceCode],
            redirect_uris: vec![],
            allowed_scopes: Scope::parse("openid").unwrap(),
            may_introspect: false,
            origin: crate::model::ClientOrigin::Admin,
            client_uri: None,
            used_at: None,
            id_token_alg: KeyAlgorithm::Rs256,
            created_at: Timestamp::from_secs(1_700_000_000),
        }
    }

    /// A store whose one client can be renamed behind the cache's back.
    async fn store_with(c: &Client) -> SqliteStore {
        let s = SqliteStore::open_temporary().await.unwrap();
        s.add_client(c).await.unwrap();
        s
    }

    #[tokio::test]
    async fn entries_are_reused_until_the_ttl_then_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let s = SqliteStore::open(&path).await.unwrap();
        s.add_client(&client("c", "old")).await.unwrap();
        let cache = ClientCache::default();
        let t0 = Instant::now();
        assert_eq!(
            cache.get_at(&s, "c", t0).await.unwrap().unwrap().name,
            "old"
        );
        // Another process changes the record (clients have no update method).
        s.rename_client_for_test("c", "new").await;
        let soon = t0 + CLIENT_CACHE_TTL - Duration::from_millis(1);
        assert_eq!(
            cache.get_at(&s, "c", soon).await.unwrap().unwrap().name,
            "old"
        );
        let later = t0 + CLIENT_CACHE_TTL;
        assert_eq!(
            cache.get_at(&s, "c", later).await.unwrap().unwrap().name,
            "new"
        );
    }

    #[tokio::test]
    async fn unknown_clients_are_not_cached() {
        let s = store_with(&client("c", "n")).await;
        let cache = ClientCache::default();
        let t0 = Instant::now();
        assert!(cache.get_at(&s, "d", t0).await.unwrap().is_none());
        s.add_client(&client("d", "n")).await.unwrap();
        assert!(cache.get_at(&s, "d", t0).await.unwrap().is_some());
    }
}

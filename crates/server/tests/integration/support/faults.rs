//! Store faults for tests: [`FaultyDurable`] wraps a real durable store and
//! fails chosen calls with [`StoreError::Unavailable`], so a test can make a
//! write fail at an exact step of a handler and check that nothing is lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use devauth_server::model::{
    AuditEvent, Client, RefreshToken, Resource, SigningKeyRecord, Timestamp, TokenFamily,
    TokenHash, User,
};
use devauth_server::store::{DurableStore, StoreError, StoreResult};

/// A durable store that delegates to `inner` except for armed faults.
pub struct FaultyDurable {
    inner: Arc<dyn DurableStore>,
    armed: Mutex<HashMap<&'static str, u32>>,
}

impl FaultyDurable {
    pub fn new(inner: Arc<dyn DurableStore>) -> Self {
        Self {
            inner,
            armed: Mutex::new(HashMap::new()),
        }
    }

    /// The next `times` calls of `method` fail as if the database were down.
    pub fn fail(&self, method: &'static str, times: u32) {
        self.armed.lock().unwrap().insert(method, times);
    }

    /// Faults armed but not yet used, by method.
    pub fn pending(&self, method: &str) -> u32 {
        self.armed.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    fn fault(&self, method: &'static str) -> StoreResult<()> {
        let mut armed = self.armed.lock().unwrap();
        match armed.get_mut(method) {
            Some(n) if *n > 0 => {
                *n -= 1;
                Err(StoreError::Unavailable(format!(
                    "injected fault in {method}"
                )))
            }
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl DurableStore for FaultyDurable {
    async fn migrate(&self) -> StoreResult<()> {
        self.fault("migrate")?;
        self.inner.migrate().await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.fault("ping")?;
        self.inner.ping().await
    }
    async fn add_user(&self, user: &User) -> StoreResult<()> {
        self.fault("add_user")?;
        self.inner.add_user(user).await
    }
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        self.fault("user_by_name")?;
        self.inner.user_by_name(username).await
    }
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        self.fault("user_by_id")?;
        self.inner.user_by_id(id).await
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.fault("list_users")?;
        self.inner.list_users().await
    }
    async fn set_user_disabled(&self, username: &str, disabled: bool) -> StoreResult<bool> {
        self.fault("set_user_disabled")?;
        self.inner.set_user_disabled(username, disabled).await
    }
    async fn add_client(&self, client: &Client) -> StoreResult<()> {
        self.fault("add_client")?;
        self.inner.add_client(client).await
    }
    async fn set_user_password(&self, username: &str, hash: &str) -> StoreResult<bool> {
        self.fault("set_user_password")?;
        self.inner.set_user_password(username, hash).await
    }
    async fn delete_user(&self, username: &str) -> StoreResult<bool> {
        self.fault("delete_user")?;
        self.inner.delete_user(username).await
    }
    async fn delete_client(&self, id: &str) -> StoreResult<bool> {
        self.fault("delete_client")?;
        self.inner.delete_client(id).await
    }
    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        self.fault("update_client")?;
        self.inner.update_client(client).await
    }
    async fn mark_client_used(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        self.fault("mark_client_used")?;
        self.inner.mark_client_used(id, at).await
    }
    async fn delete_unused_registered_clients(&self, before: Timestamp) -> StoreResult<u64> {
        self.fault("delete_unused_registered_clients")?;
        self.inner.delete_unused_registered_clients(before).await
    }
    async fn add_registration_token(
        &self,
        hash: &TokenHash,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        self.fault("add_registration_token")?;
        self.inner
            .add_registration_token(hash, created_at, expires_at)
            .await
    }
    async fn registration_token_valid(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.fault("registration_token_valid")?;
        self.inner.registration_token_valid(hash, now).await
    }
    async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
        self.fault("client")?;
        self.inner.client(id).await
    }
    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        self.fault("list_clients")?;
        self.inner.list_clients().await
    }
    async fn delete_audit_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.fault("delete_audit_before")?;
        self.inner.delete_audit_before(before, limit).await
    }
    async fn add_resource(&self, resource: &Resource) -> StoreResult<()> {
        self.fault("add_resource")?;
        self.inner.add_resource(resource).await
    }
    async fn resource(&self, url: &str) -> StoreResult<Option<Resource>> {
        self.fault("resource")?;
        self.inner.resource(url).await
    }
    async fn list_resources(&self) -> StoreResult<Vec<Resource>> {
        self.fault("list_resources")?;
        self.inner.list_resources().await
    }
    async fn remove_resource(&self, url: &str) -> StoreResult<bool> {
        self.fault("remove_resource")?;
        self.inner.remove_resource(url).await
    }
    async fn add_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        self.fault("add_key")?;
        self.inner.add_key(key).await
    }
    async fn list_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        self.fault("list_keys")?;
        self.inner.list_keys().await
    }
    async fn retire_keys_except(&self, keep: &str, at: Timestamp) -> StoreResult<()> {
        self.fault("retire_keys_except")?;
        self.inner.retire_keys_except(keep, at).await
    }
    async fn delete_keys_retired_before(&self, before: Timestamp) -> StoreResult<u64> {
        self.fault("delete_keys_retired_before")?;
        self.inner.delete_keys_retired_before(before).await
    }
    async fn add_family(&self, family: &TokenFamily) -> StoreResult<()> {
        self.fault("add_family")?;
        self.inner.add_family(family).await
    }
    async fn family(&self, id: &str) -> StoreResult<Option<TokenFamily>> {
        self.fault("family")?;
        self.inner.family(id).await
    }
    async fn family_by_code(&self, code_hash: &TokenHash) -> StoreResult<Option<TokenFamily>> {
        self.fault("family_by_code")?;
        self.inner.family_by_code(code_hash).await
    }
    async fn revoke_family(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        self.fault("revoke_family")?;
        self.inner.revoke_family(id, at).await
    }
    async fn add_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        self.fault("add_refresh_token")?;
        self.inner.add_refresh_token(token).await
    }
    async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshToken>> {
        self.fault("refresh_token")?;
        self.inner.refresh_token(hash).await
    }
    async fn rotate_refresh_token(
        &self,
        old: &RefreshToken,
        old_version: i64,
        new: &RefreshToken,
    ) -> StoreResult<bool> {
        self.fault("rotate_refresh_token")?;
        self.inner.rotate_refresh_token(old, old_version, new).await
    }
    async fn latest_in_family(&self, family_id: &str) -> StoreResult<Option<RefreshToken>> {
        self.fault("latest_in_family")?;
        self.inner.latest_in_family(family_id).await
    }
    async fn revoke_access_token(&self, jti: &str, expires_at: Timestamp) -> StoreResult<()> {
        self.fault("revoke_access_token")?;
        self.inner.revoke_access_token(jti, expires_at).await
    }
    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        self.fault("is_access_token_revoked")?;
        self.inner.is_access_token_revoked(jti).await
    }
    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.fault("audit")?;
        self.inner.audit(event).await
    }
    async fn audit_batch(&self, events: &[AuditEvent]) -> StoreResult<()> {
        self.fault("audit_batch")?;
        self.inner.audit_batch(events).await
    }
    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        self.fault("recent_audit")?;
        self.inner.recent_audit(limit).await
    }
    async fn sweep(&self, now: Timestamp) -> StoreResult<u64> {
        self.fault("sweep")?;
        self.inner.sweep(now).await
    }
}

//! An in-memory store whose every call can be made to fail with
//! `StoreError::Unavailable`, to check that the pages answer 503 with a
//! readable page when storage is down. (The other page tests run on SQLite.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use devauth_server::model::{
    AuditEvent, AuthorizationCode, BrowserSession, Client, DeviceGrant, RefreshToken, Resource,
    SigningKeyRecord, Timestamp, TokenFamily, TokenHash, User,
};
use devauth_server::store::{DurableStore, FlowStore, StoreError, StoreResult};

#[derive(Default)]
struct Data {
    users: Vec<User>,
    clients: Vec<Client>,
    audit: Vec<AuditEvent>,
    keys: Vec<SigningKeyRecord>,
    grants: Vec<DeviceGrant>,
    codes: Vec<AuthorizationCode>,
    sessions: Vec<BrowserSession>,
    hits: HashMap<(String, i64), u64>,
}

/// The store. `down` makes every call fail.
#[derive(Default)]
pub struct Memory {
    data: Mutex<Data>,
    /// When set, every call returns `StoreError::Unavailable`.
    pub down: AtomicBool,
}

impl Memory {
    fn with<T>(&self, f: impl FnOnce(&mut Data) -> StoreResult<T>) -> StoreResult<T> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("test store is down".into()));
        }
        f(&mut self.data.lock().unwrap())
    }
}

fn unsupported<T>() -> StoreResult<T> {
    Err(StoreError::Other("not used by the page tests".into()))
}

#[async_trait]
impl DurableStore for Memory {
    async fn migrate(&self) -> StoreResult<()> {
        Ok(())
    }
    async fn ping(&self) -> StoreResult<()> {
        self.with(|_| Ok(()))
    }
    async fn add_user(&self, user: &User) -> StoreResult<()> {
        self.with(|d| {
            d.users.push(user.clone());
            Ok(())
        })
    }
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        self.with(|d| Ok(d.users.iter().find(|u| u.username == username).cloned()))
    }
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        self.with(|d| Ok(d.users.iter().find(|u| u.id == id).cloned()))
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.with(|d| Ok(d.users.clone()))
    }
    async fn set_user_password(&self, username: &str, hash: &str) -> StoreResult<bool> {
        self.with(|d| {
            Ok(d.users
                .iter_mut()
                .find(|u| u.username == username)
                .map(|u| u.password_hash = hash.to_owned())
                .is_some())
        })
    }
    async fn delete_user(&self, username: &str) -> StoreResult<bool> {
        self.with(|d| {
            let before = d.users.len();
            d.users.retain(|u| u.username != username);
            Ok(d.users.len() < before)
        })
    }
    async fn delete_client(&self, id: &str) -> StoreResult<bool> {
        self.with(|d| {
            let before = d.clients.len();
            d.clients.retain(|c| c.id != id);
            Ok(d.clients.len() < before)
        })
    }
    async fn set_user_disabled(&self, username: &str, disabled: bool) -> StoreResult<bool> {
        self.with(|d| {
            Ok(d.users
                .iter_mut()
                .find(|u| u.username == username)
                .map(|u| u.disabled = disabled)
                .is_some())
        })
    }
    async fn add_client(&self, client: &Client) -> StoreResult<()> {
        self.with(|d| {
            if d.clients.iter().any(|c| c.id == client.id) {
                return Err(StoreError::AlreadyExists("client".into()));
            }
            d.clients.push(client.clone());
            Ok(())
        })
    }
    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        self.with(|d| {
            Ok(match d.clients.iter_mut().find(|c| c.id == client.id) {
                Some(stored) => {
                    *stored = Client {
                        secret_hash: stored.secret_hash.clone(),
                        created_at: stored.created_at,
                        ..client.clone()
                    };
                    true
                }
                None => false,
            })
        })
    }
    async fn mark_client_used(&self, _id: &str, _at: Timestamp) -> StoreResult<bool> {
        Ok(false)
    }
    async fn delete_unused_registered_clients(&self, _before: Timestamp) -> StoreResult<u64> {
        Ok(0)
    }
    async fn add_registration_token(
        &self,
        _hash: &TokenHash,
        _created_at: Timestamp,
        _expires_at: Timestamp,
    ) -> StoreResult<()> {
        unsupported()
    }
    async fn registration_token_valid(
        &self,
        _hash: &TokenHash,
        _now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(false)
    }
    async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
        self.with(|d| Ok(d.clients.iter().find(|c| c.id == id).cloned()))
    }
    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        self.with(|d| Ok(d.clients.clone()))
    }
    async fn delete_audit_before(&self, _before: Timestamp, _limit: u32) -> StoreResult<u64> {
        Ok(0)
    }
    async fn add_resource(&self, _resource: &Resource) -> StoreResult<()> {
        unsupported()
    }
    async fn resource(&self, _url: &str) -> StoreResult<Option<Resource>> {
        Ok(None)
    }
    async fn list_resources(&self) -> StoreResult<Vec<Resource>> {
        Ok(Vec::new())
    }
    async fn remove_resource(&self, _url: &str) -> StoreResult<bool> {
        Ok(false)
    }
    async fn add_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        self.with(|d| {
            d.keys.insert(0, key.clone());
            Ok(())
        })
    }
    async fn list_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        self.with(|d| Ok(d.keys.clone()))
    }
    async fn retire_keys_except(&self, keep: &str, at: Timestamp) -> StoreResult<()> {
        self.with(|d| {
            for k in d
                .keys
                .iter_mut()
                .filter(|k| k.kid != keep && k.retired_at.is_none())
            {
                k.retired_at = Some(at);
            }
            Ok(())
        })
    }
    async fn delete_keys_retired_before(&self, before: Timestamp) -> StoreResult<u64> {
        self.with(|d| {
            let n = d.keys.len();
            d.keys
                .retain(|k| k.retired_at.is_none_or(|at| at >= before));
            Ok((n - d.keys.len()) as u64)
        })
    }
    async fn add_family(&self, _family: &TokenFamily) -> StoreResult<()> {
        unsupported()
    }
    async fn family(&self, _id: &str) -> StoreResult<Option<TokenFamily>> {
        unsupported()
    }
    async fn family_by_code(&self, _code_hash: &TokenHash) -> StoreResult<Option<TokenFamily>> {
        unsupported()
    }
    async fn revoke_family(&self, _id: &str, _at: Timestamp) -> StoreResult<bool> {
        unsupported()
    }
    async fn add_refresh_token(&self, _token: &RefreshToken) -> StoreResult<()> {
        unsupported()
    }
    async fn refresh_token(&self, _hash: &TokenHash) -> StoreResult<Option<RefreshToken>> {
        unsupported()
    }
    async fn rotate_refresh_token(
        &self,
        _old: &RefreshToken,
        _old_version: i64,
        _new: &RefreshToken,
    ) -> StoreResult<bool> {
        unsupported()
    }
    async fn latest_in_family(&self, _family_id: &str) -> StoreResult<Option<RefreshToken>> {
        unsupported()
    }
    async fn revoke_access_token(&self, _jti: &str, _expires_at: Timestamp) -> StoreResult<()> {
        unsupported()
    }
    async fn is_access_token_revoked(&self, _jti: &str) -> StoreResult<bool> {
        unsupported()
    }
    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.with(|d| {
            d.audit.push(event.clone());
            Ok(())
        })
    }
    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        self.with(|d| Ok(d.audit.iter().rev().take(limit as usize).cloned().collect()))
    }
    async fn sweep(&self, _now: Timestamp) -> StoreResult<u64> {
        Ok(0)
    }
}

#[async_trait]
impl FlowStore for Memory {
    async fn migrate(&self) -> StoreResult<()> {
        Ok(())
    }
    async fn ping(&self) -> StoreResult<()> {
        self.with(|_| Ok(()))
    }
    async fn add_device_grant(&self, grant: &DeviceGrant) -> StoreResult<()> {
        self.with(|d| {
            if d.grants.iter().any(|g| g.user_code == grant.user_code) {
                return Err(StoreError::AlreadyExists("user code".into()));
            }
            d.grants.push(grant.clone());
            Ok(())
        })
    }
    async fn device_grant_by_code(&self, hash: &TokenHash) -> StoreResult<Option<DeviceGrant>> {
        self.with(|d| {
            Ok(d.grants
                .iter()
                .find(|g| &g.device_code_hash == hash)
                .cloned())
        })
    }
    async fn device_grant_by_user_code(&self, user_code: &str) -> StoreResult<Option<DeviceGrant>> {
        self.with(|d| Ok(d.grants.iter().find(|g| g.user_code == user_code).cloned()))
    }
    async fn update_device_grant(
        &self,
        grant: &DeviceGrant,
        expected_version: i64,
    ) -> StoreResult<bool> {
        self.with(|d| {
            let Some(stored) = d
                .grants
                .iter_mut()
                .find(|g| g.id == grant.id && g.version == expected_version)
            else {
                return Ok(false);
            };
            *stored = DeviceGrant {
                version: expected_version + 1,
                ..grant.clone()
            };
            Ok(true)
        })
    }
    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        self.with(|d| {
            d.codes.push(code.clone());
            Ok(())
        })
    }
    async fn take_authorization_code(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<AuthorizationCode>> {
        self.with(|d| {
            let i = d.codes.iter().position(|c| &c.code_hash == hash);
            Ok(i.map(|i| d.codes.remove(i)))
        })
    }
    async fn add_session(&self, session: &BrowserSession) -> StoreResult<()> {
        self.with(|d| {
            d.sessions.push(session.clone());
            Ok(())
        })
    }
    async fn session(&self, id_hash: &TokenHash) -> StoreResult<Option<BrowserSession>> {
        self.with(|d| Ok(d.sessions.iter().find(|s| &s.id_hash == id_hash).cloned()))
    }
    async fn update_session(
        &self,
        session: &BrowserSession,
        expected_version: i64,
    ) -> StoreResult<bool> {
        self.with(|d| {
            let Some(stored) = d
                .sessions
                .iter_mut()
                .find(|s| s.id_hash == session.id_hash && s.version == expected_version)
            else {
                return Ok(false);
            };
            *stored = BrowserSession {
                version: expected_version + 1,
                ..session.clone()
            };
            Ok(true)
        })
    }
    async fn delete_session(&self, id_hash: &TokenHash) -> StoreResult<()> {
        self.with(|d| {
            d.sessions.retain(|s| &s.id_hash != id_hash);
            Ok(())
        })
    }
    async fn hit(&self, key: &str, window_secs: u32, now: Timestamp) -> StoreResult<u64> {
        self.with(|d| {
            let window = now.secs().div_euclid(i64::from(window_secs));
            let n = d.hits.entry((key.to_owned(), window)).or_default();
            *n += 1;
            Ok(*n)
        })
    }
    async fn hits(&self, key: &str, window_secs: u32, now: Timestamp) -> StoreResult<u64> {
        self.with(|d| {
            let window = now.secs().div_euclid(i64::from(window_secs));
            Ok(d.hits.get(&(key.to_owned(), window)).copied().unwrap_or(0))
        })
    }
    async fn sweep(&self, _now: Timestamp) -> StoreResult<Vec<DeviceGrant>> {
        Ok(Vec::new())
    }
}

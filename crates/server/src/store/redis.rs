//! Redis backend for the [`FlowStore`]: short-lived device-flow state shared
//! by several replicas, with TTLs instead of a sweeper.
//!
//! # Keys (all under a configurable prefix, `devauth:` by default)
//! * `g:<device-code hash>` — a device grant, compact JSON (short field names);
//!   TTL = its lifetime + [`super::EXPIRED_GRANT_RETENTION_MS`], so a late poll still finds
//!   the grant and answers `expired_token` (the model's `is_expired` decides).
//! * `u:<user code>` — the device-code hash of the grant holding that user code, same TTL.
//! * `expiring` — a sorted set of device-code hashes by `expires_at`, which
//!   [`FlowStore::sweep`] drains to report grants that expired while pending
//!   (each one to exactly one replica) and, once the grace is over, to delete
//!   them as the SQL backends do (so a mock clock sees the same behaviour);
//!   its own TTL keeps it from outliving the grants.
//! * `c:<code hash>` — an authorization code, TTL = its lifetime, taken with `GETDEL`.
//! * `s:<session hash>` — a browser session, TTL = its lifetime.
//! * `r:<key>:<window start>` — a rate-limit counter, TTL = rest of its window.
//!
//! # Atomicity
//! Every change that depends on stored state runs as one Lua script (never
//! read-then-write): creation checks user-code collisions, updates compare the
//! stored `version` and keep the TTL, `hit` is `INCR` + `PEXPIRE`, the sweep
//! pops from the sorted set. Scripts touch keys they derive from the prefix,
//! so this backend expects a single Redis (or a primary with replicas), not Redis Cluster.
//!
//! # Failures
//! Connections come from a [`ConnectionManager`] that reconnects by itself;
//! each call is bounded by [`CALL_TIMEOUT`] and connection attempts by
//! [`CONNECT_TIMEOUT`]. Lost connections, timeouts and `LOADING`/`BUSY`-style
//! server states are [`StoreError::Unavailable`]. Nothing here logs key names
//! or values (they are hashes anyway, but the rule is simple).

use std::future::Future;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncCommands, RedisError, RetryMethod, Script};
use async_trait::async_trait;
use devauth_proto::Scope;
use serde::{Deserialize, Serialize};

use super::{FlowStore, StoreError, StoreResult};
use crate::model::{
    AuthorizationCode, BrowserSession, DeviceGrant, DeviceGrantState, Requester, Timestamp,
    TokenHash,
};

/// Bound on one store call, reconnection included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// Bound on one connection attempt.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "devauth:";
/// Grants popped per sweep script run.
const SWEEP_BATCH: usize = 500;
/// Most sweep script runs per [`FlowStore::sweep`] call.
const SWEEP_MAX_BATCHES: usize = 100;

/// `KEYS`: grant, user-code index, expiry set. `ARGV`: record, ttl ms, device-code
/// hash, now (created_at), expires_at, grant key prefix, retention ms.
/// Returns 1 when stored, 0 when the user code belongs to a retained grant
/// (live, or expired within the retention), -1 on a duplicate device code.
const ADD_GRANT: &str = r"
local held = redis.call('GET', KEYS[2])
if held then
  local old = redis.call('GET', ARGV[6] .. held)
  if old and cjson.decode(old).ea + tonumber(ARGV[7]) > tonumber(ARGV[4]) then return 0 end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3])
local setttl = redis.call('PTTL', KEYS[3])
if setttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
return 1
";

/// `KEYS`: the record. `ARGV`: expected version, new record, new expires_at.
/// Compare-and-swap on the record's `v`; the TTL moves with `expires_at`.
const CAS: &str = r"
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local d = cjson.decode(cur)
if d.v ~= tonumber(ARGV[1]) then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
if ttl > 0 then
  local nt = ttl + (tonumber(ARGV[3]) - d.ea)
  if nt < 1 then nt = 1 end
  redis.call('PEXPIRE', KEYS[1], nt)
end
return 1
";

/// `KEYS`: the counter. `ARGV`: ttl ms. Returns the count including this hit.
const HIT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
";

/// `KEYS`: expiry set. `ARGV`: now, batch size, grant key prefix, user-code
/// key prefix, grace ms. Pops members due by `now`. A plain member is a grant
/// reaching `expires_at`: it is returned (for the expiry report) and queued
/// again as `x:<hash>` for `expires_at` + grace; an `x:` member is a grant
/// past its grace: it is deleted with its user-code index (as the SQL sweep
/// does; the TTLs would do it too, in real time). Returns how many members
/// were popped, and hash, record, hash, record… for the reported grants.
const SWEEP: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  if string.sub(id, 1, 2) == 'x:' then
    local h = string.sub(id, 3)
    local v = redis.call('GET', ARGV[3] .. h)
    if v then
      redis.call('DEL', ARGV[3] .. h)
      local ukey = ARGV[4] .. cjson.decode(v).uc
      if redis.call('GET', ukey) == h then redis.call('DEL', ukey) end
    end
  else
    local v = redis.call('GET', ARGV[3] .. id)
    if v then
      table.insert(out, id)
      table.insert(out, v)
      redis.call('ZADD', KEYS[1], cjson.decode(v).ea + tonumber(ARGV[5]), 'x:' .. id)
    end
  end
end
return {#ids, out}
";

/// The flow store on Redis.
#[derive(Clone)]
pub struct RedisFlowStore {
    conn: ConnectionManager,
    prefix: String,
    add_grant: Script,
    cas: Script,
    hit: Script,
    sweep: Script,
}

impl std::fmt::Debug for RedisFlowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisFlowStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisFlowStore {
    /// A store for a `redis://` URL with the default prefix. Connects lazily:
    /// an unreachable server shows as [`StoreError::Unavailable`] on the first
    /// call (e.g. `ping`), and calls succeed again once it is back.
    pub fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with_prefix(url, DEFAULT_PREFIX)
    }

    /// Same, with every key under `prefix` (tests use a random one).
    pub fn connect_with_prefix(url: &str, prefix: &str) -> StoreResult<Self> {
        let client = ::redis::Client::open(url)
            .map_err(|e| StoreError::Other(format!("bad Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = client
            .get_connection_manager_lazy(config)
            .map_err(map_err)?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            add_grant: Script::new(ADD_GRANT),
            cas: Script::new(CAS),
            hit: Script::new(HIT),
            sweep: Script::new(SWEEP),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Deletes every key under this store's prefix (tests clean up with it).
    pub async fn delete_all(&self) -> StoreResult<u64> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}*", self.prefix);
        timed(async move {
            let mut deleted = 0u64;
            let mut cursor: u64 = 0;
            // Bounded: SCAN visits each key at most a few times.
            for _ in 0..100_000 {
                let (next, keys): (u64, Vec<String>) = ::redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut conn)
                    .await
                    .map_err(map_err)?;
                if !keys.is_empty() {
                    let n: u64 = conn.del(&keys).await.map_err(map_err)?;
                    deleted += n;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            Ok(deleted)
        })
        .await
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    fn grant_prefix(&self) -> String {
        format!("{}g:", self.prefix)
    }

    fn expiry_key(&self) -> String {
        format!("{}expiring", self.prefix)
    }
}

/// Runs one call under [`CALL_TIMEOUT`].
async fn timed<T>(fut: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    tokio::time::timeout(CALL_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| Err(StoreError::Unavailable("Redis call timed out".into())))
}

fn map_err(e: RedisError) -> StoreError {
    let transient = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || matches!(
            e.retry_method(),
            RetryMethod::WaitAndRetry | RetryMethod::RetryImmediately
        );
    if transient {
        StoreError::Unavailable(format!("Redis: {}", e.category()))
    } else {
        StoreError::Other(format!("Redis: {e}"))
    }
}

fn decode_err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Inconsistent(format!("stored {what}: {e}"))
}

/// A lifetime in ms, at least 1 (Redis refuses `PX 0`).
fn ttl_ms(from: Timestamp, to: Timestamp) -> i64 {
    to.millis_since(from).max(1)
}

/// Device grant as stored: short names keep a pending grant well under 1 KiB,
/// and the device-code hash is not repeated (it is in the key).
/// `v` and `ea` are read by the Lua scripts.
#[derive(Serialize, Deserialize)]
struct GrantRecord {
    v: i64,
    ea: i64,
    id: String,
    uc: String,
    ci: String,
    sc: String,
    /// The resource (RFC 8707), when one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rs: Option<String>,
    ip: String,
    ua: String,
    ca: i64,
    iv: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lp: Option<i64>,
    #[serde(default, skip_serializing_if = "is_zero")]
    fc: u32,
    /// 0 pending, 1 approved, 2 denied, 3 exchanged.
    st: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    su: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sa: Option<i64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl GrantRecord {
    fn from_grant(g: &DeviceGrant, version: i64) -> Self {
        let (st, su, sa) = match &g.state {
            DeviceGrantState::Pending => (0, None, None),
            DeviceGrantState::Approved {
                user_id,
                approved_at,
            } => (1, Some(user_id.clone()), Some(approved_at.millis())),
            DeviceGrantState::Denied { denied_at } => (2, None, Some(denied_at.millis())),
            DeviceGrantState::Exchanged { exchanged_at } => (3, None, Some(exchanged_at.millis())),
        };
        Self {
            v: version,
            ea: g.expires_at.millis(),
            id: g.id.clone(),
            uc: g.user_code.clone(),
            ci: g.client_id.clone(),
            sc: g.scope.to_string(),
            rs: g.resource.clone(),
            ip: g.requester.ip.clone(),
            ua: g.requester.user_agent.clone(),
            ca: g.created_at.millis(),
            iv: g.interval_secs,
            lp: g.last_polled_at.map(Timestamp::millis),
            fc: g.failed_confirmations,
            st,
            su,
            sa,
        }
    }

    fn into_grant(self, device_code_hash: TokenHash) -> StoreResult<DeviceGrant> {
        let state = match (self.st, self.su, self.sa) {
            (0, None, None) => DeviceGrantState::Pending,
            (1, Some(user_id), Some(at)) => DeviceGrantState::Approved {
                user_id,
                approved_at: Timestamp::from_millis(at),
            },
            (2, None, Some(at)) => DeviceGrantState::Denied {
                denied_at: Timestamp::from_millis(at),
            },
            (3, None, Some(at)) => DeviceGrantState::Exchanged {
                exchanged_at: Timestamp::from_millis(at),
            },
            (st, ..) => {
                return Err(StoreError::Inconsistent(format!(
                    "device grant in impossible state {st}"
                )));
            }
        };
        Ok(DeviceGrant {
            id: self.id,
            device_code_hash,
            user_code: self.uc,
            client_id: self.ci,
            scope: Scope::parse(&self.sc).map_err(|e| decode_err("grant scope", e))?,
            resource: self.rs,
            requester: Requester {
                ip: self.ip,
                user_agent: self.ua,
            },
            created_at: Timestamp::from_millis(self.ca),
            expires_at: Timestamp::from_millis(self.ea),
            interval_secs: self.iv,
            last_polled_at: self.lp.map(Timestamp::from_millis),
            failed_confirmations: self.fc,
            state,
            version: self.v,
        })
    }
}

fn encode<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Other(format!("encoding: {e}")))
}

fn decode_grant(raw: &str, device_code_hash: TokenHash) -> StoreResult<DeviceGrant> {
    serde_json::from_str::<GrantRecord>(raw)
        .map_err(|e| decode_err("device grant", e))?
        .into_grant(device_code_hash)
}

/// Authorization code as stored.
#[derive(Serialize, Deserialize)]
struct CodeRecord {
    h: String,
    ci: String,
    ui: String,
    ru: String,
    sc: String,
    cc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    /// The resource (RFC 8707), when one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rs: Option<String>,
    at: i64,
    ca: i64,
    ea: i64,
}

impl CodeRecord {
    fn from_code(c: &AuthorizationCode) -> Self {
        Self {
            h: c.code_hash.as_str().to_owned(),
            ci: c.client_id.clone(),
            ui: c.user_id.clone(),
            ru: c.redirect_uri.clone(),
            sc: c.scope.to_string(),
            cc: c.code_challenge.clone(),
            n: c.nonce.clone(),
            rs: c.resource.clone(),
            at: c.auth_time.millis(),
            ca: c.created_at.millis(),
            ea: c.expires_at.millis(),
        }
    }

    fn into_code(self) -> StoreResult<AuthorizationCode> {
        Ok(AuthorizationCode {
            code_hash: TokenHash::from_stored(self.h),
            client_id: self.ci,
            user_id: self.ui,
            redirect_uri: self.ru,
            scope: Scope::parse(&self.sc).map_err(|e| decode_err("code scope", e))?,
            code_challenge: self.cc,
            nonce: self.n,
            resource: self.rs,
            auth_time: Timestamp::from_millis(self.at),
            created_at: Timestamp::from_millis(self.ca),
            expires_at: Timestamp::from_millis(self.ea),
        })
    }
}

/// Browser session as stored. `v` and `ea` are read by the CAS script.
#[derive(Serialize, Deserialize)]
struct SessionRecord {
    v: i64,
    ea: i64,
    h: String,
    cs: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ui: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aa: Option<i64>,
    ca: i64,
}

impl SessionRecord {
    fn from_session(s: &BrowserSession, version: i64) -> Self {
        Self {
            v: version,
            ea: s.expires_at.millis(),
            h: s.id_hash.as_str().to_owned(),
            cs: s.csrf_token.clone(),
            ui: s.user_id.clone(),
            aa: s.authenticated_at.map(Timestamp::millis),
            ca: s.created_at.millis(),
        }
    }

    fn into_session(self) -> BrowserSession {
        BrowserSession {
            id_hash: TokenHash::from_stored(self.h),
            csrf_token: self.cs,
            user_id: self.ui,
            authenticated_at: self.aa.map(Timestamp::from_millis),
            created_at: Timestamp::from_millis(self.ca),
            expires_at: Timestamp::from_millis(self.ea),
            version: self.v,
        }
    }
}

#[async_trait]
impl FlowStore for RedisFlowStore {
    async fn migrate(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        timed(async move {
            let _: String = ::redis::cmd("PING")
                .query_async(&mut conn)
                .await
                .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn add_device_grant(&self, grant: &DeviceGrant) -> StoreResult<()> {
        let record = encode(&GrantRecord::from_grant(grant, grant.version))?;
        let ttl = ttl_ms(grant.created_at, grant.expires_at) + super::EXPIRED_GRANT_RETENTION_MS;
        let mut conn = self.conn.clone();
        let outcome: i64 = timed(async {
            self.add_grant
                .key(self.key("g", grant.device_code_hash.as_str()))
                .key(self.key("u", &grant.user_code))
                .key(self.expiry_key())
                .arg(record)
                .arg(ttl)
                .arg(grant.device_code_hash.as_str())
                .arg(grant.created_at.millis())
                .arg(grant.expires_at.millis())
                .arg(self.grant_prefix())
                .arg(super::EXPIRED_GRANT_RETENTION_MS)
                .invoke_async(&mut conn)
                .await
                .map_err(map_err)
        })
        .await?;
        match outcome {
            1 => Ok(()),
            0 => Err(StoreError::AlreadyExists("user code".into())),
            _ => Err(StoreError::AlreadyExists("device code".into())),
        }
    }

    async fn device_grant_by_code(&self, hash: &TokenHash) -> StoreResult<Option<DeviceGrant>> {
        let mut conn = self.conn.clone();
        let key = self.key("g", hash.as_str());
        let raw: Option<String> =
            timed(async move { conn.get(key).await.map_err(map_err) }).await?;
        raw.map(|r| decode_grant(&r, hash.clone())).transpose()
    }

    async fn device_grant_by_user_code(&self, user_code: &str) -> StoreResult<Option<DeviceGrant>> {
        let mut conn = self.conn.clone();
        let index = self.key("u", user_code);
        let grant_prefix = self.grant_prefix();
        let found: Option<(String, String)> = timed(async move {
            let Some(hash): Option<String> = conn.get(index).await.map_err(map_err)? else {
                return Ok(None);
            };
            let raw: Option<String> = conn
                .get(format!("{grant_prefix}{hash}"))
                .await
                .map_err(map_err)?;
            Ok(raw.map(|r| (hash, r)))
        })
        .await?;
        let grant = found
            .map(|(hash, raw)| decode_grant(&raw, TokenHash::from_stored(hash)))
            .transpose()?;
        // The index may outlive a replaced grant for an instant; trust only a match.
        Ok(grant.filter(|g| g.user_code == user_code))
    }

    async fn update_device_grant(
        &self,
        grant: &DeviceGrant,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let record = encode(&GrantRecord::from_grant(grant, expected_version + 1))?;
        let mut conn = self.conn.clone();
        let done: i64 = timed(async {
            self.cas
                .key(self.key("g", grant.device_code_hash.as_str()))
                .arg(expected_version)
                .arg(record)
                .arg(grant.expires_at.millis())
                .invoke_async(&mut conn)
                .await
                .map_err(map_err)
        })
        .await?;
        Ok(done == 1)
    }

    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        let record = encode(&CodeRecord::from_code(code))?;
        let ttl = ttl_ms(code.created_at, code.expires_at);
        let key = self.key("c", code.code_hash.as_str());
        let mut conn = self.conn.clone();
        let stored: Option<String> = timed(async move {
            ::redis::cmd("SET")
                .arg(key)
                .arg(record)
                .arg("NX")
                .arg("PX")
                .arg(ttl)
                .query_async(&mut conn)
                .await
                .map_err(map_err)
        })
        .await?;
        match stored {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists("authorization code".into())),
        }
    }

    async fn take_authorization_code(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<AuthorizationCode>> {
        let key = self.key("c", hash.as_str());
        let mut conn = self.conn.clone();
        let raw: Option<String> =
            timed(async move { conn.get_del(key).await.map_err(map_err) }).await?;
        raw.map(|r| {
            serde_json::from_str::<CodeRecord>(&r)
                .map_err(|e| decode_err("authorization code", e))?
                .into_code()
        })
        .transpose()
    }

    async fn add_session(&self, session: &BrowserSession) -> StoreResult<()> {
        let record = encode(&SessionRecord::from_session(session, session.version))?;
        let ttl = ttl_ms(session.created_at, session.expires_at);
        let key = self.key("s", session.id_hash.as_str());
        let mut conn = self.conn.clone();
        let stored: Option<String> = timed(async move {
            ::redis::cmd("SET")
                .arg(key)
                .arg(record)
                .arg("NX")
                .arg("PX")
                .arg(ttl)
                .query_async(&mut conn)
                .await
                .map_err(map_err)
        })
        .await?;
        match stored {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists("session".into())),
        }
    }

    async fn session(&self, id_hash: &TokenHash) -> StoreResult<Option<BrowserSession>> {
        let key = self.key("s", id_hash.as_str());
        let mut conn = self.conn.clone();
        let raw: Option<String> =
            timed(async move { conn.get(key).await.map_err(map_err) }).await?;
        raw.map(|r| {
            serde_json::from_str::<SessionRecord>(&r)
                .map(SessionRecord::into_session)
                .map_err(|e| decode_err("session", e))
        })
        .transpose()
    }

    async fn update_session(
        &self,
        session: &BrowserSession,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let record = encode(&SessionRecord::from_session(session, expected_version + 1))?;
        let mut conn = self.conn.clone();
        let done: i64 = timed(async {
            self.cas
                .key(self.key("s", session.id_hash.as_str()))
                .arg(expected_version)
                .arg(record)
                .arg(session.expires_at.millis())
                .invoke_async(&mut conn)
                .await
                .map_err(map_err)
        })
        .await?;
        Ok(done == 1)
    }

    async fn delete_session(&self, id_hash: &TokenHash) -> StoreResult<()> {
        let key = self.key("s", id_hash.as_str());
        let mut conn = self.conn.clone();
        timed(async move {
            let _: u64 = conn.del(key).await.map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn hit(&self, key: &str, window_secs: u32, now: Timestamp) -> StoreResult<u64> {
        let window_ms = i64::from(window_secs.max(1)) * 1000;
        let start = now.millis().div_euclid(window_ms) * window_ms;
        // The rest of the window and one more (the next window reads this
        // one: sliding limits), plus a second so clocks a little apart agree.
        let ttl = start + 2 * window_ms - now.millis() + 1000;
        let counter = self.key("r", &format!("{key}:{start}"));
        let mut conn = self.conn.clone();
        timed(async {
            self.hit
                .key(counter)
                .arg(ttl)
                .invoke_async(&mut conn)
                .await
                .map_err(map_err)
        })
        .await
    }

    async fn hits(&self, key: &str, window_secs: u32, now: Timestamp) -> StoreResult<u64> {
        let window_ms = i64::from(window_secs.max(1)) * 1000;
        let start = now.millis().div_euclid(window_ms) * window_ms;
        let counter = self.key("r", &format!("{key}:{start}"));
        let mut conn = self.conn.clone();
        let count: Option<u64> =
            timed(async move { conn.get(counter).await.map_err(map_err) }).await?;
        Ok(count.unwrap_or(0))
    }

    async fn sweep(&self, now: Timestamp) -> StoreResult<Vec<DeviceGrant>> {
        let mut expired = Vec::new();
        for _ in 0..SWEEP_MAX_BATCHES {
            let mut conn = self.conn.clone();
            let (popped, raws): (usize, Vec<String>) = timed(async {
                self.sweep
                    .key(self.expiry_key())
                    .arg(now.millis())
                    .arg(SWEEP_BATCH)
                    .arg(self.grant_prefix())
                    .arg(self.key("u", ""))
                    .arg(super::EXPIRED_GRANT_RETENTION_MS)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(map_err)
            })
            .await?;
            for pair in raws.chunks_exact(2) {
                let grant = decode_grant(&pair[1], TokenHash::from_stored(pair[0].clone()))?;
                if grant.state == DeviceGrantState::Pending && grant.is_expired(now) {
                    expired.push(grant);
                }
            }
            if popped < SWEEP_BATCH {
                break;
            }
        }
        Ok(expired)
    }
}

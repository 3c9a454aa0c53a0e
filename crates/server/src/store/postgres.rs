//! PostgreSQL backend: both [`DurableStore`] and [`FlowStore`] on one sqlx pool,
//! for servers that run as several replicas.
//!
//! * Schema: versioned SQL files under `crates/server/migrations/postgres`,
//!   embedded in the binary and applied by [`PgStore::migrate`] (called on
//!   start and by `devauth admin migrate`). sqlx's migrator holds
//!   `pg_advisory_lock` while it works, so replicas starting together apply
//!   each migration once; the others wait and then find nothing to do.
//! * Concurrency: versioned rows are updated with `WHERE … AND version = $n`
//!   and zero affected rows is a lost race (`Ok(false)`); authorization codes
//!   are consumed with `DELETE … RETURNING`; rate-limit counters with one
//!   `INSERT … ON CONFLICT DO UPDATE … RETURNING`. Nothing reads then writes.
//! * Failures: the pool waits at most [`ACQUIRE_TIMEOUT`] for a connection and
//!   every call at most [`CALL_TIMEOUT`]; unreachable servers, dropped
//!   connections and those timeouts become [`StoreError::Unavailable`], unique
//!   violations [`StoreError::AlreadyExists`]. The pool reconnects by itself
//!   (each connection is tested before use), so a restarted PostgreSQL is
//!   picked up without a restart of the server.
//! * Expired device grants stay readable for [`super::EXPIRED_GRANT_RETENTION_MS`] after
//!   `expires_at` so a late poll still gets `expired_token`, not `invalid_grant`;
//!   [`FlowStore::sweep`] reports each grant that expired while pending once.
//!
//! Times are stored as milliseconds since the epoch (`BIGINT`), as in the model.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use devauth_proto::{GrantType, Scope};
use sqlx::Row;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};

use super::columns::{
    grant_state_columns, grant_state_from, refresh_state_columns, refresh_state_from,
};
use super::{DurableStore, FlowStore, StoreError, StoreResult};
use crate::model::{
    AuditEvent, AuthorizationCode, BrowserSession, Client, ClientOrigin, DeviceGrant, KeyAlgorithm,
    RefreshToken, Requester, Resource, SigningKeyRecord, Timestamp, TokenFamily, TokenHash, User,
};

/// How long a call waits for a pooled connection before answering `Unavailable`.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// Upper bound on any one store call (a hung server must not hang requests).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Default pool size per replica.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// The migrations under `migrations/postgres`, embedded at compile time. Add a
/// new numbered file for every change; never edit an applied one (its checksum
/// is checked on start).
static EMBEDDED: Migrator = sqlx::migrate!("./migrations/postgres");

/// Name of the table recording applied migrations.
const MIGRATIONS_TABLE: &str = "devauth_migrations";

/// Both stores on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// A store for a `postgres://` URL. Connects lazily: an unreachable server
    /// shows as [`StoreError::Unavailable`] on the first call (e.g. `migrate`).
    pub fn connect(url: &str) -> StoreResult<Self> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| StoreError::Other(format!("bad database URL: {e}")))?;
        Ok(Self::connect_with(options, DEFAULT_MAX_CONNECTIONS))
    }

    /// A store from parsed options (tests set `search_path` to a private schema here).
    pub fn connect_with(options: PgConnectOptions, max_connections: u32) -> Self {
        let options = options.application_name("devauth");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(true)
            .connect_lazy_with(options);
        Self { pool }
    }

    /// The underlying pool (for tests and `admin` tooling).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn migrator() -> Migrator {
        let mut migrator = Migrator::with_migrations(EMBEDDED.iter().cloned().collect());
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator.set_locking(true);
        // During a rolling upgrade an older replica must still start on a schema
        // that newer replicas already migrated (migrations only add things).
        migrator.set_ignore_missing(true);
        migrator
    }

    async fn run_migrations(&self) -> StoreResult<()> {
        timed(async {
            Self::migrator().run(&self.pool).await.map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e) => map_err(e),
                other => StoreError::Other(format!("migration failed: {other}")),
            })
        })
        .await
    }

    async fn ping_db(&self) -> StoreResult<()> {
        timed(async {
            sqlx::query("SELECT 1")
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(map_err)
        })
        .await
    }
}

/// Runs one store call under [`CALL_TIMEOUT`].
async fn timed<T>(fut: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    tokio::time::timeout(CALL_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| Err(StoreError::Unavailable("PostgreSQL call timed out".into())))
}

/// Maps a driver error to the store's vocabulary. Messages name the failure,
/// never a bound value.
fn map_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable("no PostgreSQL connection available".into())
        }
        sqlx::Error::Io(e) => StoreError::Unavailable(format!("PostgreSQL I/O error: {e}")),
        sqlx::Error::Tls(e) => StoreError::Unavailable(format!("PostgreSQL TLS error: {e}")),
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable("PostgreSQL pool closed".into())
        }
        sqlx::Error::Protocol(m) => StoreError::Unavailable(format!("PostgreSQL protocol: {m}")),
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                return StoreError::AlreadyExists(
                    db.constraint().unwrap_or("unique constraint").to_owned(),
                );
            }
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            // 08: connection exception; 53: insufficient resources;
            // 57P01-03: shutdown / cannot connect now; 40001/40P01: retryable conflicts.
            if code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code == "40001"
                || code == "40P01"
            {
                StoreError::Unavailable(format!("PostgreSQL: {}", db.message()))
            } else {
                StoreError::Other(format!("PostgreSQL error {code}: {}", db.message()))
            }
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Inconsistent(e.to_string())
        }
        other => StoreError::Other(other.to_string()),
    }
}

fn get<'r, T>(row: &'r PgRow, col: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(col)
        .map_err(|e| StoreError::Inconsistent(format!("column {col}: {e}")))
}

fn ts(row: &PgRow, col: &str) -> StoreResult<Timestamp> {
    get::<i64>(row, col).map(Timestamp::from_millis)
}

fn ts_opt(row: &PgRow, col: &str) -> StoreResult<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, col)?.map(Timestamp::from_millis))
}

fn scope(row: &PgRow, col: &str) -> StoreResult<Scope> {
    Scope::parse(&get::<String>(row, col)?)
        .map_err(|_| StoreError::Inconsistent(format!("column {col}: bad scope")))
}

fn user_from(row: &PgRow) -> StoreResult<User> {
    Ok(User {
        id: get(row, "id")?,
        username: get(row, "username")?,
        password_hash: get(row, "password_hash")?,
        disabled: get(row, "disabled")?,
        created_at: ts(row, "created_at")?,
    })
}

fn client_from(row: &PgRow) -> StoreResult<Client> {
    Ok(Client {
        id: get(row, "id")?,
        name: get(row, "name")?,
        secret_hash: get::<Option<String>>(row, "secret_hash")?.map(TokenHash::from_stored),
        grant_types: get::<Vec<String>>(row, "grant_types")?
            .iter()
            .map(|g| GrantType::parse(g))
            .collect(),
        redirect_uris: get(row, "redirect_uris")?,
        allowed_scopes: scope(row, "allowed_scopes")?,
        may_introspect: get(row, "may_introspect")?,
        id_token_alg: {
            let alg: String = get(row, "id_token_alg")?;
            KeyAlgorithm::parse(&alg)
                .ok_or_else(|| StoreError::Inconsistent("bad id_token_alg".into()))?
        },
        origin: {
            let origin: String = get(row, "origin")?;
            ClientOrigin::parse(&origin)
                .ok_or_else(|| StoreError::Inconsistent("bad origin".into()))?
        },
        client_uri: get(row, "client_uri")?,
        used_at: ts_opt(row, "used_at")?,
        created_at: ts(row, "created_at")?,
    })
}

fn resource_from(row: &PgRow) -> StoreResult<Resource> {
    Ok(Resource {
        url: get(row, "url")?,
        scopes: scope(row, "scopes")?,
        created_at: ts(row, "created_at")?,
    })
}

fn key_from(row: &PgRow) -> StoreResult<SigningKeyRecord> {
    let alg: String = get(row, "alg")?;
    Ok(SigningKeyRecord {
        kid: get(row, "kid")?,
        alg: KeyAlgorithm::parse(&alg)
            .ok_or_else(|| StoreError::Inconsistent(format!("unknown key algorithm {alg}")))?,
        private_pkcs8_der: get(row, "private_pkcs8_der")?,
        created_at: ts(row, "created_at")?,
        retired_at: ts_opt(row, "retired_at")?,
    })
}

fn family_from(row: &PgRow) -> StoreResult<TokenFamily> {
    Ok(TokenFamily {
        id: get(row, "id")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        auth_time: ts(row, "auth_time")?,
        created_at: ts(row, "created_at")?,
        code_hash: get::<Option<String>>(row, "code_hash")?.map(TokenHash::from_stored),
        resource: get(row, "resource")?,
        revoked_at: ts_opt(row, "revoked_at")?,
    })
}

fn refresh_from(row: &PgRow) -> StoreResult<RefreshToken> {
    let state: String = get(row, "state")?;
    let at = ts_opt(row, "state_at")?;
    let state = refresh_state_from(&state, at)?;
    Ok(RefreshToken {
        id: get(row, "id")?,
        token_hash: TokenHash::from_stored(get(row, "token_hash")?),
        family_id: get(row, "family_id")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        scope: scope(row, "scope")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        state,
        parent_id: get(row, "parent_id")?,
        version: get(row, "version")?,
    })
}

fn grant_from(row: &PgRow) -> StoreResult<DeviceGrant> {
    let state: String = get(row, "state")?;
    let user_id: Option<String> = get(row, "state_user_id")?;
    let at = ts_opt(row, "state_at")?;
    let state = grant_state_from(&state, user_id, at)?;
    let interval: i32 = get(row, "interval_secs")?;
    let failed: i32 = get(row, "failed_confirmations")?;
    Ok(DeviceGrant {
        id: get(row, "id")?,
        device_code_hash: TokenHash::from_stored(get(row, "device_code_hash")?),
        user_code: get(row, "user_code")?,
        client_id: get(row, "client_id")?,
        scope: scope(row, "scope")?,
        resource: get(row, "resource")?,
        requester: Requester {
            ip: get(row, "requester_ip")?,
            user_agent: get(row, "requester_user_agent")?,
        },
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        interval_secs: u32::try_from(interval)
            .map_err(|_| StoreError::Inconsistent("negative interval".into()))?,
        last_polled_at: ts_opt(row, "last_polled_at")?,
        failed_confirmations: u32::try_from(failed)
            .map_err(|_| StoreError::Inconsistent("negative failure count".into()))?,
        state,
        version: get(row, "version")?,
    })
}

fn code_from(row: &PgRow) -> StoreResult<AuthorizationCode> {
    Ok(AuthorizationCode {
        code_hash: TokenHash::from_stored(get(row, "code_hash")?),
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        redirect_uri: get(row, "redirect_uri")?,
        scope: scope(row, "scope")?,
        code_challenge: get(row, "code_challenge")?,
        nonce: get(row, "nonce")?,
        resource: get(row, "resource")?,
        auth_time: ts(row, "auth_time")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
    })
}

fn session_from(row: &PgRow) -> StoreResult<BrowserSession> {
    Ok(BrowserSession {
        id_hash: TokenHash::from_stored(get(row, "id_hash")?),
        csrf_token: get(row, "csrf_token")?,
        user_id: get(row, "user_id")?,
        authenticated_at: ts_opt(row, "authenticated_at")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        version: get(row, "version")?,
    })
}

fn audit_from(row: &PgRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        at: ts(row, "at")?,
        kind: get(row, "kind")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        ip: get(row, "ip")?,
        details: serde_json::from_str(&get::<String>(row, "details")?)
            .map_err(|e| StoreError::Inconsistent(format!("audit details: {e}")))?,
    })
}

const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens \
     (id, token_hash, family_id, client_id, user_id, scope, created_at, expires_at, state, state_at, version, parent_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

fn bind_refresh<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    t: &'q RefreshToken,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let (state, at) = refresh_state_columns(&t.state);
    q.bind(&t.id)
        .bind(t.token_hash.as_str())
        .bind(&t.family_id)
        .bind(&t.client_id)
        .bind(&t.user_id)
        .bind(t.scope.to_string())
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis())
        .bind(state)
        .bind(at)
        .bind(t.version)
        .bind(&t.parent_id)
}

#[async_trait]
impl DurableStore for PgStore {
    async fn migrate(&self) -> StoreResult<()> {
        self.run_migrations().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.ping_db().await
    }

    async fn add_user(&self, user: &User) -> StoreResult<()> {
        timed(async {
            sqlx::query(
                "INSERT INTO users (id, username, password_hash, disabled, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&user.id)
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(user.disabled)
            .bind(user.created_at.millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        timed(async {
            sqlx::query("SELECT * FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?
                .as_ref()
                .map(user_from)
                .transpose()
        })
        .await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        timed(async {
            sqlx::query("SELECT * FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?
                .as_ref()
                .map(user_from)
                .transpose()
        })
        .await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        timed(async {
            sqlx::query("SELECT * FROM users ORDER BY username")
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?
                .iter()
                .map(user_from)
                .collect()
        })
        .await
    }

    async fn set_user_disabled(&self, username: &str, disabled: bool) -> StoreResult<bool> {
        timed(async {
            let done = sqlx::query("UPDATE users SET disabled = $2 WHERE username = $1")
                .bind(username)
                .bind(disabled)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn set_user_password(&self, username: &str, password_hash: &str) -> StoreResult<bool> {
        timed(async {
            let done = sqlx::query("UPDATE users SET password_hash = $2 WHERE username = $1")
                .bind(username)
                .bind(password_hash)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn delete_user(&self, username: &str) -> StoreResult<bool> {
        timed(async {
            let done = sqlx::query("DELETE FROM users WHERE username = $1")
                .bind(username)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn delete_client(&self, id: &str) -> StoreResult<bool> {
        timed(async {
            let done = sqlx::query("DELETE FROM clients WHERE id = $1")
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn add_client(&self, client: &Client) -> StoreResult<()> {
        timed(async {
            let grants: Vec<String> = client
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect();
            sqlx::query(
                "INSERT INTO clients \
                 (id, name, secret_hash, grant_types, redirect_uris, allowed_scopes, created_at, \
                  may_introspect, id_token_alg, origin, client_uri, used_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&client.id)
            .bind(&client.name)
            .bind(client.secret_hash.as_ref().map(TokenHash::as_str))
            .bind(grants)
            .bind(&client.redirect_uris)
            .bind(client.allowed_scopes.to_string())
            .bind(client.created_at.millis())
            .bind(client.may_introspect)
            .bind(client.id_token_alg.as_str())
            .bind(client.origin.as_str())
            .bind(&client.client_uri)
            .bind(client.used_at.map(Timestamp::millis))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        timed(async {
            let grants: Vec<&str> = client.grant_types.iter().map(GrantType::as_str).collect();
            let done = sqlx::query(
                "UPDATE clients SET name = $2, grant_types = $3, redirect_uris = $4, \
                 allowed_scopes = $5, may_introspect = $6, id_token_alg = $7 WHERE id = $1",
            )
            .bind(&client.id)
            .bind(&client.name)
            .bind(grants)
            .bind(&client.redirect_uris)
            .bind(client.allowed_scopes.to_string())
            .bind(client.may_introspect)
            .bind(client.id_token_alg.as_str())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn mark_client_used(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        timed(async {
            let done =
                sqlx::query("UPDATE clients SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
                    .bind(id)
                    .bind(at.millis())
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn delete_unused_registered_clients(
        &self,
        created_before: Timestamp,
    ) -> StoreResult<u64> {
        timed(async {
            let done = sqlx::query(
                "DELETE FROM clients WHERE origin <> 'admin' AND used_at IS NULL \
                 AND created_at < $1",
            )
            .bind(created_before.millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn add_registration_token(
        &self,
        hash: &TokenHash,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        timed(async {
            sqlx::query(
                "INSERT INTO registration_tokens (token_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(hash.as_str())
            .bind(created_at.millis())
            .bind(expires_at.millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn registration_token_valid(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<bool> {
        timed(async {
            let found = sqlx::query(
                "SELECT 1 FROM registration_tokens WHERE token_hash = $1 AND expires_at > $2",
            )
            .bind(hash.as_str())
            .bind(now.millis())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(found.is_some())
        })
        .await
    }

    async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
        timed(async {
            sqlx::query("SELECT * FROM clients WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?
                .as_ref()
                .map(client_from)
                .transpose()
        })
        .await
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        timed(async {
            sqlx::query("SELECT * FROM clients ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?
                .iter()
                .map(client_from)
                .collect()
        })
        .await
    }

    async fn add_resource(&self, resource: &Resource) -> StoreResult<()> {
        timed(async {
            sqlx::query("INSERT INTO resources (url, scopes, created_at) VALUES ($1, $2, $3)")
                .bind(&resource.url)
                .bind(resource.scopes.to_string())
                .bind(resource.created_at.millis())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn resource(&self, url: &str) -> StoreResult<Option<Resource>> {
        timed(async {
            sqlx::query("SELECT * FROM resources WHERE url = $1")
                .bind(url)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?
                .as_ref()
                .map(resource_from)
                .transpose()
        })
        .await
    }

    async fn list_resources(&self) -> StoreResult<Vec<Resource>> {
        timed(async {
            sqlx::query("SELECT * FROM resources ORDER BY url")
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?
                .iter()
                .map(resource_from)
                .collect()
        })
        .await
    }

    async fn remove_resource(&self, url: &str) -> StoreResult<bool> {
        timed(async {
            let done = sqlx::query("DELETE FROM resources WHERE url = $1")
                .bind(url)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn add_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        timed(async {
            sqlx::query(
                "INSERT INTO signing_keys (kid, alg, private_pkcs8_der, created_at, retired_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&key.kid)
            .bind(key.alg.as_str())
            .bind(&key.private_pkcs8_der)
            .bind(key.created_at.millis())
            .bind(key.retired_at.map(Timestamp::millis))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn list_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        timed(async {
            sqlx::query("SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC")
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?
                .iter()
                .map(key_from)
                .collect()
        })
        .await
    }

    async fn retire_keys_except(&self, keep: &str, at: Timestamp) -> StoreResult<()> {
        timed(async {
            sqlx::query(
                "UPDATE signing_keys SET retired_at = $2 WHERE kid <> $1 AND retired_at IS NULL",
            )
            .bind(keep)
            .bind(at.millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn delete_keys_retired_before(&self, before: Timestamp) -> StoreResult<u64> {
        timed(async {
            let done = sqlx::query("DELETE FROM signing_keys WHERE retired_at < $1")
                .bind(before.millis())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn add_family(&self, family: &TokenFamily) -> StoreResult<()> {
        timed(async {
            sqlx::query(
                "INSERT INTO token_families \
                 (id, client_id, user_id, auth_time, created_at, revoked_at, code_hash, resource) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&family.id)
            .bind(&family.client_id)
            .bind(&family.user_id)
            .bind(family.auth_time.millis())
            .bind(family.created_at.millis())
            .bind(family.revoked_at.map(Timestamp::millis))
            .bind(family.code_hash.as_ref().map(TokenHash::as_str))
            .bind(&family.resource)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn family(&self, id: &str) -> StoreResult<Option<TokenFamily>> {
        timed(async {
            sqlx::query("SELECT * FROM token_families WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?
                .as_ref()
                .map(family_from)
                .transpose()
        })
        .await
    }

    async fn family_by_code(&self, code_hash: &TokenHash) -> StoreResult<Option<TokenFamily>> {
        timed(async {
            sqlx::query("SELECT * FROM token_families WHERE code_hash = $1")
                .bind(code_hash.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?
                .as_ref()
                .map(family_from)
                .transpose()
        })
        .await
    }

    async fn revoke_family(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        timed(async {
            let mut tx = self.pool.begin().await.map_err(map_err)?;
            let done = sqlx::query(
                "UPDATE token_families SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(at.millis())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            sqlx::query(
                "UPDATE refresh_tokens SET state = 'revoked', state_at = $2, version = version + 1 \
                 WHERE family_id = $1 AND state <> 'revoked'",
            )
            .bind(id)
            .bind(at.millis())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
        .await
    }

    async fn add_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        timed(async {
            bind_refresh(sqlx::query(INSERT_REFRESH), token)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshToken>> {
        timed(async {
            sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = $1")
                .bind(hash.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?
                .as_ref()
                .map(refresh_from)
                .transpose()
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        old: &RefreshToken,
        old_version: i64,
        new: &RefreshToken,
    ) -> StoreResult<bool> {
        timed(async {
            let mut tx = self.pool.begin().await.map_err(map_err)?;
            let (state, at) = refresh_state_columns(&old.state);
            let done = sqlx::query(
                "UPDATE refresh_tokens SET state = $3, state_at = $4, expires_at = $5, \
                 version = $2 + 1 WHERE id = $1 AND version = $2",
            )
            .bind(&old.id)
            .bind(old_version)
            .bind(state)
            .bind(at)
            .bind(old.expires_at.millis())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            bind_refresh(sqlx::query(INSERT_REFRESH), new)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
        .await
    }

    async fn latest_in_family(&self, family_id: &str) -> StoreResult<Option<RefreshToken>> {
        timed(async {
            sqlx::query(
                "SELECT * FROM refresh_tokens WHERE family_id = $1 \
                 ORDER BY created_at DESC, seq DESC LIMIT 1",
            )
            .bind(family_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(refresh_from)
            .transpose()
        })
        .await
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: Timestamp) -> StoreResult<()> {
        timed(async {
            sqlx::query(
                "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(expires_at.millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        timed(async {
            let row = sqlx::query("SELECT 1 FROM revoked_access_tokens WHERE jti = $1")
                .bind(jti)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(row.is_some())
        })
        .await
    }

    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        timed(async {
            sqlx::query(
                "INSERT INTO audit_events (at, kind, client_id, user_id, ip, details) \
                 VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
            )
            .bind(event.at.millis())
            .bind(&event.kind)
            .bind(&event.client_id)
            .bind(&event.user_id)
            .bind(&event.ip)
            .bind(event.details.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn delete_audit_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        timed(async {
            let done = sqlx::query(
                "DELETE FROM audit_events WHERE seq IN \
                 (SELECT seq FROM audit_events WHERE at < $1 ORDER BY at, seq LIMIT $2)",
            )
            .bind(before.millis())
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        timed(async {
            sqlx::query("SELECT at, kind, client_id, user_id, ip, details::text AS details FROM audit_events \
                 ORDER BY at DESC, seq DESC LIMIT $1",)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?
                .iter()
                .map(audit_from)
                .collect()
        })
        .await
    }

    async fn sweep(&self, now: Timestamp) -> StoreResult<u64> {
        timed(async {
            let tokens = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
                .bind(now.millis())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            let jtis = sqlx::query("DELETE FROM revoked_access_tokens WHERE expires_at <= $1")
                .bind(now.millis())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            // Families with no token left, once no access token minted from
            // them (their `sid`) can still be valid.
            let families = sqlx::query(
                "DELETE FROM token_families WHERE created_at <= $1 AND NOT EXISTS \
                 (SELECT 1 FROM refresh_tokens r WHERE r.family_id = token_families.id)",
            )
            .bind(now.plus_secs(-super::FAMILY_RETENTION_SECS).millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(tokens.rows_affected() + jtis.rows_affected() + families.rows_affected())
        })
        .await
    }
}

#[async_trait]
impl FlowStore for PgStore {
    async fn migrate(&self) -> StoreResult<()> {
        self.run_migrations().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.ping_db().await
    }

    async fn add_device_grant(&self, grant: &DeviceGrant) -> StoreResult<()> {
        timed(async {
            let mut tx = self.pool.begin().await.map_err(map_err)?;
            // A user code is unique among retained grants: an expired grant
            // keeps its code until the retention ends (its late poll reads it,
            // and no one typing the old code lands on a new request). The
            // transaction lock on the code serialises the check and insert.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 8628))")
                .bind(&grant.user_code)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let live = sqlx::query(
                "SELECT 1 FROM device_grants WHERE user_code = $1 AND expires_at > $2 LIMIT 1",
            )
            .bind(&grant.user_code)
            .bind(grant.created_at.millis() - super::EXPIRED_GRANT_RETENTION_MS)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            if live.is_some() {
                return Err(StoreError::AlreadyExists("user code".into()));
            }
            let (state, user_id, at) = grant_state_columns(&grant.state);
            sqlx::query(
                "INSERT INTO device_grants (id, device_code_hash, user_code, client_id, scope, \
                 requester_ip, requester_user_agent, created_at, expires_at, interval_secs, \
                 last_polled_at, failed_confirmations, state, state_user_id, state_at, version, \
                 resource) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .bind(&grant.id)
            .bind(grant.device_code_hash.as_str())
            .bind(&grant.user_code)
            .bind(&grant.client_id)
            .bind(grant.scope.to_string())
            .bind(&grant.requester.ip)
            .bind(&grant.requester.user_agent)
            .bind(grant.created_at.millis())
            .bind(grant.expires_at.millis())
            .bind(i32::try_from(grant.interval_secs).unwrap_or(i32::MAX))
            .bind(grant.last_polled_at.map(Timestamp::millis))
            .bind(i32::try_from(grant.failed_confirmations).unwrap_or(i32::MAX))
            .bind(state)
            .bind(user_id)
            .bind(at)
            .bind(grant.version)
            .bind(&grant.resource)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn device_grant_by_code(&self, hash: &TokenHash) -> StoreResult<Option<DeviceGrant>> {
        timed(async {
            sqlx::query("SELECT * FROM device_grants WHERE device_code_hash = $1")
                .bind(hash.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?
                .as_ref()
                .map(grant_from)
                .transpose()
        })
        .await
    }

    async fn device_grant_by_user_code(&self, user_code: &str) -> StoreResult<Option<DeviceGrant>> {
        timed(async {
            sqlx::query(
                "SELECT * FROM device_grants WHERE user_code = $1 \
                 ORDER BY created_at DESC LIMIT 1",
            )
            .bind(user_code)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(grant_from)
            .transpose()
        })
        .await
    }

    async fn update_device_grant(
        &self,
        grant: &DeviceGrant,
        expected_version: i64,
    ) -> StoreResult<bool> {
        timed(async {
            let (state, user_id, at) = grant_state_columns(&grant.state);
            let done = sqlx::query(
                "UPDATE device_grants SET scope = $3, expires_at = $4, interval_secs = $5, \
                 last_polled_at = $6, failed_confirmations = $7, state = $8, state_user_id = $9, \
                 state_at = $10, version = $2 + 1 \
                 WHERE device_code_hash = $1 AND version = $2",
            )
            .bind(grant.device_code_hash.as_str())
            .bind(expected_version)
            .bind(grant.scope.to_string())
            .bind(grant.expires_at.millis())
            .bind(i32::try_from(grant.interval_secs).unwrap_or(i32::MAX))
            .bind(grant.last_polled_at.map(Timestamp::millis))
            .bind(i32::try_from(grant.failed_confirmations).unwrap_or(i32::MAX))
            .bind(state)
            .bind(user_id)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        timed(async {
            sqlx::query(
                "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, \
                 scope, code_challenge, nonce, auth_time, created_at, expires_at, resource) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(code.code_hash.as_str())
            .bind(&code.client_id)
            .bind(&code.user_id)
            .bind(&code.redirect_uri)
            .bind(code.scope.to_string())
            .bind(&code.code_challenge)
            .bind(&code.nonce)
            .bind(code.auth_time.millis())
            .bind(code.created_at.millis())
            .bind(code.expires_at.millis())
            .bind(&code.resource)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn take_authorization_code(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<AuthorizationCode>> {
        timed(async {
            sqlx::query("DELETE FROM authorization_codes WHERE code_hash = $1 RETURNING *")
                .bind(hash.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?
                .as_ref()
                .map(code_from)
                .transpose()
        })
        .await
    }

    async fn add_session(&self, session: &BrowserSession) -> StoreResult<()> {
        timed(async {
            sqlx::query(
                "INSERT INTO browser_sessions (id_hash, csrf_token, user_id, authenticated_at, \
                 created_at, expires_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(session.id_hash.as_str())
            .bind(&session.csrf_token)
            .bind(&session.user_id)
            .bind(session.authenticated_at.map(Timestamp::millis))
            .bind(session.created_at.millis())
            .bind(session.expires_at.millis())
            .bind(session.version)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn session(&self, id_hash: &TokenHash) -> StoreResult<Option<BrowserSession>> {
        timed(async {
            sqlx::query("SELECT * FROM browser_sessions WHERE id_hash = $1")
                .bind(id_hash.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?
                .as_ref()
                .map(session_from)
                .transpose()
        })
        .await
    }

    async fn update_session(
        &self,
        session: &BrowserSession,
        expected_version: i64,
    ) -> StoreResult<bool> {
        timed(async {
            let done = sqlx::query(
                "UPDATE browser_sessions SET csrf_token = $3, user_id = $4, authenticated_at = $5, \
                 expires_at = $6, version = $2 + 1 WHERE id_hash = $1 AND version = $2",
            )
            .bind(session.id_hash.as_str())
            .bind(expected_version)
            .bind(&session.csrf_token)
            .bind(&session.user_id)
            .bind(session.authenticated_at.map(Timestamp::millis))
            .bind(session.expires_at.millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn delete_session(&self, id_hash: &TokenHash) -> StoreResult<()> {
        timed(async {
            sqlx::query("DELETE FROM browser_sessions WHERE id_hash = $1")
                .bind(id_hash.as_str())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn hits(&self, key: &str, window_secs: u32, now: Timestamp) -> StoreResult<u64> {
        timed(async {
            let window_ms = i64::from(window_secs.max(1)) * 1000;
            let start = now.millis().div_euclid(window_ms) * window_ms;
            // One row per key holds the newest window and the one before.
            let row = sqlx::query(
                "SELECT CASE WHEN window_start = $2 THEN hits \
                             WHEN window_start = $2 + $3 THEN prev_hits \
                             ELSE 0 END AS n \
                 FROM rate_hits WHERE key = $1",
            )
            .bind(key)
            .bind(start)
            .bind(window_ms)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
            let hits: i64 = match row {
                Some(row) => get(&row, "n")?,
                None => 0,
            };
            Ok(u64::try_from(hits).unwrap_or(0))
        })
        .await
    }

    async fn hit(&self, key: &str, window_secs: u32, now: Timestamp) -> StoreResult<u64> {
        timed(async {
            let window_ms = i64::from(window_secs.max(1)) * 1000;
            let start = now.millis().div_euclid(window_ms) * window_ms;
            // Windows only move forward: a replica whose clock lags a little
            // counts its hit in the newer window instead of resetting it.
            let row = sqlx::query(
                "INSERT INTO rate_hits (key, window_start, window_end, hits) VALUES ($1, $2, $3, 1) \
                 ON CONFLICT (key) DO UPDATE SET \
                   prev_hits = CASE \
                       WHEN EXCLUDED.window_start = rate_hits.window_end THEN rate_hits.hits \
                       WHEN EXCLUDED.window_start > rate_hits.window_start THEN 0 \
                       ELSE rate_hits.prev_hits END, \
                   hits = CASE WHEN EXCLUDED.window_start > rate_hits.window_start \
                               THEN 1 ELSE rate_hits.hits + 1 END, \
                   window_start = GREATEST(rate_hits.window_start, EXCLUDED.window_start), \
                   window_end = GREATEST(rate_hits.window_end, EXCLUDED.window_end) \
                 RETURNING hits",
            )
            .bind(key)
            .bind(start)
            .bind(start + window_ms)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
            let hits: i64 = get(&row, "hits")?;
            Ok(u64::try_from(hits).unwrap_or(0))
        })
        .await
    }

    async fn sweep(&self, now: Timestamp) -> StoreResult<Vec<DeviceGrant>> {
        timed(async {
            let now_ms = now.millis();
            let expired: Vec<DeviceGrant> = sqlx::query(
                "UPDATE device_grants SET expiry_reported = TRUE \
                 WHERE expires_at <= $1 AND state = 'pending' AND NOT expiry_reported \
                 RETURNING *",
            )
            .bind(now_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(grant_from)
            .collect::<StoreResult<_>>()?;
            sqlx::query("DELETE FROM device_grants WHERE expires_at <= $1")
                .bind(now_ms - super::EXPIRED_GRANT_RETENTION_MS)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            for sql in [
                "DELETE FROM authorization_codes WHERE expires_at <= $1",
                "DELETE FROM browser_sessions WHERE expires_at <= $1",
                // Kept one window past its end: the next window reads it.
                "DELETE FROM rate_hits WHERE 2 * window_end - window_start <= $1",
            ] {
                sqlx::query(sql)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
            }
            Ok(expired)
        })
        .await
    }
}

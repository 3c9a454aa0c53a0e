-- devauth server schema for SQLite. Times are INTEGER milliseconds since the
-- Unix epoch; secrets appear only as SHA-256 hex (device codes, refresh tokens,
-- authorization codes, session ids, client secrets) or argon2id PHC (passwords).

-- Durable state ------------------------------------------------------------

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE clients (
    id             TEXT PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    secret_hash    TEXT,
    grant_types    TEXT NOT NULL,   -- space-separated wire names
    redirect_uris  TEXT NOT NULL,   -- JSON array of strings
    allowed_scopes TEXT NOT NULL,   -- space-separated; empty = any
    created_at     INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    alg         TEXT NOT NULL,
    private_der BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);

CREATE TABLE token_families (
    id         TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    family_id  TEXT NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('active', 'rotated', 'revoked')),
    state_at   INTEGER,
    version    INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id, created_at);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_at);

CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE audit_events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    client_id TEXT,
    user_id   TEXT,
    ip        TEXT,
    details   TEXT NOT NULL
);

-- Flow state ----------------------------------------------------------------

CREATE TABLE device_grants (
    id                   TEXT PRIMARY KEY NOT NULL,
    device_code_hash     TEXT NOT NULL UNIQUE,
    user_code            TEXT NOT NULL UNIQUE,
    client_id            TEXT NOT NULL,
    scope                TEXT NOT NULL,
    requester_ip         TEXT NOT NULL,
    requester_user_agent TEXT NOT NULL,
    created_at           INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL,
    interval_secs        INTEGER NOT NULL,
    last_polled_at       INTEGER,
    failed_confirmations INTEGER NOT NULL DEFAULT 0,
    state                TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'exchanged')),
    state_user_id        TEXT,
    state_at             INTEGER,
    version              INTEGER NOT NULL,
    -- set once the sweeper has reported the grant as expired while pending
    expiry_reported      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX device_grants_expiry ON device_grants(expires_at);

CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    nonce          TEXT,
    auth_time      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);

CREATE TABLE browser_sessions (
    id_hash          TEXT PRIMARY KEY NOT NULL,
    csrf_token       TEXT NOT NULL,
    user_id          TEXT,
    authenticated_at INTEGER,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    version          INTEGER NOT NULL
);

CREATE TABLE rate_limits (
    key          TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);

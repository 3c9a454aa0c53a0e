-- devauth PostgreSQL schema, version 1.
-- Times are milliseconds since the Unix epoch (BIGINT), as in the model's Timestamp.
-- Secrets are never stored raw: *_hash columns hold SHA-256 hex (argon2id PHC for passwords).

-- Durable state -------------------------------------------------------------

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);

CREATE TABLE clients (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    secret_hash    TEXT,
    grant_types    TEXT[] NOT NULL,
    redirect_uris  TEXT[] NOT NULL,
    allowed_scopes TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid               TEXT PRIMARY KEY,
    alg               TEXT NOT NULL,
    private_pkcs8_der BYTEA NOT NULL,
    created_at        BIGINT NOT NULL,
    retired_at        BIGINT
);

CREATE TABLE token_families (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- state: 'active' | 'rotated' | 'revoked'; state_at is rotated_at / revoked_at.
CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    family_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    state      TEXT NOT NULL,
    state_at   BIGINT,
    version    BIGINT NOT NULL,
    seq        BIGSERIAL NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id, created_at DESC, seq DESC);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expires_at);

CREATE TABLE audit_events (
    seq       BIGSERIAL PRIMARY KEY,
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    client_id TEXT,
    user_id   TEXT,
    ip        TEXT,
    details   JSONB NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at DESC, seq DESC);

-- Device-flow state (used when no Redis is configured) ----------------------

-- state: 'pending' | 'approved' | 'denied' | 'exchanged';
-- state_user_id is set when approved; state_at is approved_at / denied_at / exchanged_at.
-- expiry_reported: the sweeper already returned this grant as expired while pending.
CREATE TABLE device_grants (
    id                   TEXT PRIMARY KEY,
    device_code_hash     TEXT NOT NULL UNIQUE,
    user_code            TEXT NOT NULL,
    client_id            TEXT NOT NULL,
    scope                TEXT NOT NULL,
    requester_ip         TEXT NOT NULL,
    requester_user_agent TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL,
    interval_secs        INTEGER NOT NULL,
    last_polled_at       BIGINT,
    failed_confirmations INTEGER NOT NULL,
    state                TEXT NOT NULL,
    state_user_id        TEXT,
    state_at             BIGINT,
    version              BIGINT NOT NULL,
    expiry_reported      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX device_grants_expiry ON device_grants (expires_at);
-- Unique among live grants only (checked under an advisory lock on insert):
-- an expired grant keeps its code while a new grant may draw it again.
CREATE INDEX device_grants_user_code ON device_grants (user_code, created_at DESC);

CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    nonce          TEXT,
    auth_time      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

CREATE TABLE browser_sessions (
    id_hash          TEXT PRIMARY KEY,
    csrf_token       TEXT NOT NULL,
    user_id          TEXT,
    authenticated_at BIGINT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    version          BIGINT NOT NULL
);
CREATE INDEX browser_sessions_expiry ON browser_sessions (expires_at);

-- One fixed-window counter per key: the window it counts and when it ends.
CREATE TABLE rate_hits (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    window_end   BIGINT NOT NULL,
    hits         BIGINT NOT NULL
);
CREATE INDEX rate_hits_expiry ON rate_hits (window_end);

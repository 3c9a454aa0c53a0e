-- Device grants are found by the hash of their device code or by their user
-- code, and updated by the hash. The random `id` no longer needs an index of
-- its own: one B-tree fewer to update at a random place on every new grant.
CREATE TABLE device_grants_v2 (
    id                   TEXT NOT NULL,
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
INSERT INTO device_grants_v2 (
    id, device_code_hash, user_code, client_id, scope, requester_ip, requester_user_agent,
    created_at, expires_at, interval_secs, last_polled_at, failed_confirmations, state,
    state_user_id, state_at, version, expiry_reported)
SELECT
    id, device_code_hash, user_code, client_id, scope, requester_ip, requester_user_agent,
    created_at, expires_at, interval_secs, last_polled_at, failed_confirmations, state,
    state_user_id, state_at, version, expiry_reported
FROM device_grants;
DROP TABLE device_grants;
ALTER TABLE device_grants_v2 RENAME TO device_grants;
CREATE INDEX device_grants_expiry ON device_grants(expires_at);

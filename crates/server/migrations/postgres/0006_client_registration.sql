-- Dynamic client registration (RFC 7591): how a client came to exist, the
-- home page it declared, when it was first used (a registered client never
-- used expires), and the initial access tokens of `--registration token`.
ALTER TABLE clients ADD COLUMN IF NOT EXISTS origin TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE clients ADD COLUMN IF NOT EXISTS client_uri TEXT;
ALTER TABLE clients ADD COLUMN IF NOT EXISTS used_at BIGINT;
CREATE TABLE IF NOT EXISTS registration_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

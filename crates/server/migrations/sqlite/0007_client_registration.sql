-- Dynamic client registration (RFC 7591): how a client came to exist, the
-- home page it declared, when it was first used (a registered client never
-- used expires), and the initial access tokens of `--registration token`.
ALTER TABLE clients ADD COLUMN origin TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE clients ADD COLUMN client_uri TEXT;
ALTER TABLE clients ADD COLUMN used_at INTEGER;
CREATE TABLE registration_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

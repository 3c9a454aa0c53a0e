-- Protected resources (RFC 8707): `resource=URL` gives tokens with
-- `aud` = URL. Families and authorization codes remember the resource they
-- were issued for, so a refresh keeps (never widens) it.
CREATE TABLE IF NOT EXISTS resources (
    url        TEXT PRIMARY KEY NOT NULL,
    scopes     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
ALTER TABLE token_families ADD COLUMN IF NOT EXISTS resource TEXT;
ALTER TABLE authorization_codes ADD COLUMN IF NOT EXISTS resource TEXT;

-- Protected resources (RFC 8707): `resource=URL` gives tokens with
-- `aud` = URL. Families and authorization codes remember the resource they
-- were issued for, so a refresh keeps (never widens) it.
CREATE TABLE resources (
    url        TEXT PRIMARY KEY NOT NULL,
    scopes     TEXT NOT NULL,   -- space-separated
    created_at INTEGER NOT NULL
);
ALTER TABLE token_families ADD COLUMN resource TEXT;
ALTER TABLE authorization_codes ADD COLUMN resource TEXT;

-- The authorization code a family was issued from, so that a replay of the
-- code revokes what its first use issued (RFC 6749 §4.1.2).
ALTER TABLE token_families ADD COLUMN IF NOT EXISTS code_hash TEXT;
CREATE INDEX IF NOT EXISTS token_families_code ON token_families (code_hash) WHERE code_hash IS NOT NULL;

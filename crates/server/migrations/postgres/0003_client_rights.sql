-- Whether a client may introspect tokens issued to other clients (a
-- resource server), and the algorithm of its ID tokens
-- (`id_token_signed_response_alg`).
ALTER TABLE clients ADD COLUMN IF NOT EXISTS may_introspect BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN IF NOT EXISTS id_token_alg TEXT NOT NULL DEFAULT 'RS256';

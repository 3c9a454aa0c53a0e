-- Whether a client may introspect tokens issued to other clients (a
-- resource server), and the algorithm of its ID tokens
-- (`id_token_signed_response_alg`).
ALTER TABLE clients ADD COLUMN may_introspect INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'RS256';

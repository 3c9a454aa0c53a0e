-- The token a refresh token replaced (NULL for the first of a family), so
-- that the grace window forgives only a retry of the newest rotated token.
ALTER TABLE refresh_tokens ADD COLUMN IF NOT EXISTS parent_id TEXT;

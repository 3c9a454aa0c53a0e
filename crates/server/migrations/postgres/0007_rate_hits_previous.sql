-- Sliding-window rate limits read the previous window's count too: keep it
-- beside the current one when a new window starts.
ALTER TABLE rate_hits ADD COLUMN IF NOT EXISTS prev_hits BIGINT NOT NULL DEFAULT 0;

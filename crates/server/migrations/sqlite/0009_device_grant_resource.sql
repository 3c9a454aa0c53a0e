-- The resource (RFC 8707) a device authorization asked for; its tokens
-- carry it as their audience.
ALTER TABLE device_grants ADD COLUMN resource TEXT;

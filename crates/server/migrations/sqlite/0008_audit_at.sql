-- Audit events are pruned by age (`--audit-retention`): index their time,
-- as the PostgreSQL schema does.
CREATE INDEX audit_events_at ON audit_events(at);

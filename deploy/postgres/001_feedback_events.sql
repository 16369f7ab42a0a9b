-- Migration 1 of feedbackd's schema on PostgreSQL: the audit trail feedback_events. `feedbackd migrate`
-- runs exactly these statements (and records them in feedback_schema_migrations); apply this file
-- instead where schema changes go through your own tools. Run it as a role that may create tables;
-- feedbackd itself never changes the schema (its role's grants: feedbackd migrate --help).
-- interactions(id, feedback) is the chat backend's table and must exist already.
CREATE TABLE IF NOT EXISTS feedback_schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS feedback_events (
    id BIGSERIAL PRIMARY KEY,
    interaction_id BIGINT NOT NULL,
    rating SMALLINT NOT NULL CHECK (rating IN (-1, 1)),
    subject TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS feedback_events_interaction ON feedback_events (interaction_id);
INSERT INTO feedback_schema_migrations (version, name) VALUES (1, 'feedback_events') ON CONFLICT (version) DO NOTHING;

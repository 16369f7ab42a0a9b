-- feedbackd's audit trail on PostgreSQL. feedbackd runs these statements itself at start-up when the
-- table is missing; apply this file instead where schema changes go through your own migrations.
-- interactions(id, feedback) is the chat backend's table and must exist already.
CREATE TABLE IF NOT EXISTS feedback_events (
    id BIGSERIAL PRIMARY KEY,
    interaction_id BIGINT NOT NULL,
    rating SMALLINT NOT NULL CHECK (rating IN (-1, 1)),
    subject TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS feedback_events_interaction ON feedback_events (interaction_id);

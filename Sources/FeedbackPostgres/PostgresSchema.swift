import Logging
import PostgresNIO

/// The tables the PostgreSQL store uses: the chat backend's `interactions(id, feedback)`, which it never
/// creates, and its own audit trail `feedback_events`, created when missing (the same statements as
/// `deploy/postgres/001_feedback_events.sql`, for teams that manage their schema themselves; a test
/// keeps the two equal).
enum PostgresSchema {
    static let createEvents = """
        CREATE TABLE IF NOT EXISTS feedback_events (
            id BIGSERIAL PRIMARY KEY,
            interaction_id BIGINT NOT NULL,
            rating SMALLINT NOT NULL CHECK (rating IN (-1, 1)),
            subject TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    static let createEventsIndex = "CREATE INDEX IF NOT EXISTS feedback_events_interaction ON feedback_events (interaction_id)"

    /// What is missing or wrong, in words, or nil when the schema can be written to.
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    /// Checks `interactions(id, feedback)` and creates `feedback_events` (and its index) when missing.
    static func prepare(_ connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.query(
            """
            SELECT column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'interactions' AND column_name IN ('id', 'feedback')
            """,
            logger: logger
        )
        var columns: Set<String> = []
        for try await name in rows.decode(String.self) { columns.insert(name) }
        if columns.isEmpty {
            throw Problem(description: "the database has no interactions table (feedbackd never creates it: it is the chat backend's)")
        }
        for column in ["id", "feedback"] where !columns.contains(column) {
            throw Problem(description: "the interactions table has no \(column) column")
        }
        try await connection.query(PostgresQuery(unsafeSQL: Self.createEvents), logger: logger)
        try await connection.query(PostgresQuery(unsafeSQL: Self.createEventsIndex), logger: logger)
    }
}

import GRDB

/// The tables feedbackd needs, created when missing. `interactions` is shared with the chat backend,
/// which inserts its rows; feedbackd only sets `feedback`.
enum SQLiteSchema {
    static let statements = [
        """
        CREATE TABLE IF NOT EXISTS interactions (
            id INTEGER PRIMARY KEY,
            question TEXT,
            answer TEXT,
            created_at TEXT DEFAULT CURRENT_TIMESTAMP,
            feedback INTEGER
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS feedback_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            interaction_id INTEGER NOT NULL,
            rating INTEGER NOT NULL,
            subject TEXT NOT NULL,
            created_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS feedback_events_interaction ON feedback_events(interaction_id)",
    ]

    static func create(_ db: Database) throws {
        for statement in self.statements { try db.execute(sql: statement) }
    }
}

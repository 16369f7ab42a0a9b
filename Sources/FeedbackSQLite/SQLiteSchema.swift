import GRDB

/// The tables feedbackd needs. `interactions` belongs to the chat backend, which inserts its rows;
/// feedbackd only sets `feedback`, and creates the table only in a database file it created itself.
/// `feedback_events` is feedbackd's own audit trail, created when missing.
enum SQLiteSchema {
    static let interactions = """
        CREATE TABLE interactions (
            id INTEGER PRIMARY KEY,
            question TEXT,
            answer TEXT,
            created_at TEXT DEFAULT CURRENT_TIMESTAMP,
            feedback INTEGER
        )
        """
    /// The sample answers of a database feedbackd creates (`--create-demo-database`): the ones the
    /// gateway's demo page shows, so that its thumbs store ratings rather than answer NOT_FOUND.
    static let demoInteractions = """
        INSERT INTO interactions (id, question, answer) VALUES
            (1, 'How do I reverse a list in Python?', 'Use reversed(items) or items[::-1].'),
            (2, 'What is the capital of Australia?', 'Canberra.'),
            (3, 'What does HTTP 204 mean?', 'No Content: success with an empty body.')
        """
    static let events = [
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
    /// Columns the writes name, per table.
    static let requiredColumns = [
        "interactions": ["id", "feedback"],
        "feedback_events": ["interaction_id", "rating", "subject", "created_at"],
    ]

    /// A database feedbackd cannot write to: the message names the table or column missing.
    struct Mismatch: Error, CustomStringConvertible {
        var description: String
    }

    /// Creates what is missing (`interactions` only when `createInteractions`, with the demo's sample
    /// answers), then checks that every
    /// table has the columns the writes use.
    /// - Throws: ``Mismatch`` for a missing table or column; GRDB's errors otherwise.
    static func prepare(_ db: Database, createInteractions: Bool) throws {
        if try !db.tableExists("interactions") {
            guard createInteractions else {
                throw Mismatch(description: "the database has no interactions table")
            }
            try db.execute(sql: self.interactions)
            try db.execute(sql: self.demoInteractions)
        }
        for statement in self.events { try db.execute(sql: statement) }
        try self.check(db)
    }

    /// Checks, without changing anything, that the tables have the columns the writes use.
    static func check(_ db: Database) throws {
        for (table, columns) in self.requiredColumns.sorted(by: { $0.key < $1.key }) {
            guard try db.tableExists(table) else { throw Mismatch(description: "the database has no \(table) table") }
            let present = Set(try db.columns(in: table).map { $0.name.lowercased() })
            for column in columns where !present.contains(column) {
                throw Mismatch(description: "the table \(table) has no \(column) column")
            }
        }
    }
}

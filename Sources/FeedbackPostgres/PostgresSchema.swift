import Logging
import PostgresNIO

/// The tables the PostgreSQL store uses: the chat backend's `interactions(id, feedback)`, which feedbackd
/// never creates, and its own audit trail `feedback_events`, created by the migrations (``migrate(_:grantTo:logger:)``,
/// `feedbackd migrate`), never by feedbackd serving: it checks the schema and its role's privileges
/// through the catalog alone (``check(_:logger:)``), so a role with just the grants of ``grants(to:)``
/// runs it. `deploy/postgres/001_feedback_events.sql` holds migration 1's statements, for teams that
/// apply schema changes with their own tools (a test keeps the two equal).
enum PostgresSchema {
    /// One versioned step of the schema. Applying it again is harmless (its statements are idempotent).
    struct Migration: Sendable {
        var version: Int
        var name: String
        var statements: [String]
    }

    static let createMigrations = """
        CREATE TABLE IF NOT EXISTS feedback_schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
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

    /// Every migration, in order.
    static let migrations = [
        Migration(version: 1, name: "feedback_events", statements: [createEvents, createEventsIndex])
    ]

    /// The statements that apply `migration` and record it, as its file in `deploy/postgres/` holds them
    /// (after ``createMigrations``).
    static func statements(of migration: Migration) -> [String] {
        migration.statements + [
            "INSERT INTO feedback_schema_migrations (version, name) VALUES (\(migration.version), '\(migration.name)') ON CONFLICT (version) DO NOTHING"
        ]
    }

    /// What is missing or wrong, in words (with the statement that repairs it), or nil when the schema can
    /// be written to.
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    /// The least privileges feedbackd's role needs, as GRANT statements for `role` (an SQL identifier,
    /// quoted as needed): the ratings (`SELECT`, `UPDATE (feedback)` on interactions; `INSERT` on
    /// feedback_events and `USAGE` on its id sequence) and the ratings feed (`SELECT` on feedback_events).
    static func grants(to role: String, sequence: String = "feedback_events_id_seq") -> [String] {
        [
            "GRANT SELECT, UPDATE (feedback) ON interactions TO \(role)",
            "GRANT SELECT, INSERT ON feedback_events TO \(role)",
            "GRANT USAGE ON SEQUENCE \(sequence) TO \(role)",
        ]
    }

    /// What the store found: the schema is usable for ratings; `feedUnreadable` says why the ratings feed
    /// is not (no SELECT on feedback_events), or nil.
    struct Checked: Sendable {
        var feedUnreadable: String?
    }

    /// Checks, reading the catalog only (no DDL, no lock), that `interactions(id, feedback)` and
    /// `feedback_events` are there (resolved through the search path, as the store's statements are) and
    /// that the connection's role may do what the store does with them.
    /// - Throws: ``Problem`` naming what is missing and how to add it.
    static func check(_ connection: PostgresConnection, logger: Logger) async throws -> Checked {
        var role = ""
        var columns: [String: Set<String>] = [:]
        let rows = try await connection.query(
            """
            SELECT quote_ident(current_user), t.name, a.attname::text
            FROM (VALUES ('interactions'), ('feedback_events')) AS t(name)
            LEFT JOIN pg_attribute a ON a.attrelid = to_regclass(t.name) AND a.attnum > 0 AND NOT a.attisdropped
            """,
            logger: logger
        )
        for try await (user, table, column) in rows.decode((String, String, String?).self) {
            role = user
            columns[table, default: []].formUnion(column.map { [$0] } ?? [])
        }
        let interactions = columns["interactions", default: []]
        if interactions.isEmpty {
            throw Problem(
                description: "the database has no interactions table (feedbackd never creates it: it is the chat backend's; a table in a schema off the role's search_path, or whose schema the role has no USAGE on, is not seen)"
            )
        }
        for column in ["id", "feedback"] where !interactions.contains(column) {
            throw Problem(description: "the interactions table has no \(column) column")
        }
        let events = columns["feedback_events", default: []]
        if events.isEmpty {
            throw Problem(
                description: "the database has no feedback_events table: create it once, as the schema's owner, with `feedbackd migrate --postgres-url URL` (or apply deploy/postgres/001_feedback_events.sql)"
            )
        }
        for column in ["id", "interaction_id", "rating", "subject", "created_at"] where !events.contains(column) {
            throw Problem(description: "the feedback_events table has no \(column) column (run `feedbackd migrate`, or repair it by hand)")
        }
        let privileges = try await connection.query(
            """
            SELECT has_column_privilege('interactions', 'id', 'SELECT'),
                has_column_privilege('interactions', 'feedback', 'UPDATE'),
                has_column_privilege('feedback_events', 'interaction_id', 'INSERT')
                    AND has_column_privilege('feedback_events', 'rating', 'INSERT')
                    AND has_column_privilege('feedback_events', 'subject', 'INSERT'),
                coalesce(pg_get_serial_sequence('feedback_events', 'id'), ''),
                coalesce(has_sequence_privilege(pg_get_serial_sequence('feedback_events', 'id'), 'USAGE'), false),
                has_table_privilege('feedback_events', 'SELECT')
            """,
            logger: logger
        )
        for try await (selectID, updateFeedback, insertEvents, sequence, useSequence, selectEvents) in privileges.decode((Bool, Bool, Bool, String, Bool, Bool).self) {
            let grants = Self.grants(to: role, sequence: sequence.isEmpty ? "feedback_events_id_seq" : sequence)
            var missing: [String] = []
            if !selectID || !updateFeedback { missing.append(grants[0]) }
            if !insertEvents { missing.append(grants[1]) }
            if sequence.isEmpty {
                throw Problem(description: "feedback_events.id takes its values from no sequence (run `feedbackd migrate`, or repair it by hand)")
            }
            if !useSequence { missing.append(grants[2]) }
            if !missing.isEmpty {
                throw Problem(description: "the role \(role) lacks privileges the ratings need; as the tables' owner run: \(missing.joined(separator: "; "))")
            }
            return Checked(feedUnreadable: selectEvents ? nil : "the role \(role) may not read feedback_events: the ratings feed fails until the owner runs \(grants[1])")
        }
        throw Problem(description: "PostgreSQL answered the privilege check with no row")
    }

    /// Applies the migrations not applied yet, in one transaction (under an advisory lock, so that two
    /// running at once apply each once), and, with `grantTo`, grants that role ``grants(to:)``. Returns the
    /// migrations applied now (none when the schema was up to date) and the GRANT statements run.
    static func migrate(_ connection: PostgresConnection, grantTo role: String?, logger: Logger) async throws -> (applied: [Migration], granted: [String]) {
        try await connection.withTransaction(logger: logger) { connection in
            // Any constant: the key of feedbackd's migrations among the database's advisory locks.
            try await connection.query("SELECT pg_advisory_xact_lock(7046401160511370617)", logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: Self.createMigrations), logger: logger)
            var applied: Set<Int> = []
            for try await version in try await connection.query("SELECT version FROM feedback_schema_migrations", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            var now: [Migration] = []
            for migration in Self.migrations where !applied.contains(migration.version) {
                for statement in Self.statements(of: migration) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                now.append(migration)
            }
            var granted: [String] = []
            if let role {
                var quoted = role
                for try await identifier in try await connection.query("SELECT quote_ident(\(role))", logger: logger).decode(String.self) {
                    quoted = identifier
                }
                var sequence = "feedback_events_id_seq"
                for try await name in try await connection.query("SELECT pg_get_serial_sequence('feedback_events', 'id')", logger: logger).decode(String.self) {
                    sequence = name
                }
                granted = Self.grants(to: quoted, sequence: sequence)
                for grant in granted {
                    try await connection.query(PostgresQuery(unsafeSQL: grant), logger: logger)
                }
            }
            return (now, granted)
        }
    }
}

import FeedbackPostgres
import Foundation
import Logging
import PostgresNIO

/// The throw-away PostgreSQL cluster `scripts/test.sh` starts (`scripts/postgres-test-cluster.sh`):
/// its URL is in `FEEDBACK_TEST_POSTGRES`. Without it (`swift test` alone) the PostgreSQL cases are
/// skipped; the test command always runs them.
public enum PostgresTest {
    public static let clusterURL = ProcessInfo.processInfo.environment["FEEDBACK_TEST_POSTGRES"]
    public static var isAvailable: Bool { clusterURL != nil }
    /// The same cluster over TCP, TLS only (`postgres-test-cluster.sh start DIR tls`), and its CA file.
    public static let tlsURL = ProcessInfo.processInfo.environment["FEEDBACK_TEST_POSTGRES_TLS"]
    public static let tlsCA = ProcessInfo.processInfo.environment["FEEDBACK_TEST_POSTGRES_CA"]

    /// The cluster's socket path and port, from its URL.
    private static var socket: (path: String, port: Int) {
        let components = URLComponents(string: clusterURL ?? "")
        let directory = components?.queryItems?.first { $0.name == "host" }?.value ?? "/tmp"
        let port = components?.port ?? 5432
        return ("\(directory)/.s.PGSQL.\(port)", port)
    }

    /// A fresh database holding `interactions` with the given ids (unrated), and feedback_events unless
    /// `migrated` is false; returns its URL for the store.
    public static func makeDatabase(interactions: ClosedRange<Int64>, migrated: Bool = true) async throws -> String {
        let name = "fbt_\(UInt32.random(in: .min ... .max))"
        try await self.execute("CREATE DATABASE \(name)", database: "postgres")
        try await self.execute("CREATE TABLE interactions (id BIGINT PRIMARY KEY, question TEXT, answer TEXT, feedback INTEGER)", database: name)
        try await self.execute(
            "INSERT INTO interactions (id, question) SELECT g, 'q' FROM generate_series(\(interactions.lowerBound), \(interactions.upperBound)) AS g",
            database: name
        )
        if migrated { try await self.migrate(database: name) }
        return self.url(of: name)
    }

    /// The URL of `database` in the cluster, as the superuser.
    public static func url(of database: String) -> String {
        var components = URLComponents(string: clusterURL!)!
        components.path = "/\(database)"
        return components.string!
    }

    /// What `feedbackd migrate` does: feedback_events created in `database`.
    public static func migrate(database: String) async throws {
        _ = try await PostgresMigrator.run(configuration: try PostgresConfiguration(url: self.url(of: database), password: nil), grantTo: nil, logger: quietLogger())
    }

    /// Runs one statement `sql` (no parameters) in `database`.
    public static func execute(_ sql: String, database: String) async throws {
        _ = try await self.withConnection(database: database) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: quietLogger())
        }
    }

    /// Listens on `channel` in `database`, runs `body`, and returns the payload of the first notification
    /// that follows.
    public static func firstNotification(on channel: String, database: String, after body: () async throws -> Void) async throws -> String? {
        try await self.withConnection(database: database) { connection in
            try await connection.listen(on: channel) { notifications in
                try await body()
                for try await notification in notifications { return notification.payload }
                return nil
            }
        }
    }

    /// Runs `body` while a transaction that ran `sql` (say, a `SELECT … FOR UPDATE`) is open in
    /// `database`; rolls it back afterwards.
    public static func holdingTransaction(_ sql: String, database: String, _ body: () async throws -> Void) async throws {
        try await self.withConnection(database: database) { connection in
            try await connection.query("BEGIN", logger: quietLogger())
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: quietLogger())
            do {
                try await body()
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: quietLogger())
                throw error
            }
            try await connection.query("ROLLBACK", logger: quietLogger())
        }
    }

    /// The first column of `sql`'s rows, as integers (NULL as nil).
    public static func integers(_ sql: String, database: String) async throws -> [Int64?] {
        try await self.withConnection(database: database) { connection in
            var values: [Int64?] = []
            for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: quietLogger()).decode(Int64?.self) {
                values.append(value)
            }
            return values
        }
    }

    /// The first column of `sql`'s rows, as text.
    public static func strings(_ sql: String, database: String) async throws -> [String] {
        try await self.withConnection(database: database) { connection in
            var values: [String] = []
            for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: quietLogger()).decode(String.self) {
                values.append(value)
            }
            return values
        }
    }

    /// The database name in a URL made by ``makeDatabase(interactions:)``.
    public static func name(of url: String) -> String {
        String(URLComponents(string: url)?.path.dropFirst() ?? "")
    }

    private static func withConnection<T: Sendable>(database: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let configuration = PostgresConnection.Configuration(
            unixSocketPath: self.socket.path, username: "postgres", password: nil, database: database
        )
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: quietLogger())
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

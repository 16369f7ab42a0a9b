import Logging
import PostgresNIO

/// `feedbackd migrate`: brings the database's schema for feedbackd up to date, as a role that may create
/// tables (the schema's owner), once per deployment or upgrade; feedbackd itself never changes the
/// schema, so it can run as a role with only the grants of ``grants(to:)``.
public enum PostgresMigrator {
    /// What a run did.
    public struct Outcome: Sendable {
        /// The migrations applied now, as `version name`; empty when the schema was up to date.
        public var applied: [String]
        /// The GRANT statements run, when a role was given.
        public var granted: [String]
    }

    /// The GRANT statements feedbackd's role needs (least privilege), for the README and for operators
    /// who grant by hand.
    public static func grants(to role: String) -> [String] {
        PostgresSchema.grants(to: role)
    }

    /// The run failed; nothing of it was committed.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Applies the migrations not applied yet, in one transaction, and grants `role` (when given) what
    /// feedbackd needs.
    /// - Throws: ``Failure`` with PostgreSQL's own message when it refused (permission denied, no such role).
    public static func run(configuration: PostgresConfiguration, grantTo role: String?, logger: Logger) async throws(Failure) -> Outcome {
        // With several servers, on the first that takes writes (the primary).
        var answers: [String] = []
        for index in configuration.servers.indices {
            let server = configuration.servers[index].description
            // Its first lease may come before run() has started (a warning of PostgresNIO's, harmless
            // here): only errors of the pool itself are logged.
            var poolLogger = logger
            poolLogger.logLevel = max(logger.logLevel, .error)
            let client = PostgresClient(configuration: configuration.client(index), backgroundLogger: poolLogger)
            do {
                let outcome: Outcome? = try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await client.run() }
                    defer { group.cancelAll() }
                    return try await client.withConnection { connection in
                        var readOnly = "off"
                        for try await setting in try await connection.query("SELECT current_setting('transaction_read_only')", logger: logger).decode(String.self) {
                            readOnly = setting
                        }
                        guard readOnly == "off" else { return nil }
                        let (applied, granted) = try await PostgresSchema.migrate(connection, grantTo: role, logger: logger)
                        return Outcome(applied: applied.map { "\($0.version) \($0.name)" }, granted: granted)
                    }
                }
                if let outcome { return outcome }
                answers.append("\(server) is read-only (a standby)")
            } catch {
                let described = Self.describe(error)
                if configuration.servers.count == 1 { throw Failure(description: "\(configuration.description): \(described)") }
                answers.append("\(server): \(described)")
            }
        }
        throw Failure(description: "no server of \(configuration.description) takes writes: \(answers.joined(separator: "; "))")
    }

    /// PostgreSQL's own message when it refused, else the error.
    private static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return "PostgreSQL refused: \(message)" }
            return "PostgreSQL cannot be reached: \(String(reflecting: error))"
        }
        if let error = error as? PostgresTransactionError {
            for inner in [error.beginError, error.closureError, error.commitError, error.rollbackError] {
                if let inner { return Self.describe(inner) }
            }
        }
        return String(reflecting: error)
    }
}

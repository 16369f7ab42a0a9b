import FeedbackDomain
import FeedbackTestSupport
import Foundation
import Testing

@testable import FeedbackPostgres

@Suite("PostgreSQL store: configuration and what the conformance suite cannot show")
struct PostgresStoreTests {
    @Test("the URL: user, host or socket directory, port, database, sslmode; never a password")
    func configuration() throws {
        let tcp = try PostgresConfiguration(url: "postgres://feedback@db.internal:6432/chat?sslmode=require", password: "pw")
        #expect(tcp.description == "feedback@db.internal:6432/chat")
        let socket = try PostgresConfiguration(url: "postgresql://feedback@localhost/chat?host=/run/postgresql", password: nil)
        #expect(socket.description == "feedback@/run/postgresql/.s.PGSQL.5432/chat")
        for (url, reason) in [
            ("postgres://feedback:secret@db/chat", "must not hold a password"),
            ("postgres://db/chat", "names no user"),
            ("postgres://feedback@db", "names no database"),
            ("postgres://feedback@db/chat?sslmode=sometimes", "sslmode=sometimes"),
            ("postgres://feedback@db/chat?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt", "sslrootcert=/nonexistent/ca.crt is not a readable file"),
            ("mysql://feedback@db/chat", "must look like postgres://"),
        ] {
            #expect {
                try PostgresConfiguration(url: url, password: nil)
            } throws: { error in
                String(describing: error).contains(reason)
            }
        }
    }

    @Test("deploy/postgres/001_feedback_events.sql holds exactly the statements of migration 1 (feedbackd migrate)")
    func migrationFile() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/postgres/001_feedback_events.sql")
        let text = try String(contentsOf: file, encoding: .utf8)
        let statements = text.split(separator: "\n").filter { !$0.hasPrefix("--") }.joined(separator: "\n")
            .split(separator: ";").map(Self.normalized).filter { !$0.isEmpty }
        #expect(PostgresSchema.migrations.map(\.version) == [1])
        #expect(statements == ([PostgresSchema.createMigrations] + PostgresSchema.statements(of: PostgresSchema.migrations[0])).map(Self.normalized))
    }

    private static func normalized(_ sql: some StringProtocol) -> String {
        sql.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    @Test("PostgreSQL not there at start-up: the store starts NOT_SERVING, and serves once the database is there", .enabled(if: PostgresTest.isAvailable))
    func unavailableAtStartUp() async throws {
        // A database that does not exist yet: every connection fails, as with the server down.
        let name = "fbt_late_\(UInt32.random(in: .min ... .max))"
        var components = URLComponents(string: PostgresTest.clusterURL!)!
        components.path = "/\(name)"
        let store = PostgresFeedbackStore(configuration: try PostgresConfiguration(url: components.string!, password: nil), logger: quietLogger())
        try await withServices([store]) {
            await #expect {
                try await store.submit(FeedbackSubmission(interactionID: 1, rating: .positive, subject: "s"))
            } throws: { error in
                if case FeedbackError.storeUnavailable = error { true } else { false }
            }
            #expect(store.isServing == false)
            // The database appears whole (made under another name, then renamed), as a restored one would
            // be switched in: one that answered without interactions at start-up would be refused.
            try await PostgresTest.execute("CREATE DATABASE \(name)_new", database: "postgres")
            try await PostgresTest.execute("CREATE TABLE interactions (id BIGINT PRIMARY KEY, feedback INTEGER)", database: "\(name)_new")
            try await PostgresTest.execute("INSERT INTO interactions (id) VALUES (1)", database: "\(name)_new")
            try await PostgresTest.migrate(database: "\(name)_new")
            try await PostgresTest.execute("ALTER DATABASE \(name)_new RENAME TO \(name)", database: "postgres")
            // Probed once a second; PostgresNIO's pool reconnects with a back-off that grows while the
            // database is missing (on a loaded machine, seconds).
            try await waitUntil(atMost: .seconds(60)) { store.isServing }
            try await store.submit(FeedbackSubmission(interactionID: 1, rating: .positive, subject: "s"))
            #expect(try await PostgresTest.integers("SELECT feedback FROM interactions WHERE id = 1", database: name) == [1])
        }
    }

    @Test("a database without interactions at start-up: the store refuses to run, naming what is missing, and never creates the table", .enabled(if: PostgresTest.isAvailable))
    func noInteractionsTable() async throws {
        let name = "fbt_empty_\(UInt32.random(in: .min ... .max))"
        try await PostgresTest.execute("CREATE DATABASE \(name)", database: "postgres")
        var components = URLComponents(string: PostgresTest.clusterURL!)!
        components.path = "/\(name)"
        let logs = CapturedLogs()
        let store = PostgresFeedbackStore(configuration: try PostgresConfiguration(url: components.string!, password: nil), logger: logs.logger())
        await #expect {
            try await store.run()
        } throws: { error in
            guard case FeedbackError.storeUnavailable(let cause) = error else { return false }
            return cause.contains("the database has no interactions table (feedbackd never creates it")
        }
        #expect(store.isServing == false)
        #expect(logs.all.contains { $0.message == "feedback.store_not_serving" && "\($0.metadata["error"] ?? "")".contains("has no interactions table") })
        #expect(try await PostgresTest.integers("SELECT count(*) FROM information_schema.tables WHERE table_name = 'interactions'", database: name) == [0])
    }

    @Test("the batch statement failing to prepare (its table gone before the first write) does not stick to a connection: once repaired, writes succeed", .enabled(if: PostgresTest.isAvailable))
    func failedPreparationIsForgotten() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await makeStore(.postgres, directory: directory)
            try await withServices(store.services) {
                try await waitUntil { store.store.isServing }
                try await store.breakStorage()  // before any batch was prepared
                for _ in 0..<3 {
                    await #expect(throws: FeedbackError.self) {
                        try await store.store.submit(FeedbackSubmission(interactionID: 1, rating: .positive, subject: "s"))
                    }
                }
                try await store.repairStorage()
                try await waitUntil { store.store.isServing }
                for id: Int64 in 1...5 {
                    try await store.store.submit(FeedbackSubmission(interactionID: id, rating: .negative, subject: "s"))
                    #expect(try await store.rating(id) == -1)
                }
            }
        }
    }

    @Test("a subject with a NUL (PostgreSQL's text cannot hold one) fails alone as unstorable; the rest of its batch is stored", .enabled(if: PostgresTest.isAvailable))
    func nulSubject() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await makeStore(.postgres, directory: directory)
            try await withServices(store.services) {
                try await waitUntil { store.store.isServing }
                let outcomes = await withTaskGroup(of: (String, FeedbackError?).self) { group in
                    for subject in ["ann", "a\u{0}b", "ben"] {
                        group.addTask {
                            do throws(FeedbackError) {
                                try await store.store.submit(FeedbackSubmission(interactionID: 1, rating: .positive, subject: subject))
                                return (subject, nil)
                            } catch {
                                return (subject, error)
                            }
                        }
                    }
                    return await group.reduce(into: [String: FeedbackError?]()) { $0[$1.0] = $1.1 }
                }
                #expect(outcomes == ["ann": nil, "a\u{0}b": .unstorableSubject, "ben": nil])
                #expect(try await store.auditSubjects().sorted() == ["ann", "ben"])
            }
        }
    }

    @Test("the ratings feed lists an event only once it has settled (no batch still being written can hold a smaller id)", .enabled(if: PostgresTest.isAvailable))
    func eventsSettle() async throws {
        let url = try await PostgresTest.makeDatabase(interactions: 1...3)
        var configuration = try PostgresConfiguration(url: url, password: nil)
        #expect(configuration.eventSettleTime == .seconds(11), "twice the 5 s statement timeout, and a second")
        configuration.statementTimeout = .milliseconds(300)
        #expect(configuration.eventSettleTime == .milliseconds(1600), "follows the statement timeout")
        var pinned = configuration
        pinned.eventSettleTime = .seconds(42)
        pinned.statementTimeout = .seconds(1)
        #expect(pinned.eventSettleTime == .seconds(42), "unless set")
        let store = PostgresFeedbackStore(configuration: configuration, logger: quietLogger())
        try await withServices([store]) {
            try await waitUntil { store.isServing }
            try await store.submit(FeedbackSubmission(interactionID: 2, rating: .positive, subject: "s"))
            #expect(try await store.events(after: 0, limit: 10) == [], "too recent")
            // As if its transaction had started longer ago than the settle time.
            try await PostgresTest.execute(
                "UPDATE feedback_events SET created_at = now() - interval '1601 milliseconds'", database: PostgresTest.name(of: url)
            )
            #expect(try await store.events(after: 0, limit: 10).map(\.interactionID) == [2])
        }
    }

    @Test("a page ends at the last settled event: an unsettled event with a smaller id is listed with it, never skipped", .enabled(if: PostgresTest.isAvailable))
    func eventsNeverSkipped() async throws {
        let url = try await PostgresTest.makeDatabase(interactions: 1...3)
        let database = PostgresTest.name(of: url)
        var configuration = try PostgresConfiguration(url: url, password: nil)
        configuration.eventSettleTime = .seconds(60)
        let store = PostgresFeedbackStore(configuration: configuration, logger: quietLogger())
        try await withServices([store]) {
            try await waitUntil { store.isServing }
            // A batch that started now took id 1; one that started long ago waited for a lock and took
            // id 2 later (created_at is when a transaction starts). Once id 2 has settled, id 1 is final.
            try await PostgresTest.execute(
                "INSERT INTO feedback_events (id, interaction_id, rating, subject, created_at) VALUES (1, 1, 1, 'new', now()), (2, 2, -1, 'old', now() - interval '1 hour')",
                database: database
            )
            #expect(try await store.events(after: 0, limit: 10).map(\.subjectText) == ["new", "old"])
            try await PostgresTest.execute("INSERT INTO feedback_events (id, interaction_id, rating, subject) VALUES (3, 3, 1, 'newest')", database: database)
            #expect(try await store.events(after: 2, limit: 10) == [], "nothing settled after id 2 yet")
            #expect(try await store.events(after: 0, limit: 1).map(\.subjectText) == [], "id 1 alone is not settled, and the page ends before id 2")
        }
    }

    @Test("a row another transaction holds: the call fails UNAVAILABLE within the statement timeout, nothing written; then writes succeed", .enabled(if: PostgresTest.isAvailable))
    func lockedRowTimesOut() async throws {
        let url = try await PostgresTest.makeDatabase(interactions: 1...3)
        let database = PostgresTest.name(of: url)
        var configuration = try PostgresConfiguration(url: url, password: nil)
        configuration.statementTimeout = .milliseconds(300)
        let store = PostgresFeedbackStore(configuration: configuration, logger: quietLogger())
        try await withServices([store]) {
            try await waitUntil { store.isServing }
            try await PostgresTest.holdingTransaction("SELECT id FROM interactions WHERE id = 2 FOR UPDATE", database: database) {
                let started = ContinuousClock.now
                await #expect {
                    try await store.submit(FeedbackSubmission(interactionID: 2, rating: .positive, subject: "s"))
                } throws: { error in
                    if case FeedbackError.storeUnavailable = error { true } else { false }
                }
                #expect(ContinuousClock.now - started < .seconds(5), "bounded by the statement timeout, not by the lock")
            }
            #expect(try await PostgresTest.integers("SELECT feedback FROM interactions WHERE id = 2", database: database) == [nil])
            try await waitUntil { store.isServing }
            try await store.submit(FeedbackSubmission(interactionID: 2, rating: .positive, subject: "s"))
            #expect(try await PostgresTest.integers("SELECT feedback FROM interactions WHERE id = 2", database: database) == [1])
        }
    }

    struct TLSCase: Sendable, CustomTestStringConvertible {
        var sslmode: String
        var withCA: Bool
        var serves: Bool
        var testDescription: String { "sslmode=\(self.sslmode)\(self.withCA ? " with sslrootcert" : ""): \(self.serves ? "serves over TLS" : "refused") " }
    }

    @Test(
        "sslmode as libpq, against a server that takes only TLS over TCP with a certificate from its own CA",
        .enabled(if: PostgresTest.tlsURL != nil && PostgresTest.tlsCA != nil),
        arguments: [
            TLSCase(sslmode: "prefer", withCA: false, serves: true),
            TLSCase(sslmode: "require", withCA: false, serves: true),
            TLSCase(sslmode: "verify-ca", withCA: true, serves: true),
            TLSCase(sslmode: "verify-full", withCA: true, serves: true),
            TLSCase(sslmode: "verify-full", withCA: false, serves: false),  // the system's roots do not know the CA
            TLSCase(sslmode: "disable", withCA: false, serves: false),  // the server refuses plain TCP
        ]
    )
    func tls(_ tls: TLSCase) async throws {
        let database = PostgresTest.name(of: try await PostgresTest.makeDatabase(interactions: 1...3))
        var components = URLComponents(string: PostgresTest.tlsURL!)!
        components.path = "/\(database)"
        components.queryItems = [URLQueryItem(name: "sslmode", value: tls.sslmode)]
            + (tls.withCA ? [URLQueryItem(name: "sslrootcert", value: PostgresTest.tlsCA!)] : [])
        var configuration = try PostgresConfiguration(url: components.string!, password: nil)
        // A refused connection is retried by the pool until the probe gives up: connect + statement timeout.
        configuration.options.connectTimeout = .seconds(1)
        configuration.statementTimeout = .seconds(1)
        let logs = CapturedLogs()
        let store = PostgresFeedbackStore(configuration: configuration, logger: logs.logger())
        try await withServices([store]) {
            if tls.serves {
                try await waitUntil { store.isServing }
                try await store.submit(FeedbackSubmission(interactionID: 2, rating: .positive, subject: "s"))
                #expect(try await PostgresTest.integers("SELECT feedback FROM interactions WHERE id = 2", database: database) == [1])
                let encrypted = try await PostgresTest.integers(
                    """
                    SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                    WHERE a.datname = '\(database)' AND a.application_name = 'feedbackd' AND s.ssl
                    """,
                    database: "postgres"
                )
                #expect((encrypted.first ?? 0) ?? 0 > 0, "feedbackd's connections use TLS")
            } else {
                try await waitUntil { logs.all.contains { $0.message == "feedback.store_not_serving" } }
                #expect(store.isServing == false)
            }
        }
    }
}

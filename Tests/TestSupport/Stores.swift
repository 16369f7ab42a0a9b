import FeedbackClient
import FeedbackServer
import RPCCore
import FeedbackDomain
import FeedbackPostgres
import FeedbackSQLite
import Foundation
import GRDB
import Logging
import ServiceLifecycle

/// The stores the service is tested against: PostgreSQL when the test command's throw-away cluster is
/// there (`FEEDBACK_TEST_POSTGRES`).
public enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory, sqlite, postgres
    public var description: String { self.rawValue }

    public static var allCases: [StoreKind] { PostgresTest.isAvailable ? [.memory, .sqlite, .postgres] : [.memory, .sqlite] }
}

/// A store holding interactions 1...10 (unrated), with what a test needs to inspect it.
public struct TestStore: Sendable {
    public var store: any FeedbackStore
    public var services: [any Service]
    /// The stored rating of an interaction, read from the store's own storage.
    public var rating: @Sendable (Int64) async throws -> Int?
    /// How many audit events there are.
    public var eventCount: @Sendable () async throws -> Int
    /// The audit trail's subjects, oldest first.
    public var auditSubjects: @Sendable () async throws -> [String]
    /// Makes writes fail (the storage goes away), and brings it back.
    public var breakStorage: @Sendable () async throws -> Void
    public var repairStorage: @Sendable () async throws -> Void
    /// The database file, for the SQLite store.
    public var path: String?
}

public func makeStore(_ kind: StoreKind, directory: String, interactions: ClosedRange<Int64> = 1...10) async throws -> TestStore {
    switch kind {
    case .memory:
        let store = InMemoryFeedbackStore(interactionIDs: interactions)
        return TestStore(
            store: store, services: [],
            rating: { id in store.rating(of: id).map { Int($0.rawValue) } },
            eventCount: { store.events.count },
            auditSubjects: { store.events.map(\.subject) },
            breakStorage: { store.setAvailable(false) },
            repairStorage: { store.setAvailable(true) }
        )
    case .sqlite:
        let path = directory + "/chat.db"
        try seedDatabase(at: path, interactions: interactions)
        let store = try SQLiteFeedbackStore(configuration: SQLiteConfiguration(path: path), logger: quietLogger())
        return TestStore(
            store: store, services: [store],
            rating: { id in try readRating(path: path, id: id) },
            eventCount: { try DatabaseQueue(path: path).read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM feedback_events") ?? 0 } },
            auditSubjects: { try DatabaseQueue(path: path).read { try String.fetchAll($0, sql: "SELECT subject FROM feedback_events ORDER BY rowid") } },
            breakStorage: { try DatabaseQueue(path: path).write { try $0.execute(sql: "ALTER TABLE interactions RENAME TO interactions_away") } },
            repairStorage: { try DatabaseQueue(path: path).write { try $0.execute(sql: "ALTER TABLE interactions_away RENAME TO interactions") } },
            path: path
        )
    case .postgres:
        let url = try await PostgresTest.makeDatabase(interactions: interactions)
        let database = PostgresTest.name(of: url)
        var configuration = try PostgresConfiguration(url: url, password: nil)
        configuration.eventSettleTime = .zero  // the conformance suite lists what it just wrote
        let store = PostgresFeedbackStore(configuration: configuration, logger: quietLogger())
        return TestStore(
            store: store, services: [store],
            rating: { id in try await PostgresTest.integers("SELECT feedback FROM interactions WHERE id = \(id)", database: database).first?.map(Int.init) },
            eventCount: { Int(try await PostgresTest.integers("SELECT count(*) FROM feedback_events", database: database).first.flatMap { $0 } ?? 0) },
            auditSubjects: { try await PostgresTest.strings("SELECT subject FROM feedback_events ORDER BY id", database: database) },
            breakStorage: { try await PostgresTest.execute("ALTER TABLE interactions RENAME TO interactions_away", database: database) },
            repairStorage: { try await PostgresTest.execute("ALTER TABLE interactions_away RENAME TO interactions", database: database) }
        )
    }
}

/// Creates the chat backend's table (as the backend would) with unrated rows.
public func seedDatabase(at path: String, interactions: ClosedRange<Int64>) throws {
    let queue = try DatabaseQueue(path: path)
    try queue.write { db in
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS interactions (id INTEGER PRIMARY KEY, question TEXT, answer TEXT, feedback INTEGER)")
        for id in interactions {
            try db.execute(sql: "INSERT OR IGNORE INTO interactions (id, question, answer) VALUES (?, 'q', 'a')", arguments: [id])
        }
    }
}

public func readRating(path: String, id: Int64) throws -> Int? {
    try DatabaseQueue(path: path).read { db in
        try Int?.fetchOne(db, sql: "SELECT feedback FROM interactions WHERE id = ?", arguments: [id]) ?? nil
    }
}

/// feedbackd's services (with authentication) over a fresh store of `kind`, and a client of them in
/// process (the service's semantics need no socket; `TransportTests` runs the same calls over both).
public func withStoreAndClient(
    _ kind: StoreKind,
    interactions: ClosedRange<Int64> = 1...10,
    _ body: (TestStore, FeedbackClient) async throws -> Void
) async throws {
    try await withTemporaryDirectory { directory in
        let store = try await makeStore(kind, directory: directory, interactions: interactions)
        let router = FeedbackdRouter.make(store: store.store, verifier: try await TestAuth.verifier())
        let client = FeedbackClient(transport: InProcessTransport(router: router, logger: quietLogger()))
        try await withServices(store.services) {
            try await waitUntil { store.store.isServing }  // PostgreSQL: connected, schema checked
            try await body(store, client)
        }
    }
}

/// Runs `services` (a store's writer) for the duration of `body`, then shuts them down gracefully.
public func withServices(_ services: [any Service], _ body: () async throws -> Void) async throws {
    guard !services.isEmpty else { return try await body() }
    let group = ServiceGroup(services: services, logger: quietLogger())
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            try await body()
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

import FeedbackClient
import FeedbackDomain
import FeedbackSQLite
import Foundation
import GRDB
import Logging
import Testing

@Suite("SQLite store")
struct StoreTests {
    @Test("a write lock held by another process gives UNAVAILABLE after the busy timeout; health still answers")
    func lockedByAnotherProcess() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/chat.db"
            try seedDatabase(at: path, interactions: 1...3)
            var configuration = SQLiteConfiguration(path: path)
            configuration.busyTimeout = .milliseconds(300)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let store = try SQLiteFeedbackStore(configuration: configuration, logger: logger)
            // Another process takes the write lock and keeps it for 3 seconds.
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            holder.arguments = [
                "python3", "-c",
                "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(3)",
                path,
            ]
            let output = Pipe()
            holder.standardOutput = output
            try holder.run()
            defer { holder.terminate() }
            _ = output.fileHandleForReading.availableData  // "locked"

            try await withFeedbackServer(store: store, extraServices: [store]) { socket in
                let client = FeedbackClient(socketPath: socket)
                let token = try await TestAuth.token()
                let error = await #expect(throws: RPCError.self) {
                    try await client.submitFeedback(interactionID: 1, rating: 1, token: token)
                }
                #expect(error?.code == .unavailable)
                #expect(error?.message == "Feedback store unavailable.")
                #expect(try await client.checkHealth() == .serving, "reads are not blocked by the writer's lock")
                holder.terminate()
                holder.waitUntilExit()
                try await client.submitFeedback(interactionID: 1, rating: 1, token: token)
                #expect(try readRating(path: path, id: 1) == 1)
                await client.close()
            }
        }
    }

    @Test("rows inserted by another process while feedbackd runs can be rated")
    func sharedDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeStore(.sqlite, directory: directory, interactions: 1...1)
            let path = try #require(store.path)
            try await withFeedbackServer(store: store.store, extraServices: store.services) { socket in
                let client = FeedbackClient(socketPath: socket)
                let token = try await TestAuth.token()
                try runProcess("/usr/bin/sqlite3", [path, "INSERT INTO interactions (id, question) VALUES (500, 'new')"])
                try await client.submitFeedback(interactionID: 500, rating: -1, token: token)
                #expect(try readRating(path: path, id: 500) == -1)
                await client.close()
            }
        }
    }

    @Test("a new database file gets the schema, in WAL mode with synchronous FULL")
    func newDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/new.db"
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            _ = try SQLiteFeedbackStore(configuration: SQLiteConfiguration(path: path), logger: logger)
            let tables = try runProcess("/usr/bin/sqlite3", [path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"])
            #expect(tables.contains("interactions"))
            #expect(tables.contains("feedback_events"))
            let columns = try runProcess("/usr/bin/sqlite3", [path, "SELECT name FROM pragma_table_info('interactions')"])
            #expect(columns.split(separator: "\n").contains("feedback"))
            #expect(try runProcess("/usr/bin/sqlite3", [path, "PRAGMA journal_mode"]).hasPrefix("wal"))
        }
    }

    @Test("an unopenable path is a clear error")
    func unopenable() throws {
        #expect(throws: FeedbackError.self) {
            try SQLiteFeedbackStore(configuration: SQLiteConfiguration(path: "/nonexistent-dir/x/chat.db"), logger: Logger(label: "t"))
        }
    }
}

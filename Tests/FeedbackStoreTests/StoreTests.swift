import FeedbackClient
import FeedbackDomain
@testable import FeedbackSQLite
import FeedbackTestSupport
import Foundation
import GRDB
import Logging
import RPCCodec
import RPCCore
import RPCUnixTransport
import FeedbackServer
import Synchronization
import Testing

@Suite("SQLite store")
struct StoreTests {
    @Test("a write lock held by another process gives UNAVAILABLE after the busy timeout and NOT_SERVING until writes succeed")
    func lockedByAnotherProcess() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/chat.db"
            try seedDatabase(at: path, interactions: 1...3)
            var configuration = SQLiteConfiguration(path: path)
            configuration.busyTimeout = .milliseconds(300)
            let store = try SQLiteFeedbackStore(configuration: configuration, logger: quietLogger())
            let holder = try LockHolder(path: path)
            defer { holder.release() }
            try await withFeedbackServer(store: store, extraServices: [store]) { socket in
                let client = FeedbackClient(socketPath: socket)
                let token = try await TestAuth.token()
                #expect(try await client.checkHealth() == .serving)
                let error = await #expect(throws: RPCError.self) {
                    try await client.submitFeedback(interactionID: 1, rating: 1, token: token)
                }
                #expect(error?.code == .unavailable)
                #expect(error?.message == "Feedback store unavailable.")
                #expect(try await client.checkHealth() == .notServing, "writes are failing: health says so")
                holder.release()
                try await client.submitFeedback(interactionID: 1, rating: 1, token: token)
                #expect(try readRating(path: path, id: 1) == 1)
                #expect(try await client.checkHealth() == .serving)
                await client.close()
            }
        }
    }

    /// Before: the first batch waited the busy timeout, and ratings queued behind it waited it again
    /// (about twice the busy timeout for the second rating).
    @Test("a lock is waited for once: a rating queued while the writer waits fails a busy timeout after its own arrival")
    func lockWaitedOnce() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/chat.db"
            try seedDatabase(at: path, interactions: 1...3)
            var configuration = SQLiteConfiguration(path: path)
            // Long enough that a loaded machine still sees the writer waiting before the first rating
            // gives up (a 3 s wait was missed once with both cores busy).
            configuration.busyTimeout = .seconds(8)
            try await withRunningStore(configuration) { store in
                let holder = try LockHolder(path: path)
                defer { holder.release() }
                let clock = ContinuousClock()
                let firstAnswered = Flag()
                let first = Task {
                    try? await store.submit(.init(interactionID: 1, rating: .positive, subject: "a"))
                    firstAnswered.set()
                }
                try await waitUntil { store.isWaitingForLock || firstAnswered.isSet }
                try #require(store.isWaitingForLock, "the writer's wait for the first rating was over before this test saw it")
                let second = await clock.measure {
                    await #expect(throws: FeedbackError.self) {
                        try await store.submit(.init(interactionID: 2, rating: .positive, subject: "b"))
                    }
                }
                _ = await first.value
                // Its own wait is 8 s from its arrival; waiting twice would take ~16 s (the first one's, then its own).
                #expect(second < .seconds(12), "waited \(second)")
                #expect(store.isServing == false)
            }
        }
    }

    /// Before: the writer took the queued ratings into a batch and then waited for the lock, so a
    /// cancellation during the wait could not withdraw them and they were written when the lock freed.
    @Test("while the writer waits for another process's lock, every rating is still queued: cancelled means not written")
    func cancelledWhileWaitingForTheLock() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/chat.db"
            try seedDatabase(at: path, interactions: 1...3)
            var configuration = SQLiteConfiguration(path: path)
            configuration.busyTimeout = .seconds(30)
            try await withRunningStore(configuration) { store in
                let holder = try LockHolder(path: path)
                defer { holder.release() }
                let first = Task { try await store.submit(.init(interactionID: 1, rating: .positive, subject: "a")) }
                try await waitUntil { store.isWaitingForLock }
                let second = Task { try await store.submit(.init(interactionID: 2, rating: .negative, subject: "b")) }
                try await waitUntil { store.depth.queued == 2 }
                #expect(store.depth.committing == 0, "no batch is formed before the lock is held")
                first.cancel()
                second.cancel()
                // Both answered while the lock is still held.
                await #expect(throws: FeedbackError.cancelled) { try await first.value }
                await #expect(throws: FeedbackError.cancelled) { try await second.value }
                holder.release()
                try await store.submit(.init(interactionID: 3, rating: .positive, subject: "c"))  // the writer is past the wait
                #expect(try readRating(path: path, id: 3) == 1)
                #expect(try readRating(path: path, id: 1) == nil, "cancelled while waiting for the lock: never written")
                #expect(try readRating(path: path, id: 2) == nil, "cancelled while waiting for the lock: never written")
                #expect(store.isServing, "giving up a wait nobody needs is no failure")
            }
        }
    }

    @Test("over RPC: a call past its deadline while the writer waits for the lock is DEADLINE_EXCEEDED and never written")
    func deadlineWhileQueued() async throws {
        try await withLockableFeedbackServer { path, store, socket in
            let client = FeedbackClient(socketPath: socket)
            let token = try await TestAuth.token()
            let holder = try LockHolder(path: path)
            defer { holder.release() }
            let first = Task { try await client.submitFeedback(interactionID: 1, rating: 1, token: token) }
            try await waitUntil { store.isWaitingForLock }
            let connection = try await ClientConnection.connect(to: socket)
            let late = try await connection.call(
                try request(FeedbackService.submitFeedbackPath, [0x08, 0x02, 0x10, 0x01], timeoutMs: 200, metadata: [("authorization", "Bearer \(token)")])
            )
            #expect(late.code == StatusCode.deadlineExceeded.rawValue)
            holder.release()
            try await first.value
            #expect(try readRating(path: path, id: 2) == nil, "DEADLINE_EXCEEDED means not written")
            #expect(try readRating(path: path, id: 1) == 1)
            await connection.close()
            await client.close()
        }
    }

    /// Before: a token not yet verified runs the call in a task; its deadline was answered after the
    /// interrupt grace or with OK once the lock freed, and the rating was written either way.
    @Test("over RPC, on a fresh server (token not verified yet) and a warm one: the deadline while the lock is held is DEADLINE_EXCEEDED, never written", arguments: [false, true])
    func deadlineFreshAndWarm(warm: Bool) async throws {
        try await withLockableFeedbackServer { path, store, socket in
            let token = try await TestAuth.token()
            let authorization = [("authorization", "Bearer \(token)")]
            let connection = try await ClientConnection.connect(to: socket)
            if warm {
                #expect(try await connection.call(try request(FeedbackService.submitFeedbackPath, [0x08, 0x03, 0x10, 0x01], metadata: authorization)).code == 0)
            }
            let holder = try LockHolder(path: path)
            defer { holder.release() }
            let clock = ContinuousClock()
            let started = clock.now
            let answer = try await connection.call(
                try request(FeedbackService.submitFeedbackPath, [0x08, 0x01, 0x10, 0x01], timeoutMs: 300, metadata: authorization)
            )
            let elapsed = clock.now - started
            #expect(answer.code == StatusCode.deadlineExceeded.rawValue, "answered \(answer.code)")
            #expect(store.depth.queued == 0)
            holder.release()
            // A later rating committed: the writer is past the wait, and anything it took is written by now.
            #expect(try await connection.call(try request(FeedbackService.submitFeedbackPath, [0x08, 0x02, 0x10, 0x01], metadata: authorization)).code == 0)
            #expect(try readRating(path: path, id: 1) == nil, "DEADLINE_EXCEEDED means not written (answered after \(elapsed))")
            await connection.close()
        }
    }

    @Test("over RPC with a verified token (no task): CANCEL while the writer waits for the lock is CANCELLED and never written")
    func cancelWhileQueuedOverRPC() async throws {
        try await withLockableFeedbackServer { path, store, socket in
            let token = try await TestAuth.token()
            let authorization = [("authorization", "Bearer \(token)")]
            let connection = try await ClientConnection.connect(to: socket)
            // The token is verified (and remembered) once; later calls are checked on the event loop.
            #expect(try await connection.call(try request(FeedbackService.submitFeedbackPath, [0x08, 0x03, 0x10, 0x01], metadata: authorization)).code == 0)
            let holder = try LockHolder(path: path)
            defer { holder.release() }
            let raw = try RawConnection(path: socket)
            try raw.send(callID: 1, request(FeedbackService.submitFeedbackPath, [0x08, 0x01, 0x10, 0x01], metadata: authorization))
            try await waitUntil { store.isWaitingForLock }
            try raw.send(callID: 2, request(FeedbackService.submitFeedbackPath, [0x08, 0x02, 0x10, 0x01], metadata: authorization))
            try await waitUntil { store.depth.queued == 2 }
            raw.send(.cancel(callID: 2))
            raw.send(.cancel(callID: 1))
            var answers: [UInt32: UInt32] = [:]
            while answers.count < 2 {
                guard let (id, answer) = try await raw.receiveSkippingHello()?.response else {
                    Issue.record("no answer")
                    return
                }
                answers[id] = answer.code
            }
            #expect(answers == [1: StatusCode.cancelled.rawValue, 2: StatusCode.cancelled.rawValue], "answered while the lock is still held")
            holder.release()
            #expect(try await connection.call(try request(FeedbackService.submitFeedbackPath, [0x08, 0x03, 0x10, 0x01], metadata: authorization)).code == 0)
            #expect(try readRating(path: path, id: 1) == nil, "CANCELLED means not written")
            #expect(try readRating(path: path, id: 2) == nil, "CANCELLED means not written")
            await connection.close()
        }
    }

    @Test("a deleted database: UNAVAILABLE and NOT_SERVING, nothing recreated; a file put back is used")
    func deletedDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/chat.db"
            try seedDatabase(at: path, interactions: 1...3)
            try await withRunningStore(SQLiteConfiguration(path: path)) { store in
                try await store.submit(.init(interactionID: 1, rating: .positive, subject: "a"))
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
                try await waitUntil { !store.isServing }  // noticed without a write: the store checks its files each second
                await #expect(throws: FeedbackError.self) {
                    try await store.submit(.init(interactionID: 2, rating: .positive, subject: "a"))
                }
                #expect(store.isServing == false)
                #expect(!FileManager.default.fileExists(atPath: path), "a deleted database is not silently recreated")
                try seedDatabase(at: path, interactions: 1...3)
                try await store.submit(.init(interactionID: 2, rating: .negative, subject: "a"))
                #expect(try readRating(path: path, id: 2) == -1)
                #expect(store.isServing)
            }
        }
    }

    @Test("only the WAL deleted: what it held is checkpointed into the file, and later ratings are written too")
    func deletedWAL() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/chat.db"
            try seedDatabase(at: path, interactions: 1...3)
            try await withRunningStore(SQLiteConfiguration(path: path)) { store in
                try await store.submit(.init(interactionID: 1, rating: .positive, subject: "a"))
                try FileManager.default.removeItem(atPath: path + "-wal")
                try await store.submit(.init(interactionID: 2, rating: .negative, subject: "a"))
                #expect(try readRating(path: path, id: 1) == 1, "the acknowledged rating survived the WAL's deletion")
                #expect(try readRating(path: path, id: 2) == -1)
            }
        }
    }

    @Test("synchronous FULL holds on the connection that commits (GRDB's WAL set-up would lower it to NORMAL); NORMAL when asked")
    func synchronousInEffect() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteFeedbackStore(configuration: SQLiteConfiguration(path: directory + "/full.db", createIfMissing: true), logger: quietLogger())
            #expect(store.synchronousInEffect == .full)
            var normal = SQLiteConfiguration(path: directory + "/normal.db", createIfMissing: true)
            normal.synchronous = .normal
            #expect(try SQLiteFeedbackStore(configuration: normal, logger: quietLogger()).synchronousInEffect == .normal)
        }
    }

    @Test("a database replaced under feedbackd: the rating lands in the file now at the path, never the old one")
    func replacedDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/chat.db"
            try seedDatabase(at: path, interactions: 1...3)
            try seedDatabase(at: directory + "/restored.db", interactions: 1...3)
            try await withRunningStore(SQLiteConfiguration(path: path)) { store in
                try await store.submit(.init(interactionID: 1, rating: .positive, subject: "a"))
                #expect(rename(directory + "/restored.db", path) == 0)
                try await store.submit(.init(interactionID: 3, rating: .negative, subject: "a"))
                #expect(try readRating(path: path, id: 3) == -1, "acknowledged, so it is in the file at the path")
                #expect(try readRating(path: path, id: 1) == nil, "the restored file is the one in use, without the old WAL's pages")
                #expect(store.isServing)
            }
        }
    }

    @Test("a removed directory: UNAVAILABLE and NOT_SERVING until the database is back")
    func removedDirectory() async throws {
        try await withTemporaryDirectory { directory in
            let folder = directory + "/data"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let path = folder + "/chat.db"
            try seedDatabase(at: path, interactions: 1...3)
            try await withRunningStore(SQLiteConfiguration(path: path)) { store in
                try await store.submit(.init(interactionID: 1, rating: .positive, subject: "a"))
                try FileManager.default.removeItem(atPath: folder)
                await #expect(throws: FeedbackError.self) {
                    try await store.submit(.init(interactionID: 2, rating: .positive, subject: "a"))
                }
                #expect(store.isServing == false)
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try seedDatabase(at: path, interactions: 1...3)
                try await store.submit(.init(interactionID: 2, rating: .positive, subject: "a"))
                #expect(try readRating(path: path, id: 2) == 1)
            }
        }
    }

    @Test(
        "a full disk: UNAVAILABLE and NOT_SERVING; SERVING again once space is free, without a write",
        .enabled(if: getuid() == 0, "mounts a small tmpfs")
    )
    func diskFull() async throws {
        try await withTemporaryDirectory { directory in
            let mount = directory + "/small"
            try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
            try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mount])
            defer { _ = try? runProcess("/bin/umount", ["-l", mount]) }
            let path = mount + "/chat.db"
            try seedDatabase(at: path, interactions: 1...1000)
            try await withRunningStore(SQLiteConfiguration(path: path)) { store in
                try await store.submit(.init(interactionID: 1, rating: .positive, subject: "a"))
                // Fill the file system to its last byte.
                _ = try? runProcessWithStatus("/bin/dd", ["if=/dev/zero", "of=\(mount)/filler", "bs=64k"])
                var failures = 0
                for id in Int64(2)...200 {
                    do {
                        try await store.submit(.init(interactionID: id, rating: .negative, subject: String(repeating: "x", count: 2000)))
                    } catch {
                        failures += 1
                        break
                    }
                }
                #expect(failures == 1, "a write failed once the disk was full")
                #expect(store.isServing == false)
                try FileManager.default.removeItem(atPath: mount + "/filler")
                // The store probes once a second while unhealthy.
                try await waitUntil { store.isServing }  // space is free again
                try await store.submit(.init(interactionID: 999, rating: .positive, subject: "a"))
            }
        }
    }

    @Test("a table without the feedback column: the store refuses to start and names the column")
    func missingColumn() throws {
        try withTemporaryDirectorySync { directory in
            let path = directory + "/chat.db"
            try DatabaseQueue(path: path).write { try $0.execute(sql: "CREATE TABLE interactions (id INTEGER PRIMARY KEY, question TEXT)") }
            let error = #expect(throws: FeedbackError.self) {
                try SQLiteFeedbackStore(configuration: SQLiteConfiguration(path: path), logger: quietLogger())
            }
            #expect(error?.description.contains("the table interactions has no feedback column") == true, "\(String(describing: error))")
        }
    }

    @Test("an existing database without interactions: the store refuses to start instead of creating an empty table")
    func missingTable() throws {
        try withTemporaryDirectorySync { directory in
            let path = directory + "/chat.db"
            try DatabaseQueue(path: path).write { try $0.execute(sql: "CREATE TABLE other (id INTEGER)") }
            let error = #expect(throws: FeedbackError.self) {
                try SQLiteFeedbackStore(configuration: SQLiteConfiguration(path: path), logger: quietLogger())
            }
            #expect(error?.description.contains("no interactions table") == true, "\(String(describing: error))")
            let tables = try runProcess("/usr/bin/sqlite3", [path, "SELECT name FROM sqlite_master WHERE type = 'table'"])
            #expect(!tables.contains("interactions"))
        }
    }

    @Test("the audit trail stores every byte of the signed subject, NUL included; an empty subject is empty, not NULL")
    func subjectBytes() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/chat.db"
            try seedDatabase(at: path, interactions: 1...3)
            try await withRunningStore(SQLiteConfiguration(path: path)) { store in
                try await store.submit(.init(interactionID: 1, rating: .positive, subject: "a\u{0}b\u{1F600}"))
                // A token without `sub` has an empty subject: stored as '' (the column is NOT NULL), and
                // the batch it shares with another rating succeeds.
                async let empty: Void = store.submit(.init(interactionID: 2, rating: .negative, subject: ""))
                async let other: Void = store.submit(.init(interactionID: 3, rating: .positive, subject: "c"))
                _ = try await (empty, other)
            }
            let hex = try runProcess(
                "/usr/bin/sqlite3", [path, "SELECT hex(CAST(subject AS BLOB)), typeof(subject) FROM feedback_events ORDER BY interaction_id"]
            )
            #expect(hex.trimmingCharacters(in: .whitespacesAndNewlines) == "610062F09F9880|text\n|text\n63|text")
        }
    }

    @Test("rows inserted by another process while feedbackd runs can be rated")
    func sharedDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await makeStore(.sqlite, directory: directory, interactions: 1...1)
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

    @Test("a missing file is refused and not created; asked to (the demo), a new file gets the schema, in WAL mode with synchronous FULL")
    func newDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/new.db"
            #expect {
                try SQLiteFeedbackStore(configuration: SQLiteConfiguration(path: path), logger: quietLogger())
            } throws: { error in
                "\(error)".contains("there is no database file at \(path)")
            }
            #expect(!FileManager.default.fileExists(atPath: path))
            _ = try SQLiteFeedbackStore(configuration: SQLiteConfiguration(path: path, createIfMissing: true), logger: quietLogger())
            let tables = try runProcess("/usr/bin/sqlite3", [path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"])
            #expect(tables.contains("interactions"))
            #expect(tables.contains("feedback_events"))
            let columns = try runProcess("/usr/bin/sqlite3", [path, "SELECT name FROM pragma_table_info('interactions')"])
            #expect(columns.split(separator: "\n").contains("feedback"))
            #expect(try runProcess("/usr/bin/sqlite3", [path, "PRAGMA journal_mode"]).hasPrefix("wal"))
            // The demo page's answers are there to be rated (1, 2 and 3), unrated.
            let rows = try runProcess("/usr/bin/sqlite3", [path, "SELECT id, feedback IS NULL FROM interactions ORDER BY id"])
            #expect(rows.split(separator: "\n") == ["1|1", "2|1", "3|1"])
        }
    }

    @Test("a batch is committed and its calls answered on the store's own writer thread, never in Swift's cooperative pool")
    func answeredOnWriterThread() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/chat.db"
            try seedDatabase(at: path, interactions: 1...2)
            try await withRunningStore(SQLiteConfiguration(path: path)) { store in
                for id: Int64 in [1, 2, 3] {
                    let thread = await withCheckedContinuation { (answered: CheckedContinuation<String, Never>) in
                        _ = store.enqueue(.init(interactionID: id, rating: .positive, subject: "s")) { _ in
                            answered.resume(returning: currentThreadName())
                        }
                    }
                    #expect(thread == "feedback-writer", "interaction \(id) was answered on \(thread)")
                }
            }
        }
    }

    @Test("the commit time (and a log line's) is written as SQLite's strftime('%Y-%m-%dT%H:%M:%fZ') writes it", arguments: [
        (0, 0), (951_782_400, 5), (1_796_601_599, 999), (4_102_444_800, 123), (1_733_490_074, 40),
    ])
    func commitTime(seconds: Int, milliseconds: Int) throws {
        let sqlite = try runProcess(
            "/usr/bin/sqlite3", [":memory:", "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', \(seconds) + \(milliseconds) / 1000.0, 'unixepoch')"]
        )
        #expect(UTCTimestamp.format(seconds: seconds, milliseconds: milliseconds) == sqlite.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(UTCTimestamp.format(seconds: seconds, milliseconds: milliseconds - 1000) == UTCTimestamp.format(seconds: seconds, milliseconds: milliseconds))
        let now = UTCTimestamp.now()
        #expect(now.count == 24 && now.hasSuffix("Z"), "\(now)")
    }

    @Test("an unopenable path is a clear error")
    func unopenable() throws {
        #expect(throws: FeedbackError.self) {
            try SQLiteFeedbackStore(configuration: SQLiteConfiguration(path: "/nonexistent-dir/x/chat.db"), logger: quietLogger())
        }
    }
}

/// A SQLite store whose writer runs for the duration of `body`, then stops.
/// feedbackd (with authentication) on a socket over a SQLite store of interactions 1...3 whose lock
/// waits are long (30 s), so that a test holding the lock (``LockHolder``) decides when batches commit.
func withLockableFeedbackServer(_ body: (_ path: String, _ store: SQLiteFeedbackStore, _ socket: String) async throws -> Void) async throws {
    try await withTemporaryDirectory { directory in
        let path = directory + "/chat.db"
        try seedDatabase(at: path, interactions: 1...3)
        var configuration = SQLiteConfiguration(path: path)
        configuration.busyTimeout = .seconds(30)
        let store = try SQLiteFeedbackStore(configuration: configuration, logger: quietLogger())
        try await withFeedbackServer(store: store, extraServices: [store]) { socket in
            try await body(path, store, socket)
        }
    }
}

func withRunningStore(_ configuration: SQLiteConfiguration, _ body: (SQLiteFeedbackStore) async throws -> Void) async throws {
    let store = try SQLiteFeedbackStore(configuration: configuration, logger: quietLogger())
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await store.run() }
        defer { group.cancelAll() }
        try await body(store)
    }
}

/// A flag set once, read from any task.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { self.value.store(true, ordering: .releasing) }
    var isSet: Bool { self.value.load(ordering: .acquiring) }
}

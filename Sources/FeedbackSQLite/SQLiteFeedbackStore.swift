import FeedbackDomain
import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// Ratings in SQLite, written with group commit: every submission waiting when a write starts goes
/// into the same transaction and shares its fsync; each is answered only after that commit.
///
/// A `Service`: ``run()`` is the single writer and must be running for ``submit(_:)`` to complete.
/// Writes run on GRDB's serial queue, never on a NIO event loop. WAL journal, `synchronous` FULL by
/// default, and a busy timeout, so another process holding the write lock gives
/// ``FeedbackError/storeUnavailable(cause:)`` after the timeout instead of a hang.
public final class SQLiteFeedbackStore: FeedbackStore, Service {
    private struct Pending {
        var submission: FeedbackSubmission
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var pending: [Pending] = []
        var stopped = false
    }

    private let database: DatabasePool
    private let configuration: SQLiteConfiguration
    private let logger: Logger
    private let state = Mutex(State())
    private let (wakeups, wakeup) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    /// Opens (and if new, creates) the database.
    /// - Throws: ``FeedbackError/storeUnavailable(cause:)`` when it cannot be opened or prepared.
    public init(configuration: SQLiteConfiguration, logger: Logger) throws(FeedbackError) {
        var grdb = Configuration()
        grdb.journalMode = .wal
        grdb.busyMode = .timeout(TimeInterval(configuration.busyTimeout.components.seconds)
            + TimeInterval(configuration.busyTimeout.components.attoseconds) / 1e18)
        grdb.label = "feedback-store"
        let synchronous = configuration.synchronous.rawValue
        grdb.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        do {
            self.database = try DatabasePool(path: configuration.path, configuration: grdb)
            try self.database.write { db in try SQLiteSchema.create(db) }
        } catch {
            throw .storeUnavailable(cause: "cannot open \(configuration.path): \(error)")
        }
        self.configuration = configuration
        self.logger = logger
    }

    public func submit(_ submission: FeedbackSubmission) async throws(FeedbackError) {
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let accepted = self.state.withLock { state in
                    guard !state.stopped else { return false }
                    state.pending.append(Pending(submission: submission, continuation: continuation))
                    return true
                }
                if accepted {
                    self.wakeup.yield()
                } else {
                    continuation.resume(throwing: FeedbackError.storeUnavailable(cause: "the store is shutting down"))
                }
            }
        } catch let error as FeedbackError {
            throw error
        } catch {
            throw .storeUnavailable(cause: "\(error)")
        }
    }

    /// The single writer: commits batches until graceful shutdown, then the last pending ones.
    public func run() async {
        await withGracefulShutdownHandler {
            for await _ in self.wakeups {
                await self.drain()
            }
        } onGracefulShutdown: {
            self.wakeup.finish()
        }
        self.state.withLock { $0.stopped = true }
        await self.drain()
    }

    private func drain() async {
        while true {
            let batch: [Pending] = self.state.withLock { state in
                let count = min(state.pending.count, self.configuration.maxBatchSize)
                defer { state.pending.removeFirst(count) }
                return Array(state.pending.prefix(count))
            }
            if batch.isEmpty { return }
            await self.commit(batch)
        }
    }

    /// Writes one batch in one IMMEDIATE transaction and answers each submission after the commit.
    private func commit(_ batch: [Pending]) async {
        let submissions = batch.map(\.submission)
        do {
            let found: [Bool] = try await self.database.writeWithoutTransaction { db in
                var found: [Bool] = []
                try db.inTransaction(.immediate) {
                    found = try submissions.map { try Self.write($0, in: db) }
                    return .commit
                }
                return found
            }
            for (pending, found) in zip(batch, found) {
                if found {
                    pending.continuation.resume()
                } else {
                    pending.continuation.resume(throwing: FeedbackError.interactionNotFound(pending.submission.interactionID))
                }
            }
        } catch {
            self.logger.error("feedback.store_write_failed", metadata: ["error": "\(error)", "batch.size": "\(batch.count)"])
            for pending in batch {
                pending.continuation.resume(throwing: FeedbackError.storeUnavailable(cause: "\(error)"))
            }
        }
    }

    private static func write(_ submission: FeedbackSubmission, in db: Database) throws -> Bool {
        let rating = Int(submission.rating.rawValue)
        try db.execute(sql: "UPDATE interactions SET feedback = ? WHERE id = ?", arguments: [rating, submission.interactionID])
        guard db.changesCount > 0 else { return false }
        try db.execute(
            sql: """
                INSERT INTO feedback_events (interaction_id, rating, subject, created_at)
                VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                """,
            arguments: [submission.interactionID, rating, submission.subject]
        )
        return true
    }

    public func isHealthy() async -> Bool {
        do {
            return try await self.database.read { db in
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM interactions LIMIT 1) OR 1") ?? false
            }
        } catch {
            self.logger.warning("feedback.store_unhealthy", metadata: ["error": "\(error)"])
            return false
        }
    }
}

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
/// default.
///
/// What it promises beyond a plain connection:
/// - **A lock is waited for once.** No submission waits for another process's write lock longer than
///   the busy timeout from the moment it arrived; then it is ``FeedbackError/storeUnavailable(cause:)``.
/// - **The file at the path is the file written.** Before a batch and again before it is acknowledged,
///   the file at ``SQLiteConfiguration/path`` is compared (device, inode) with the one open. If it was
///   deleted or replaced, the batch fails as unavailable (its commit reached a file nobody will read),
///   the store reports not serving, and it reopens the file now at the path; a missing file is not
///   created again but waited for.
/// - **Cancelled means not written.** A submission whose task is cancelled (the call's CANCEL or
///   deadline) while it is still queued is removed and fails; once its batch is being committed it is
///   answered with the commit's outcome.
/// - **Health is the writes' health.** ``isServing`` answers from state, never a query: false after a
///   failed write until a commit succeeds or a probe (every second while unhealthy: the file at the
///   path, its schema, the write lock, free space) says writes can succeed again.
public final class SQLiteFeedbackStore: FeedbackStore, Service {
    private struct State {
        /// Why writes are not expected to succeed, or nil when they are.
        var unhealthy: String?
        var lastProbe: ContinuousClock.Instant?
    }

    /// Space a probe requires in the database's file system before it reports serving again.
    static let minimumFreeBytes: UInt64 = 1 << 20

    private let configuration: SQLiteConfiguration
    private let logger: Logger
    private let state = Mutex(State())
    /// Used by the writer only (``run()``, and ``init`` before it); a Mutex only to be `Sendable`.
    private let database: Mutex<OpenDatabase?>
    private let busyDeadline = BusyDeadline()
    private let queue = GroupCommitQueue(store: "sqlite")

    /// Opens the database; creates `feedback_events` (and its index) when missing, never `interactions`
    /// unless the configuration creates a missing file with the demo schema.
    /// - Throws: ``FeedbackError/storeUnavailable(cause:)`` when there is no file (and none is to be
    ///   created), when it cannot be opened, when it has no `interactions` table, or when a table lacks a
    ///   column the writes use (the cause names it).
    public init(configuration: SQLiteConfiguration, logger: Logger) throws(FeedbackError) {
        self.configuration = configuration
        self.logger = logger
        self.busyDeadline.instant.withLock { $0 = .now + configuration.busyTimeout }
        do {
            let isNew = FileIdentity(path: configuration.path) == nil
            self.database = Mutex(
                try OpenDatabase.open(configuration, busyDeadline: self.busyDeadline, creating: isNew && configuration.createIfMissing)
            )
        } catch {
            throw .storeUnavailable(cause: "cannot use \(configuration.path): \(error)")
        }
    }

    /// Queues `submission` for the next batch and returns after its commit.
    /// - Throws: ``FeedbackError/interactionNotFound(_:)``; ``FeedbackError/storeUnavailable(cause:)`` when
    ///   the commit failed or the store is stopping; ``FeedbackError/cancelled`` when the task was
    ///   cancelled before its batch began (nothing was written).
    public func submit(_ submission: FeedbackSubmission) async throws(FeedbackError) {
        try await self.queue.submit(submission)
    }

    /// Queues `submission` for the next batch; `completion` runs on the writer after its commit.
    public func enqueue(
        _ submission: FeedbackSubmission,
        completion: @escaping @Sendable (Result<Void, FeedbackError>) -> Void
    ) -> @Sendable () -> Void {
        self.queue.enqueue(submission, completion: completion)
    }

    /// The audit trail after `eventID`, read on a read-only connection of its own (the writer's is left to
    /// the writer), opened for the page: under WAL it never waits for a write. Ids are given in commit
    /// order (SQLite has one writer at a time), so a reader paging on misses nothing.
    public func events(after eventID: Int64, limit: Int) async throws(FeedbackError) -> [StoredFeedbackEvent] {
        let (path, busyTimeout) = (self.configuration.path, self.configuration.busyTimeout)
        do {
            return try await Self.offCooperativePool {
                guard FileIdentity(path: path) != nil else { throw StoreFailure.fileMissing(path) }
                var configuration = Configuration()
                configuration.readonly = true
                configuration.busyMode = .timeout(Double(busyTimeout.components.seconds))
                let reader = try DatabaseQueue(path: path, configuration: configuration)
                defer { try? reader.close() }
                return try reader.read { db in
                    try Row.fetchAll(
                        db,
                        sql: "SELECT id, interaction_id, rating, subject, created_at FROM feedback_events WHERE id > ? ORDER BY id LIMIT ?",
                        arguments: [eventID, limit]
                    ).map { row in
                        StoredFeedbackEvent(
                            eventID: row[0], interactionID: row[1], rating: row[2], subject: row[3] ?? "", createdAt: row[4] ?? ""
                        )
                    }
                }
            }
        } catch {
            throw .storeUnavailable(cause: "cannot read the audit trail of \(path): \(error)")
        }
    }

    /// `PRAGMA synchronous` as read back from the connection that commits, when one is open.
    public var synchronousInEffect: SQLiteConfiguration.Synchronous? {
        self.database.withLock { $0?.synchronous }
    }

    /// Submissions waiting for the next batch, and those in the batch being committed.
    public var depth: (queued: Int, committing: Int) { self.queue.depth }

    /// Whether writes are expected to succeed: no failed write since the last success or probe.
    public var isServing: Bool {
        self.state.withLock { $0.unhealthy == nil }
    }

    /// The single writer: commits batches until graceful shutdown, then the last pending ones. While
    /// unhealthy it probes the database once a second.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    self.queue.wake()
                }
            }
            await withGracefulShutdownHandler {
                while await self.queue.waitForWork() {
                    await self.drain()
                    await self.probeIfDue()
                }
            } onGracefulShutdown: {
                self.queue.finishWaiting()
            }
            group.cancelAll()
        }
        self.queue.stop()
        await self.drain()
        let open = self.database.withLock { database -> OpenDatabase? in
            defer { database = nil }
            return database
        }
        try? open?.queue.close()
    }

    private func drain() async {
        await self.queue.drain(maxCount: self.configuration.maxBatchSize) { batch in await self.commit(batch) }
    }

    /// Writes one batch in one IMMEDIATE transaction and answers each submission after the commit.
    private func commit(_ batch: [GroupCommitQueue.Item]) async {
        let submissions = batch.map(\.submission)
        // Each submission waits for a lock at most busyTimeout from its arrival; the oldest decides.
        let deadline = batch[0].arrival + self.configuration.busyTimeout
        do {
            let open = try await self.currentDatabase(deadline: deadline)
            self.busyDeadline.instant.withLock { $0 = deadline }
            let found: [Bool] = try await open.queue.writeWithoutTransaction { db in
                var found: [Bool] = []
                try db.inTransaction(.immediate) {
                    let statements = try BatchStatements(db)
                    found = try submissions.map { try statements.write($0) }
                    return .commit
                }
                return found
            }
            guard open.isCurrent(at: self.configuration.path) else { throw StoreFailure.fileChanged(self.configuration.path) }
            self.markHealthy()
            for (pending, found) in zip(batch, found) {
                pending.complete(found ? .success(()) : .failure(.interactionNotFound(pending.submission.interactionID)))
            }
        } catch {
            self.logger.error("feedback.store_write_failed", metadata: ["error": "\(error)", "batch.size": "\(batch.count)"])
            self.markUnhealthy("\(error)")
            if case StoreFailure.fileChanged = error { await self.closeDatabase() }
            for pending in batch {
                pending.complete(.failure(.storeUnavailable(cause: "\(error)")))
            }
        }
    }

    /// The open database, if the files at the path are still the ones open; otherwise (re)opens the
    /// file now at the path, creating nothing, waiting for locks until `deadline`.
    /// - Throws: ``StoreFailure`` when there is no usable file at the path; GRDB's errors.
    private func currentDatabase(deadline: ContinuousClock.Instant) async throws -> OpenDatabase {
        if let open = self.database.withLock({ $0 }) {
            if open.isCurrent(at: self.configuration.path) { return open }
            self.logger.error("feedback.store_file_changed", metadata: ["db.path": "\(self.configuration.path)"])
            await self.closeDatabase()
        }
        guard FileIdentity(path: self.configuration.path) != nil else { throw StoreFailure.fileMissing(self.configuration.path) }
        self.busyDeadline.instant.withLock { $0 = deadline }
        let (configuration, busyDeadline) = (self.configuration, self.busyDeadline)
        let reopened = try await Self.offCooperativePool {
            try OpenDatabase.open(configuration, busyDeadline: busyDeadline, creating: false)
        }
        self.database.withLock { $0 = reopened }
        self.logger.notice("feedback.store_reopened", metadata: ["db.path": "\(self.configuration.path)"])
        return reopened
    }

    /// Closes the connection, setting a replaced or deleted file's WAL aside first (``OpenDatabase``).
    private func closeDatabase() async {
        let open = self.database.withLock { database -> OpenDatabase? in
            defer { database = nil }
            return database
        }
        guard let open else { return }
        open.setAsideOrphanedWAL(path: self.configuration.path, logger: self.logger)
        do {
            try await Self.offCooperativePool { try open.queue.close() }
        } catch {
            self.logger.warning("feedback.store_close_failed", metadata: ["error": "\(error)"])
        }
    }

    /// Runs blocking work (opening, closing: they may wait for locks) on a Dispatch thread, never on
    /// a thread of Swift's cooperative pool.
    private static func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    /// While unhealthy, at most once a second: can writes succeed again? The file at the path (reopened
    /// if it changed), its schema, the write lock (taken and released at once) and free space.
    private func probeIfDue() async {
        // Healthy and idle: only check that the files at the path are still the ones open (two stats),
        // so that health tells of a deleted database before a write does.
        if self.state.withLock({ $0.unhealthy == nil }) {
            if let open = self.database.withLock({ $0 }), !open.isCurrent(at: self.configuration.path) {
                self.markUnhealthy(StoreFailure.fileChanged(self.configuration.path).description)
            }
            return
        }
        let due = self.state.withLock { state -> Bool in
            guard state.unhealthy != nil, self.queue.isEmpty else { return false }
            if let last = state.lastProbe, ContinuousClock.now - last < .seconds(1) { return false }
            state.lastProbe = .now
            return true
        }
        guard due else { return }
        do {
            let open = try await self.currentDatabase(deadline: .now)
            self.busyDeadline.instant.withLock { $0 = .now }
            try await open.queue.writeWithoutTransaction { db in
                try SQLiteSchema.check(db)
                try db.execute(sql: "BEGIN IMMEDIATE")
                try db.execute(sql: "ROLLBACK")
            }
            let directory = (self.configuration.path as NSString).deletingLastPathComponent
            if let free = availableBytes(at: directory.isEmpty ? "." : directory), free < Self.minimumFreeBytes {
                throw StoreFailure.diskFull(free)
            }
            self.markHealthy()
        } catch {
            self.logger.debug("feedback.store_probe_failed", metadata: ["error": "\(error)"])
        }
    }

    private func markHealthy() {
        let was = self.state.withLock { state -> String? in
            defer { state.unhealthy = nil }
            return state.unhealthy
        }
        if was != nil { self.logger.notice("feedback.store_serving") }
    }

    private func markUnhealthy(_ reason: String) {
        let wasHealthy = self.state.withLock { state -> Bool in
            defer {
                state.unhealthy = reason
                state.lastProbe = .now
            }
            return state.unhealthy == nil
        }
        if wasHealthy { self.logger.error("feedback.store_not_serving", metadata: ["error": "\(reason)"]) }
    }
}

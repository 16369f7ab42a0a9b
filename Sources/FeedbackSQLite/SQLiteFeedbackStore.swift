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
/// Writes run on a thread of their own (`feedback-writer`), never on a NIO event loop nor in Swift's
/// cooperative pool: it sleeps until a submission arrives, begins the batch at once and answers each
/// call from there. WAL journal, `synchronous` FULL by default.
///
/// What it promises beyond a plain connection:
/// - **A batch is formed only once the write lock is held.** The writer takes the lock (`BEGIN
///   IMMEDIATE`, waiting for another process's lock) *before* it takes the queued submissions; while it
///   waits, every submission is still queued and can be withdrawn (its call's CANCEL or deadline answers
///   at once, and it is never written). Once its batch is taken, only the writes and the COMMIT remain:
///   no lock wait lies between a submission leaving the queue and its answer.
/// - **A lock is waited for once.** No submission waits for another process's write lock longer than
///   the busy timeout from the moment it arrived; then it is ``FeedbackError/storeUnavailable(cause:)``,
///   taken out of the queue while the writer goes on waiting for those that arrived later.
/// - **The file at the path is the file written.** Before a batch and again before it is acknowledged,
///   the file at ``SQLiteConfiguration/path`` is compared (device, inode) with the one open. If it was
///   deleted or replaced, the batch fails as unavailable (its commit reached a file nobody will read),
///   the store reports not serving, and it reopens the file now at the path; a missing file is not
///   created again but waited for.
/// - **Cancelled means not written.** A submission whose task is cancelled (the call's CANCEL or
///   deadline) while it is still queued is removed and fails; once its batch is being committed (the
///   lock held: a few writes and one fsync away) it is answered with the commit's outcome.
/// - **Health is the writes' health.** ``isServing`` answers from state, never a query: false after a
///   failed write until a commit succeeds or a probe (every second while unhealthy: the file at the
///   path, its schema, the write lock, free space) says writes can succeed again.
public final class SQLiteFeedbackStore: FeedbackStore, Service {
    /// Space a probe requires in the database's file system before it reports serving again.
    static let minimumFreeBytes: UInt64 = 1 << 20

    private let configuration: SQLiteConfiguration
    private let logger: Logger
    /// The queue, the writer loop and the store's health (shared with every store with group commit).
    private let writer: GroupCommitWriter
    /// When the probe last ran (or a write failed): it runs at most once a second.
    private let lastProbe = Mutex<ContinuousClock.Instant?>(nil)
    /// When the healthy writer last checked, between batches, that the files at the path are the ones
    /// open: once a second, not after every batch (each batch checks before and after its commit).
    private let lastIdleCheck = Mutex<ContinuousClock.Instant>(.now)
    /// Used by the writer only (``run()``, and ``init`` before it); a Mutex only to be `Sendable`.
    private let database: Mutex<OpenDatabase?>
    /// The newest audit event committed, advanced by the writer after each commit.
    public let committedEvents: CommittedEvents
    /// A commit is listed at once: readers see every committed row.
    public var eventSettleTime: Duration { .zero }
    private let busyWait = BusyWait()

    /// Opens the database; creates `feedback_events` (and its index) when missing, never `interactions`
    /// unless the configuration creates a missing file with the demo schema.
    /// - Throws: ``FeedbackError/storeUnavailable(cause:)`` when there is no file (and none is to be
    ///   created), when it cannot be opened, when it has no `interactions` table, or when a table lacks a
    ///   column the writes use (the cause names it).
    public init(configuration: SQLiteConfiguration, logger: Logger) throws(FeedbackError) {
        self.configuration = configuration
        self.logger = logger
        var writes = GroupCommitWriter.Configuration(maxBatchSize: configuration.maxBatchSize)
        writes.batchFormation = .onceBegun
        writes.probing = .betweenBatches
        writes.waiting = .thread
        self.writer = GroupCommitWriter(store: "sqlite", configuration: writes, logger: logger)
        do {
            let isNew = FileIdentity(path: configuration.path) == nil
            let opened = try OpenDatabase.open(
                configuration, busyWait: self.busyWait, deadline: .now + configuration.busyTimeout, creating: isNew && configuration.createIfMissing
            )
            self.database = Mutex(opened)
            self.committedEvents = CommittedEvents(latest: opened.latestEventID)
        } catch {
            throw .storeUnavailable(cause: "cannot use \(configuration.path): \(error)")
        }
    }

    /// Queues `submission` for the next batch; `completion` runs on the writer after its commit.
    public func enqueue(
        _ submission: FeedbackSubmission,
        completion: @escaping @Sendable (Result<Void, FeedbackError>) -> Void
    ) -> @Sendable () -> Void {
        self.writer.enqueue(submission, completion: completion)
    }

    /// Fills `page` with the audit trail after `eventID`, read on a read-only connection of its own (the
    /// writer's is left to the writer), opened for the page: under WAL it never waits for a write. Ids
    /// are given in commit order (SQLite has one writer at a time), so a reader paging on misses nothing.
    /// Rows are stepped through one at a time (``StoredEventRow``) and reading stops at the first that
    /// does not fit the page or cannot be represented.
    public func events<Page: FeedbackEventsPage>(after eventID: Int64, into page: Page) async throws(FeedbackError) -> Page {
        let (path, busyTimeout) = (self.configuration.path, self.configuration.busyTimeout)
        do {
            return try await Self.onDispatchThread {
                guard FileIdentity(path: path) != nil else { throw StoreFailure.fileMissing(path) }
                var configuration = Configuration()
                configuration.readonly = true
                configuration.busyMode = .timeout(Double(busyTimeout.components.seconds))
                let reader = try DatabaseQueue(path: path, configuration: configuration)
                defer { try? reader.close() }
                return try reader.read { db in
                    var page = page
                    try StoredEventRow.read(db, after: eventID, into: &page)
                    return page
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
    public var depth: (queued: Int, committing: Int) { self.writer.depth }

    /// Whether the writer is waiting for a lock another connection holds (its submissions still queued).
    var isWaitingForLock: Bool { self.busyWait.isWaitingForLock }

    /// Whether writes are expected to succeed: no failed write since the last success or probe.
    public var isServing: Bool { self.writer.isServing }

    /// The single writer (``GroupCommitWriter``): commits batches until graceful shutdown, then the last
    /// pending ones, and closes the database. While unhealthy it probes the database once a second.
    public func run() async {
        await self.writer.run(onDedicatedThread: Writes(store: self), name: "feedback-writer")
        let open = self.database.withLock { database -> OpenDatabase? in
            defer { database = nil }
            return database
        }
        // Closing checkpoints the WAL (an fsync): off the caller's thread, which may be an event loop.
        if let open { _ = try? await Self.onDispatchThread { try open.queue.close() } }
    }

    /// What the writer calls: one batch, and the probe when it is due.
    private struct Writes: BlockingGroupCommitStorage {
        let store: SQLiteFeedbackStore
        func commit(_ batch: GroupCommitBatch) { self.store.commit(batch) }
        func probe() { self.store.probeIfDue() }
    }

    /// What became of one attempt at a batch.
    private enum BatchOutcome {
        /// The lock was not taken: every queued submission was withdrawn or expired while the writer
        /// waited, or one arrived just as it gave up (the next attempt takes it).
        case notBegun
        /// The lock was taken and the queue was empty by then: nothing written.
        case empty
        case committed([GroupCommitQueue.Item], found: [Bool], lastEventID: Int64, events: [StoredFeedbackEvent])
        case failed(any Error)
    }

    /// Takes the write lock, then the queued submissions (at most ``SQLiteConfiguration/maxBatchSize``),
    /// writes them in that one IMMEDIATE transaction and answers each after the commit.
    ///
    /// While the lock is awaited the submissions stay queued, so a CANCEL or deadline withdraws them (and
    /// they are never written); each waits at most the busy timeout from its arrival, then fails as
    /// unavailable while the writer goes on waiting for any that came later.
    private func commit(_ batch: GroupCommitBatch) {
        let outcome: BatchOutcome
        let open: OpenDatabase
        do {
            open = try self.currentDatabase(deadline: batch.started + self.configuration.busyTimeout)
        } catch {
            self.failed(batch, error)
            return
        }
        let lockWaitCause = "the database stayed locked by another connection for the busy timeout"
        let queue = self.writer.queue
        do {
            outcome = try open.queue.writeWithoutTransaction { [busyWait, configuration, committedEvents = self.committedEvents] db -> BatchOutcome in
                let rule: BusyWait.Rule = {
                    // Keep waiting while a submission that arrived less than the busy timeout ago is
                    // queued; those that waited longer fail (the store is unhealthy before they hear it).
                    let (expired, newest) = queue.expire(arrivedBefore: .now - configuration.busyTimeout)
                    if !expired.isEmpty {
                        self.logger.error("feedback.store_write_failed", metadata: ["error": "\(lockWaitCause)", "batch.size": "\(expired.count)"])
                        self.markUnhealthy(lockWaitCause)
                        for item in expired { item.complete(.failure(.storeUnavailable(cause: lockWaitCause))) }
                    }
                    return newest.map { $0 + configuration.busyTimeout }
                }
                do {
                    try busyWait.waiting(rule) { try db.execute(sql: "BEGIN IMMEDIATE") }
                } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                    return .notBegun
                }
                // The lock is held: from here the batch's members are decided, and only the writes and
                // the COMMIT lie between them and their answers.
                let items = batch.take()
                do {
                    guard !items.isEmpty else {
                        try db.execute(sql: "ROLLBACK")
                        return .empty
                    }
                    let statements = try BatchStatements(db)
                    // The batch's events for live readers, only while some watch (CommittedEvents).
                    let keepEvents = committedEvents.wantsEvents
                    var events: [StoredFeedbackEvent] = []
                    let found = try items.map { item in
                        let inserted = try statements.write(item.submission)
                        if inserted, keepEvents { events.append(statements.event(id: db.lastInsertedRowID, of: item.submission)) }
                        return inserted
                    }
                    // The batch's last audit row (the newest event: ids only grow), before COMMIT ends
                    // the transaction that inserted it; an older id when the batch inserted none.
                    let lastEventID = db.lastInsertedRowID
                    try db.execute(sql: "COMMIT")
                    return .committed(items, found: found, lastEventID: lastEventID, events: events)
                } catch {
                    if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
                    return .failed(error)
                }
            }
        } catch {
            // BEGIN itself failed (not a lock held too long): what waits cannot be written now.
            self.failed(batch, error)
            return
        }
        switch outcome {
        case .empty:
            return
        case .notBegun:
            // SQLite may report the lock busy without asking the busy handler (another connection
            // recovering the WAL, say): a pause, so that such a state is not retried in a tight loop.
            if !queue.isEmpty { usleep(1000) }
        case .failed(let error):
            self.failed(batch, error)
        case .committed(let items, let found, let lastEventID, let events):
            guard open.isCurrent(at: self.configuration.path) else {
                // Committed to a file nobody will read: as good as not written.
                self.closeDatabase()
                self.failed(batch, StoreFailure.fileChanged(self.configuration.path))
                return
            }
            self.writer.markHealthy()
            self.committedEvents.advance(to: lastEventID, events: events)
            // Recorded before the answers, so that a caller who has its answer finds the batch in the metrics.
            batch.written()
            for (pending, found) in zip(items, found) {
                pending.complete(found ? .success(()) : .failure(.interactionNotFound(pending.submission.interactionID)))
            }
        }
    }

    /// Answers every submission of `batch` (taken now if it was not) as unavailable (nothing of it was
    /// committed), and marks the store unhealthy until a commit or a probe succeeds.
    private func failed(_ batch: GroupCommitBatch, _ error: any Error) {
        let items = batch.take()
        batch.written()
        self.lastProbe.withLock { $0 = .now }
        self.writer.fail(items, cause: "\(error)")
    }

    /// The open database, if the files at the path are still the ones open; otherwise (re)opens the
    /// file now at the path, creating nothing, waiting for locks until `deadline`.
    /// - Throws: ``StoreFailure`` when there is no usable file at the path; GRDB's errors.
    private func currentDatabase(deadline: ContinuousClock.Instant) throws -> OpenDatabase {
        if let open = self.database.withLock({ $0 }) {
            if open.isCurrent(at: self.configuration.path) { return open }
            self.logger.error("feedback.store_file_changed", metadata: ["db.path": "\(self.configuration.path)"])
            self.closeDatabase()
        }
        guard FileIdentity(path: self.configuration.path) != nil else { throw StoreFailure.fileMissing(self.configuration.path) }
        let reopened = try OpenDatabase.open(self.configuration, busyWait: self.busyWait, deadline: deadline, creating: false)
        self.database.withLock { $0 = reopened }
        self.committedEvents.advance(to: reopened.latestEventID)
        self.logger.notice("feedback.store_reopened", metadata: ["db.path": "\(self.configuration.path)"])
        return reopened
    }

    /// Closes the connection, setting a replaced or deleted file's WAL aside first (``OpenDatabase``).
    private func closeDatabase() {
        let open = self.database.withLock { database -> OpenDatabase? in
            defer { database = nil }
            return database
        }
        guard let open else { return }
        open.setAsideOrphanedWAL(path: self.configuration.path, logger: self.logger)
        do {
            try open.queue.close()
        } catch {
            self.logger.warning("feedback.store_close_failed", metadata: ["error": "\(error)"])
        }
    }

    /// Runs blocking work (a reader's page: it may wait for a lock; the last close) on a Dispatch thread,
    /// never on a thread of Swift's cooperative pool or an event loop.
    private static func onDispatchThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    /// While unhealthy, at most once a second: can writes succeed again? The file at the path (reopened
    /// if it changed), its schema, the write lock (taken and released at once) and free space.
    private func probeIfDue() {
        // Healthy: only check, once a second, that the files at the path are still the ones open (two
        // stats), so that health tells of a deleted database before a write does.
        if self.writer.isServing {
            let due = self.lastIdleCheck.withLock { last in
                guard ContinuousClock.now - last >= .seconds(1) else { return false }
                last = .now
                return true
            }
            if due, let open = self.database.withLock({ $0 }), !open.isCurrent(at: self.configuration.path) {
                self.markUnhealthy(StoreFailure.fileChanged(self.configuration.path).description)
            }
            return
        }
        let due = self.lastProbe.withLock { lastProbe -> Bool in
            guard self.writer.queue.isEmpty else { return false }
            if let last = lastProbe, ContinuousClock.now - last < .seconds(1) { return false }
            lastProbe = .now
            return true
        }
        guard due else { return }
        do {
            let open = try self.currentDatabase(deadline: .now)
            try open.queue.writeWithoutTransaction { db in
                try SQLiteSchema.check(db)
                try db.execute(sql: "BEGIN IMMEDIATE")
                try db.execute(sql: "ROLLBACK")
            }
            let directory = (self.configuration.path as NSString).deletingLastPathComponent
            if let free = availableBytes(at: directory.isEmpty ? "." : directory), free < Self.minimumFreeBytes {
                throw StoreFailure.diskFull(free)
            }
            self.writer.markHealthy()
        } catch {
            self.logger.debug("feedback.store_probe_failed", metadata: ["error": "\(error)"])
        }
    }

    /// Not serving for `reason`; the next probe is a second away.
    private func markUnhealthy(_ reason: String) {
        self.lastProbe.withLock { $0 = .now }
        self.writer.markUnhealthy(reason)
    }
}


import Logging
import ServiceLifecycle
import Synchronization

/// What a store with group commit supplies to its ``GroupCommitWriter``: how to write one batch, and how
/// to find out whether writes can succeed again.
public protocol GroupCommitStorage: Sendable {
    /// Writes one batch and completes each of its items exactly once (``GroupCommitQueue/Item/complete(_:)``).
    /// Takes the batch's items with ``GroupCommitBatch/take()`` (with ``GroupCommitWriter/Configuration/BatchFormation/onceBegun``,
    /// once the write has begun: they stay withdrawable until then).
    func commit(_ batch: GroupCommitBatch) async

    /// Whether writes can succeed: ``GroupCommitWriter/markHealthy()`` or ``GroupCommitWriter/markUnhealthy(_:)``.
    /// Called once a second (and, with ``GroupCommitWriter/Configuration/Probing/betweenBatches``, after
    /// every pass over the queue: the store decides whether a probe is due).
    func probe() async
}

/// ``GroupCommitStorage`` for a store whose writes block the thread (SQLite: the lock wait, the fsync): the
/// writer runs it on a thread of its own (``GroupCommitWriter/run(onDedicatedThread:name:)``), which it
/// may block, so that a commit is begun as soon as the thread is woken and answered from there, without
/// a hop through Swift's cooperative pool. Same contract as ``GroupCommitStorage``, synchronous.
public protocol BlockingGroupCommitStorage: Sendable {
    /// Writes one batch and completes each of its items exactly once, before returning.
    func commit(_ batch: GroupCommitBatch)

    /// Whether writes can succeed; called after every pass over the queue (a pass ends when the queue is
    /// empty), and once a second while nothing arrives.
    func probe()
}

/// The writer of a store with group commit: the part every such store shares, once.
///
/// - It owns the queue (``enqueue(_:completion:)`` is the store's), the writer loop (up to
///   ``Configuration/batchesInFlight`` batches at once, each written by the store's
///   ``GroupCommitStorage/commit(_:)``), the probe's clock, and the store's health (``isServing``,
///   logged as `feedback.store_not_serving` / `feedback.store_serving` when it changes).
/// - Graceful shutdown: new submissions are refused as unavailable; those queued are still written,
///   and ``run(_:)`` returns once every batch has been.
public final class GroupCommitWriter: Sendable {
    public struct Configuration: Sendable {
        /// Most submissions in one batch.
        public var maxBatchSize: Int
        /// Batches written at once (never two holding one interaction).
        public var batchesInFlight: Int = 1
        public var batchFormation: BatchFormation = .beforeWrite
        public var probing: Probing = .besideWrites
        public var healthLog: HealthLog = .transitions
        /// How the writer waits for work: ``GroupCommitQueue/Waiting/thread`` for a writer that runs on a
        /// thread of its own (``GroupCommitWriter/run(onDedicatedThread:name:)``).
        public var waiting: GroupCommitQueue.Waiting = .task

        public init(maxBatchSize: Int) {
            self.maxBatchSize = maxBatchSize
        }

        /// When a batch's members are decided.
        public enum BatchFormation: Sendable {
            /// Taken from the queue, then handed to the store.
            case beforeWrite
            /// Taken by the store once its write has begun (SQLite: the write lock held), so that while
            /// the store waits to begin every submission can still be withdrawn. One batch at a time.
            case onceBegun
        }

        /// When `feedback.store_not_serving` is logged.
        public enum HealthLog: Sendable {
            /// When the store stops serving (a failure that repeats, or alternates with another, is
            /// counted in the write failures' own lines, not logged again).
            case transitions
            /// Also when the reason changes while not serving (PostgreSQL: unreachable, then read-only,
            /// then a schema problem are three things for an operator to know).
            case reasonChanges
        }

        /// Where the probe runs.
        public enum Probing: Sendable {
            /// In a task beside the writer (a probe that waits for a server does not hold up answers).
            case besideWrites
            /// On the writer, between passes over the queue (it uses what the writes use).
            case betweenBatches
        }
    }

    public let configuration: Configuration
    package let queue: GroupCommitQueue
    private let logger: Logger
    /// Why writes are not expected to succeed, or nil when they are.
    private let unhealthy: Mutex<String?>

    /// - Parameters:
    ///   - store: the store's kind (`sqlite`, `postgres`), the `store` label of its metrics.
    ///   - initiallyUnhealthy: why the store is not serving before its first probe, if it is not.
    ///   - logger: for the health lines, with the store's metadata (which database).
    public init(store: String, configuration: Configuration, initiallyUnhealthy: String? = nil, logger: Logger) {
        self.configuration = configuration
        self.queue = GroupCommitQueue(store: store, waiting: configuration.waiting)
        self.unhealthy = Mutex(initiallyUnhealthy)
        self.logger = logger
    }

    // MARK: the store's side

    /// Queues `submission` for a batch (``FeedbackStore/enqueue(_:completion:)``).
    public func enqueue(
        _ submission: FeedbackSubmission,
        completion: @escaping @Sendable (Result<Void, FeedbackError>) -> Void
    ) -> @Sendable () -> Void {
        self.queue.enqueue(submission, completion: completion)
    }

    /// Submissions waiting for a batch, and those in the batches being written.
    public var depth: (queued: Int, committing: Int) { self.queue.depth }

    /// Whether writes are expected to succeed: no failed write since the last success or probe.
    public var isServing: Bool { self.unhealthy.withLock { $0 == nil } }

    /// Why writes are not expected to succeed, or nil.
    package var unhealthyReason: String? { self.unhealthy.withLock { $0 } }

    package func markHealthy() {
        let was = self.unhealthy.withLock { unhealthy -> String? in
            defer { unhealthy = nil }
            return unhealthy
        }
        if was != nil { self.logger.notice("feedback.store_serving") }
    }

    /// Records why writes are not expected to succeed; logged as ``Configuration/healthLog`` says.
    package func markUnhealthy(_ reason: String) {
        let was = self.unhealthy.withLock { unhealthy -> String? in
            defer { unhealthy = reason }
            return unhealthy
        }
        let log = switch self.configuration.healthLog {
        case .transitions: was == nil
        case .reasonChanges: was != reason
        }
        if log { self.logger.error("feedback.store_not_serving", metadata: ["error": "\(reason)"]) }
    }

    /// Answers every item as unavailable (nothing of them was written), logs the failed write and marks
    /// the store unhealthy until a commit or a probe succeeds.
    package func fail(_ items: [GroupCommitQueue.Item], cause: String) {
        self.logger.error("feedback.store_write_failed", metadata: ["error": "\(cause)", "batch.size": "\(items.count)"])
        self.markUnhealthy(cause)
        for item in items { item.complete(.failure(.storeUnavailable(cause: cause))) }
    }

    /// Ends the writer's wait for work (the store cannot run: ``run(_:)`` then writes what is queued
    /// and returns).
    package func stopWaiting() {
        self.queue.finishWaiting()
    }

    // MARK: the writer

    /// Writes batches with `storage` until graceful shutdown (or ``stopWaiting()``), probing once a
    /// second; then refuses new submissions and writes the last batches.
    public func run(_ storage: some GroupCommitStorage) async {
        await withTaskGroup(of: Void.self) { clock in
            clock.addTask {
                switch self.configuration.probing {
                case .besideWrites:
                    while !Task.isCancelled {
                        await storage.probe()
                        try? await Task.sleep(for: .seconds(1))
                    }
                case .betweenBatches:
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        self.queue.wake()
                    }
                }
            }
            await withDiscardingTaskGroup { writes in
                await withGracefulShutdownHandler {
                    repeat {
                        await self.startBatches(storage, in: &writes)
                        if case .betweenBatches = self.configuration.probing { await storage.probe() }
                    } while await self.queue.waitForWork()
                } onGracefulShutdown: {
                    self.queue.finishWaiting()
                }
                self.queue.stop()
            }  // waits for the batches being written
            while let batch = self.nextBatch() {
                await self.write(batch, storage)
            }
            clock.cancelAll()
        }
    }

    /// Writes batches with `storage` on a thread of its own (named `name`) until graceful shutdown, task
    /// cancellation or ``stopWaiting()``, probing after each pass over the queue and once a second while
    /// nothing arrives; then refuses
    /// new submissions and writes the last batches. For a store whose batches are taken once begun and
    /// whose probe runs between them (``Configuration/waiting`` ``GroupCommitQueue/Waiting/thread``).
    ///
    /// The thread sleeps until a submission arrives in an empty queue, begins the batch at once, and
    /// completes its items itself: a call's answer goes from here straight to its connection.
    public func run(onDedicatedThread storage: some BlockingGroupCommitStorage, name: String) async {
        precondition(
            self.configuration.waiting == .thread && self.configuration.batchFormation == .onceBegun
                && self.configuration.probing == .betweenBatches,
            "a writer on a thread of its own waits on it, takes its batches once begun and probes between them"
        )
        // Graceful shutdown, or the task cancelled (a task of its own ends its wait so), ends the wait.
        await withTaskCancellationOrGracefulShutdownHandler {
            await DedicatedThread.run(name: name) {
                repeat {
                    self.writeQueued(storage)
                    storage.probe()
                } while self.queue.waitForWork(timeout: .seconds(1))
                self.queue.stop()
                self.writeQueued(storage)
            }
        } onCancelOrGracefulShutdown: {
            self.queue.finishWaiting()
        }
    }

    /// Writes batches on the calling thread until the queue is empty (one pass).
    private func writeQueued(_ storage: some BlockingGroupCommitStorage) {
        while let batch = self.nextBatch() {
            storage.commit(batch)
            batch.written()
        }
    }

    /// Starts as many batches as may be written at once (each ends by waking the writer); a store that
    /// takes its batch once begun writes one at a time, here, until the queue is empty.
    private func startBatches(_ storage: some GroupCommitStorage, in writes: inout DiscardingTaskGroup) async {
        switch self.configuration.batchFormation {
        case .beforeWrite:
            while let batch = self.nextBatch() {
                writes.addTask { await self.write(batch, storage) }
            }
        case .onceBegun:
            while let batch = self.nextBatch() {
                await self.write(batch, storage)
            }
        }
    }

    /// The next batch to write, or nil when none waits (or as many as may be are being written).
    private func nextBatch() -> GroupCommitBatch? {
        switch self.configuration.batchFormation {
        case .beforeWrite:
            let items = self.queue.nextBatch(maxCount: self.configuration.maxBatchSize, maxInFlight: self.configuration.batchesInFlight)
            return items.isEmpty ? nil : GroupCommitBatch(queue: self.queue, taken: items)
        case .onceBegun:
            return self.queue.isEmpty ? nil : GroupCommitBatch(queue: self.queue, maxCount: self.configuration.maxBatchSize)
        }
    }

    private func write(_ batch: GroupCommitBatch, _ storage: some GroupCommitStorage) async {
        await storage.commit(batch)
        batch.written()
    }
}

import CoreMetrics
import Synchronization

/// The queue of a store with group commit: submissions wait here until the store's single writer takes
/// them as one batch. What every such store promises lives here, once:
/// - a submission is completed exactly once: by its batch's outcome, or ``FeedbackError/cancelled``
///   when it is withdrawn (its call was cancelled or timed out) before its batch began;
/// - once its batch is being written it can no longer be withdrawn: the outcome is reported as it is
///   (unless the store takes such withdrawals: ``onWithdrawalWhileWriting(_:)``);
/// - after ``stop()`` new submissions are refused as unavailable; those queued are still written.
///
/// - ratings of one interaction are written in the order they arrived, also when a store writes more than
///   one batch at a time: a batch never takes an interaction that a batch still being written holds.
///
/// The writer waits with ``waitForWork()``, takes batches with ``nextBatch(maxCount:maxInFlight:)``,
/// writes, completes each item and calls ``batchFinished(_:)``.
public final class GroupCommitQueue: Sendable {
    public struct Item: Sendable {
        public var submission: FeedbackSubmission
        /// When it was queued (a store may bound how long it waits for a lock from here).
        public var arrival: ContinuousClock.Instant
        /// Names the submission in ``GroupCommitQueue/onWithdrawalWhileWriting(_:)``; unique in its queue.
        public let id: UInt64
        let completion: @Sendable (Result<Void, FeedbackError>) -> Void

        /// Reports the outcome of the item's write.
        public func complete(_ result: Result<Void, FeedbackError>) {
            self.completion(result)
        }
    }

    private struct State {
        var pending: [Item] = []
        var nextID: UInt64 = 0
        /// Submissions of the batches being written: too late to withdraw.
        var committing: Set<UInt64> = []
        /// The interactions of the batches being written, with how many of their submissions.
        var committingInteractions: [Int64: Int] = [:]
        var batchesInFlight = 0
        var stopped = false
        /// See ``onWithdrawalWhileWriting(_:)``.
        var withdrawnWhileWriting: (@Sendable (UInt64) -> (@Sendable () -> Void)?)?
    }

    /// How the writer waits for work.
    public enum Waiting: Sendable {
        /// In a task: ``waitForWork()``.
        case task
        /// On a thread of its own, which blocks: ``waitForWork(timeout:)``.
        case thread
    }

    private enum Wakeups: Sendable {
        case task(AsyncStream<Void>, AsyncStream<Void>.Continuation)
        case thread(ThreadWakeup)
    }

    private let state = Mutex(State())
    private let wakeups: Wakeups
    /// Ratings per batch, and how long each batch took to write (swift-metrics).
    private let batchSize: Recorder
    private let commitDuration: Timer

    /// - Parameters:
    ///   - store: the store's kind (`sqlite`, `postgres`), the `store` label of its metrics.
    ///   - waiting: how the writer waits for work.
    public init(store: String = "unknown", waiting: Waiting = .task) {
        switch waiting {
        case .task:
            let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            self.wakeups = .task(stream, continuation)
        case .thread:
            self.wakeups = .thread(ThreadWakeup())
        }
        self.batchSize = Recorder(label: "feedback_store_batch_size", dimensions: [("store", store)], aggregate: true)
        self.commitDuration = Timer(label: "feedback_store_commit_duration_seconds", dimensions: [("store", store)])
    }

    /// Queues `submission`; `completion` runs once, on the writer (or at once when refused). Returns
    /// the withdrawal of ``FeedbackStore/enqueue(_:completion:)``.
    public func enqueue(
        _ submission: FeedbackSubmission,
        completion: @escaping @Sendable (Result<Void, FeedbackError>) -> Void
    ) -> @Sendable () -> Void {
        let id = self.state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        self.enqueue(id: id, submission, completion: completion)
        return { self.withdraw(id) }
    }

    private func enqueue(id: UInt64, _ submission: FeedbackSubmission, completion: @escaping @Sendable (Result<Void, FeedbackError>) -> Void) {
        let (refusal, wake): (FeedbackError?, Bool) = self.state.withLock { state in
            if state.stopped { return (.storeUnavailable(cause: "the store is shutting down"), false) }
            state.pending.append(Item(submission: submission, arrival: .now, id: id, completion: completion))
            // The writer takes every submission waiting when it starts a batch, and looks again after
            // each one: it needs waking when the queue was empty, or when a batch is being written (a
            // second one may start now, though what waits was held back for an interaction in it).
            return (nil, state.pending.count == 1 || !state.committingInteractions.isEmpty)
        }
        if let refusal {
            completion(.failure(refusal))
        } else if wake {
            self.wake()
        }
    }

    /// Takes a submission out of the queue unless its batch is being written; it then completes with
    /// ``FeedbackError/cancelled``.
    private func withdraw(_ id: UInt64) {
        let (removed, late): (Item?, (@Sendable () -> Void)?) = self.state.withLock { state in
            if let index = state.pending.firstIndex(where: { $0.id == id }) { return (state.pending.remove(at: index), nil) }
            if let handler = state.withdrawnWhileWriting, state.committing.contains(id) { return (nil, handler(id)) }
            return (nil, nil)
        }
        removed?.complete(.failure(.cancelled))
        late?()
    }

    /// For a store that can still stop a batch being written: `handler` is told of every withdrawal of a
    /// submission whose batch is being written (by its ``Item/id``), and the store completes it (with
    /// ``FeedbackError/cancelled`` when it leaves it out of its write). `handler` runs while the queue's
    /// lock is held, so that it is never told of a batch after ``batchFinished(_:)``: it must not call the
    /// queue, nor complete anything; the work it returns runs once the lock is released.
    public func onWithdrawalWhileWriting(_ handler: @escaping @Sendable (UInt64) -> (@Sendable () -> Void)?) {
        self.state.withLock { $0.withdrawnWhileWriting = handler }
    }

    /// Waits until there is work (or a ``wake()``), and returns false once ``finishWaiting()`` was called.
    /// For a queue whose writer waits in a task (``Waiting/task``).
    public func waitForWork() async -> Bool {
        guard case .task(let wakeups, _) = self.wakeups else { preconditionFailure("the writer of this queue waits on a thread") }
        for await _ in wakeups { return true }
        return false
    }

    /// Blocks the calling thread until there is work (or a ``wake()``) or `timeout` has passed; returns
    /// false once ``finishWaiting()`` was called. For a queue whose writer has a thread of its own
    /// (``Waiting/thread``).
    public func waitForWork(timeout: Duration) -> Bool {
        guard case .thread(let wakeup) = self.wakeups else { preconditionFailure("the writer of this queue waits in a task") }
        return wakeup.wait(timeout: timeout)
    }

    /// Wakes the writer without work (its timers: a health probe).
    public func wake() {
        switch self.wakeups {
        case .task(_, let continuation): continuation.yield()
        case .thread(let wakeup): wakeup.signal()
        }
    }

    /// Ends ``waitForWork()`` (graceful shutdown); queued submissions can still be taken.
    public func finishWaiting() {
        switch self.wakeups {
        case .task(_, let continuation): continuation.finish()
        case .thread(let wakeup): wakeup.finish()
        }
    }

    /// The next batch, up to `maxCount`, oldest first, marked as being written; empty when none waits, or
    /// when `maxInFlight` batches are being written already. Submissions for an interaction that a batch
    /// being written holds stay queued (in order) until that batch has finished.
    public func nextBatch(maxCount: Int, maxInFlight: Int = 1) -> [Item] {
        self.state.withLock { state in
            guard state.batchesInFlight < maxInFlight else { return [] }
            var batch: [Item] = []
            if state.committingInteractions.isEmpty {
                let count = min(state.pending.count, maxCount)
                batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
            } else {
                var kept: [Item] = []
                kept.reserveCapacity(state.pending.count)
                for item in state.pending {
                    if batch.count < maxCount, state.committingInteractions[item.submission.interactionID] == nil {
                        batch.append(item)
                    } else {
                        kept.append(item)
                    }
                }
                state.pending = kept
            }
            guard !batch.isEmpty else { return [] }
            state.batchesInFlight += 1
            for item in batch {
                state.committing.insert(item.id)
                state.committingInteractions[item.submission.interactionID, default: 0] += 1
            }
            return batch
        }
    }

    /// `batch` (from ``nextBatch(maxCount:maxInFlight:)``), whose write began at `started`, has been
    /// completed: records its size and duration, then marks it finished (``batchFinished(_:)``).
    public func written(_ batch: [Item], startedAt started: ContinuousClock.Instant) {
        let elapsed = (ContinuousClock.now - started).components
        self.batchSize.record(batch.count)
        self.commitDuration.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        self.batchFinished(batch)
    }

    /// Takes out of the queue every submission that arrived before `instant` (it waited too long for a
    /// lock), for the caller to complete; also returns the arrival of the newest one still queued (nil
    /// when none is).
    public func expire(arrivedBefore instant: ContinuousClock.Instant) -> (expired: [Item], newestArrival: ContinuousClock.Instant?) {
        self.state.withLock { state in
            // Arrivals only grow along the queue: the expired ones are a prefix.
            let count = state.pending.prefix { $0.arrival < instant }.count
            let expired = Array(state.pending.prefix(count))
            state.pending.removeFirst(count)
            return (expired, state.pending.last?.arrival)
        }
    }

    /// `batch` (from ``nextBatch(maxCount:maxInFlight:)``) has been completed. Wakes the writer: what
    /// the batch held back can be taken now.
    public func batchFinished(_ batch: [Item]) {
        let wake = self.state.withLock { state in
            state.batchesInFlight -= 1
            for item in batch {
                state.committing.remove(item.id)
                let id = item.submission.interactionID
                if let count = state.committingInteractions[id], count > 1 {
                    state.committingInteractions[id] = count - 1
                } else {
                    state.committingInteractions[id] = nil
                }
            }
            return !state.pending.isEmpty
        }
        if wake { self.wake() }
    }

    /// Refuses new submissions from now on.
    public func stop() {
        self.state.withLock { $0.stopped = true }
    }

    /// Whether nothing waits for a batch.
    public var isEmpty: Bool { self.state.withLock { $0.pending.isEmpty } }

    /// Submissions waiting for a batch, and those in the batches being written.
    public var depth: (queued: Int, committing: Int) {
        self.state.withLock { ($0.pending.count, $0.committing.count) }
    }
}

import Synchronization

/// The queue of a store with group commit: submissions wait here until the store's single writer takes
/// them as one batch. What every such store promises lives here, once:
/// - a submission is completed exactly once: by its batch's outcome, or ``FeedbackError/cancelled``
///   when it is withdrawn (its call was cancelled or timed out) before its batch began;
/// - once its batch is being written it can no longer be withdrawn: the outcome is reported as it is;
/// - after ``stop()`` new submissions are refused as unavailable; those queued are still written.
///
/// The writer loops on ``nextBatch(maxCount:)`` (which waits for work), writes, completes each item and
/// calls ``batchFinished()``.
public final class GroupCommitQueue: Sendable {
    public struct Item: Sendable {
        public var submission: FeedbackSubmission
        /// When it was queued (a store may bound how long it waits for a lock from here).
        public var arrival: ContinuousClock.Instant
        let id: UInt64
        let completion: @Sendable (Result<Void, FeedbackError>) -> Void

        /// Reports the outcome of the item's write.
        public func complete(_ result: Result<Void, FeedbackError>) {
            self.completion(result)
        }
    }

    private struct State {
        var pending: [Item] = []
        var nextID: UInt64 = 0
        /// Ids of ``submit(_:)`` calls not queued yet: a cancellation that comes first is recorded in
        /// ``cancelledEarly`` only for these, so nothing is left behind by a late cancel.
        var notYetQueued: Set<UInt64> = []
        /// Submissions cancelled before they were queued: refused when they try to queue.
        var cancelledEarly: Set<UInt64> = []
        /// The batch being written: too late to withdraw.
        var committing: Set<UInt64> = []
        var stopped = false
    }

    private let state = Mutex(State())
    private let (wakeups, wakeup) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    public init() {}

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
        return { self.withdraw(id, beforeQueued: false) }
    }

    /// Queues `submission` and returns after its write; the task's cancellation withdraws it while it
    /// is still queued.
    public func submit(_ submission: FeedbackSubmission) async throws(FeedbackError) {
        let id = self.state.withLock { state in
            state.nextID += 1
            state.notYetQueued.insert(state.nextID)
            return state.nextID
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, FeedbackError>, Never>) in
                self.enqueue(id: id, submission) { continuation.resume(returning: $0) }
            }
        } onCancel: {
            self.withdraw(id, beforeQueued: true)
        }
        try result.get()
    }

    private func enqueue(id: UInt64, _ submission: FeedbackSubmission, completion: @escaping @Sendable (Result<Void, FeedbackError>) -> Void) {
        let (refusal, wake): (FeedbackError?, Bool) = self.state.withLock { state in
            state.notYetQueued.remove(id)
            if state.cancelledEarly.remove(id) != nil { return (.cancelled, false) }
            if state.stopped { return (.storeUnavailable(cause: "the store is shutting down"), false) }
            state.pending.append(Item(submission: submission, arrival: .now, id: id, completion: completion))
            // The writer takes every submission waiting when it starts a batch, and looks again after
            // each one: it needs waking only when the queue was empty.
            return (nil, state.pending.count == 1)
        }
        if let refusal {
            completion(.failure(refusal))
        } else if wake {
            self.wakeup.yield()
        }
    }

    /// Takes a submission out of the queue unless its batch is being written; it then completes with
    /// ``FeedbackError/cancelled``. `beforeQueued`: the cancellation may come before the submission is
    /// queued (a task cancelled early), and is remembered so that it is refused.
    private func withdraw(_ id: UInt64, beforeQueued: Bool) {
        let removed: Item? = self.state.withLock { state in
            if let index = state.pending.firstIndex(where: { $0.id == id }) { return state.pending.remove(at: index) }
            if beforeQueued, state.notYetQueued.contains(id) { state.cancelledEarly.insert(id) }
            return nil
        }
        removed?.complete(.failure(.cancelled))
    }

    /// Waits until there is work (or a ``wake()``), and returns false once ``finishWaiting()`` was called.
    public func waitForWork() async -> Bool {
        for await _ in self.wakeups { return true }
        return false
    }

    /// Wakes the writer without work (its timers: a health probe).
    public func wake() {
        self.wakeup.yield()
    }

    /// Ends ``waitForWork()`` (graceful shutdown); queued submissions can still be taken.
    public func finishWaiting() {
        self.wakeup.finish()
    }

    /// The next batch, up to `maxCount`, oldest first, marked as being written; empty when none waits.
    public func nextBatch(maxCount: Int) -> [Item] {
        self.state.withLock { state in
            let count = min(state.pending.count, maxCount)
            defer { state.pending.removeFirst(count) }
            let batch = Array(state.pending.prefix(count))
            state.committing = Set(batch.map(\.id))
            return batch
        }
    }

    /// Hands batches (up to `maxCount` each, oldest first) to `commit`, which completes every item, until
    /// none waits.
    public func drain(maxCount: Int, _ commit: ([Item]) async -> Void) async {
        while true {
            let batch = self.nextBatch(maxCount: maxCount)
            if batch.isEmpty { return }
            await commit(batch)
            self.batchFinished()
        }
    }

    /// The batch taken last has been completed.
    public func batchFinished() {
        self.state.withLock { $0.committing.removeAll() }
    }

    /// Refuses new submissions from now on.
    public func stop() {
        self.state.withLock { $0.stopped = true }
    }

    /// Whether nothing waits for a batch.
    public var isEmpty: Bool { self.state.withLock { $0.pending.isEmpty } }

    /// Submissions waiting for the next batch, and those in the batch being written.
    public var depth: (queued: Int, committing: Int) {
        self.state.withLock { ($0.pending.count, $0.committing.count) }
    }
}

import Synchronization

/// One batch of a ``GroupCommitWriter``: its items, taken from the queue before the write or by the store
/// once its write has begun; recorded (size, duration) and released once written.
public final class GroupCommitBatch: Sendable {
    private struct State {
        var items: [GroupCommitQueue.Item]?
        var written = false
    }

    private let queue: GroupCommitQueue
    private let maxCount: Int
    private let state: Mutex<State>
    /// When the write began (the batch was handed to the store).
    public let started = ContinuousClock.now

    init(queue: GroupCommitQueue, taken items: [GroupCommitQueue.Item]) {
        self.queue = queue
        self.maxCount = items.count
        self.state = Mutex(State(items: items))
    }

    init(queue: GroupCommitQueue, maxCount: Int) {
        self.queue = queue
        self.maxCount = maxCount
        self.state = Mutex(State(items: nil))
    }

    /// The batch's items, taken from the queue (oldest first) at the first call and marked as being
    /// written: from then on they can no longer be withdrawn. Empty when none waited.
    public func take() -> [GroupCommitQueue.Item] {
        self.state.withLock { state in
            if let items = state.items { return items }
            let items = self.queue.nextBatch(maxCount: self.maxCount)
            state.items = items
            return items
        }
    }

    /// Records the batch's size and duration and releases its interactions for later batches. Once: the
    /// writer calls it after the store's commit; a store may call it before answering, so that a caller
    /// with its answer finds the batch in the metrics.
    package func written() {
        let items: [GroupCommitQueue.Item]? = self.state.withLock { state in
            guard !state.written, let items = state.items else { return nil }
            state.written = true
            return items
        }
        guard let items, !items.isEmpty else { return }
        self.queue.written(items, startedAt: self.started)
    }
}

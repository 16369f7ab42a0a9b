import Synchronization

/// The batches being written, by their submissions' ids: where the queue sends the withdrawal of a
/// submission whose batch is being written (``GroupCommitQueue/onWithdrawalWhileWriting(_:)``).
///
/// A batch is added after the queue handed it out and removed after the queue marked it finished, so a
/// withdrawal can come before the batch is added (it is kept for it), never after it is removed.
final class InFlightBatches: Sendable {
    private struct State {
        var batches: [UInt64: BatchWrite] = [:]
        /// Withdrawals of submissions whose batch is not added yet.
        var early: Set<UInt64> = []
    }

    private let state = Mutex(State())

    /// Adds `batch`; returns what its submissions withdrawn meanwhile need.
    func add(_ batch: BatchWrite) -> [BatchWrite.Withdrawal] {
        self.state.withLock { state in
            var withdrawals: [BatchWrite.Withdrawal] = []
            for id in batch.ids {
                state.batches[id] = batch
                if !state.early.isEmpty, state.early.remove(id) != nil { withdrawals.append(batch.withdraw(id)) }
            }
            return withdrawals
        }
    }

    func remove(_ batch: BatchWrite) {
        self.state.withLock { state in
            for id in batch.ids { state.batches[id] = nil }
        }
    }

    /// The submission `id`, of a batch being written, is withdrawn.
    func withdraw(_ id: UInt64) -> BatchWrite.Withdrawal {
        self.state.withLock { state in
            guard let batch = state.batches[id] else {
                state.early.insert(id)
                return .none
            }
            return batch.withdraw(id)
        }
    }
}

import Synchronization

/// Whether a ``MetricsEndpoint`` got its listener: opened once, with the outcome, and awaited by the
/// services that must not start before it (``StartedAfterMetrics``).
final class ListeningLatch: Sendable {
    enum Outcome: Sendable {
        case listening
        case failed(MetricsEndpoint.CannotListen)
        /// The waiter was cancelled first.
        case gaveUp
    }

    private enum State {
        case pending(waiters: [Int: CheckedContinuation<Outcome, Never>], nextID: Int)
        case open(Outcome)
    }

    private let state = Mutex(State.pending(waiters: [:], nextID: 0))

    /// Opens the latch with `outcome`, waking every waiter. Returns false, changing nothing, when it was
    /// already open.
    @discardableResult
    func open(_ outcome: Outcome) -> Bool {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Outcome, Never>]? in
            guard case .pending(let waiters, _) = state else { return nil }
            state = .open(outcome)
            return Array(waiters.values)
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume(returning: outcome) }
        return true
    }

    /// The outcome, once the latch opens; ``Outcome/gaveUp`` if the task is cancelled first.
    func wait() async -> Outcome {
        let id = self.state.withLock { state -> Int? in
            guard case .pending(let waiters, let nextID) = state else { return nil }
            state = .pending(waiters: waiters, nextID: nextID + 1)
            return nextID
        }
        guard let id else { return self.outcome ?? .gaveUp }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = self.state.withLock { state -> Outcome? in
                    switch state {
                    case .open(let outcome): return outcome
                    case .pending(var waiters, let nextID):
                        if Task.isCancelled { return .gaveUp }
                        waiters[id] = continuation
                        state = .pending(waiters: waiters, nextID: nextID)
                        return nil
                    }
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            let waiter = self.state.withLock { state -> CheckedContinuation<Outcome, Never>? in
                guard case .pending(var waiters, let nextID) = state, let waiter = waiters.removeValue(forKey: id) else { return nil }
                state = .pending(waiters: waiters, nextID: nextID)
                return waiter
            }
            waiter?.resume(returning: .gaveUp)
        }
    }

    private var outcome: Outcome? {
        self.state.withLock { state in
            guard case .open(let outcome) = state else { return nil }
            return outcome
        }
    }
}

import Synchronization

/// A one-shot signal a connection fires when the client sends CANCEL or the connection closes.
final class CallCancellation: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<Void, Never>)
        case fired
    }

    private let state = Mutex(State.idle)

    /// Fires the signal; later calls do nothing.
    func fire() {
        let continuation: CheckedContinuation<Void, Never>? = self.state.withLock { state in
            defer { state = .fired }
            if case .waiting(let continuation) = state { return continuation }
            return nil
        }
        continuation?.resume()
    }

    var isFired: Bool {
        self.state.withLock { if case .fired = $0 { true } else { false } }
    }

    /// Returns once the signal fires or the waiting task is cancelled (check `Task.isCancelled`).
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow: Bool = self.state.withLock { state in
                    switch state {
                    case .idle:
                        state = .waiting(continuation)
                        return false
                    case .waiting, .fired:
                        return true
                    }
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Void, Never>? = self.state.withLock { state in
                if case .waiting(let continuation) = state {
                    state = .idle
                    return continuation
                }
                return nil
            }
            continuation?.resume()
        }
    }
}

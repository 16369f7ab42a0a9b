import Synchronization

/// A one-shot signal that ends a call early: the client's CANCEL, the call's deadline, or the
/// connection closing. Fired from anywhere (a connection's event loop); awaited by the call's task.
public final class CallCancellation: Sendable {
    public typealias Reason = CallInterrupt

    private enum State {
        case idle
        case waiting(CheckedContinuation<Reason?, Never>)
        case fired(Reason)
        /// The waiting task was cancelled before it could register.
        case waiterCancelled
    }

    private let state = Mutex(State.idle)

    public init() {}

    /// Fires the signal with `reason`; the first call wins, later ones do nothing.
    public func fire(_ reason: Reason) {
        let continuation: CheckedContinuation<Reason?, Never>? = self.state.withLock { state in
            switch state {
            case .idle, .waiterCancelled:
                state = .fired(reason)
                return nil
            case .waiting(let continuation):
                state = .fired(reason)
                return continuation
            case .fired:
                return nil
            }
        }
        continuation?.resume(returning: reason)
    }

    /// Returns the reason once the signal fires, or nil as soon as the waiting task is cancelled
    /// (whether that happens before or after it starts waiting).
    public func wait() async -> Reason? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Reason?, Never>) in
                let resumeWith: Reason?? = self.state.withLock { state in
                    switch state {
                    case .idle:
                        state = .waiting(continuation)
                        return .none
                    case .fired(let reason):
                        return .some(reason)
                    case .waiterCancelled:
                        return .some(nil)
                    case .waiting:
                        preconditionFailure("CallCancellation supports one waiter")
                    }
                }
                if let resumeWith { continuation.resume(returning: resumeWith) }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Reason?, Never>? = self.state.withLock { state in
                switch state {
                case .waiting(let continuation):
                    state = .waiterCancelled
                    return continuation
                case .idle:
                    state = .waiterCancelled
                    return nil
                case .fired, .waiterCancelled:
                    return nil
                }
            }
            continuation?.resume(returning: nil)
        }
    }
}

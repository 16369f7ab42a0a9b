import Synchronization

/// A value set once, from any thread, and awaited once (by a task that may be cancelled: the value is
/// what reports the cancellation). Later sets are ignored. Used where a result must be handed over
/// without structured concurrency waiting for the work that produces it: a call's answer in process, a
/// PostgreSQL batch given up on.
public final class OneShot<Value: Sendable>: Sendable {
    private enum State {
        case pending
        case waiting(CheckedContinuation<Value, Never>)
        case done(Value)
    }

    private let state = Mutex(State.pending)

    public init() {}

    /// Sets the value, unless one was set before.
    public func set(_ value: Value) {
        let waiter: CheckedContinuation<Value, Never>? = self.state.withLock { state in
            switch state {
            case .pending:
                state = .done(value)
                return nil
            case .waiting(let continuation):
                state = .done(value)
                return continuation
            case .done:
                return nil
            }
        }
        waiter?.resume(returning: value)
    }

    /// The value, once set. One waiter only.
    public func value() async -> Value {
        await withCheckedContinuation { continuation in
            let done: Value? = self.state.withLock { state in
                switch state {
                case .pending:
                    state = .waiting(continuation)
                    return nil
                case .done(let value):
                    return value
                case .waiting:
                    preconditionFailure("one waiter")
                }
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}

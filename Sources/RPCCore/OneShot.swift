import Synchronization

/// A value set once, from any thread, and awaited once. Later sets are ignored. Used where a result must
/// be handed over without structured concurrency waiting for the work that produces it: a call's answer
/// (the handler may ignore its cancellation), a PostgreSQL batch given up on.
public final class OneShot<Value: Sendable>: Sendable {
    private enum State {
        case pending
        case waiting(CheckedContinuation<Value?, Never>)
        case done(Value)
    }

    private let state = Mutex(State.pending)

    public init() {}

    /// Sets the value, unless one was set before.
    public func set(_ value: Value) {
        let waiter: CheckedContinuation<Value?, Never>? = self.state.withLock { state in
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

    /// The value, once set, whether or not the waiting task is cancelled (the value is what reports the
    /// cancellation). One waiter at a time.
    public func value() async -> Value {
        // Without a cancellation handler, the wait ends only when the value is set.
        await self.wait(cancellable: false)!
    }

    /// The value once set, or nil as soon as the waiting task is cancelled (before or while it waits);
    /// a value set later is kept. One waiter at a time.
    public func valueUnlessCancelled() async -> Value? {
        await withTaskCancellationHandler {
            await self.wait(cancellable: true)
        } onCancel: {
            let waiter: CheckedContinuation<Value?, Never>? = self.state.withLock { state in
                guard case .waiting(let continuation) = state else { return nil }
                state = .pending
                return continuation
            }
            waiter?.resume(returning: nil)
        }
    }

    private func wait(cancellable: Bool) async -> Value? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
            let resumeWith: Value?? = self.state.withLock { state in
                switch state {
                case .pending:
                    // A task cancelled before it got here is not left waiting.
                    if cancellable, Task.isCancelled { return .some(nil) }
                    state = .waiting(continuation)
                    return .none
                case .done(let value):
                    return .some(value)
                case .waiting:
                    preconditionFailure("one waiter at a time")
                }
            }
            if let resumeWith { continuation.resume(returning: resumeWith) }
        }
    }
}

import Synchronization

/// A value set once, from any thread, and awaited by any number of tasks: a call's answer handed over
/// without structured concurrency waiting for the work that produces it (a handler may ignore its
/// cancellation), a listener's outcome, a drain finished, a batch given up on. Later sets are ignored.
///
/// Each waiter chooses whether its own cancellation ends its wait (``valueUnlessCancelled()``) or not
/// (``value()``); a waiter that gives up leaves the value to the others.
public final class OneShot<Value: Sendable>: Sendable {
    private enum State {
        case pending(waiters: [UInt64: CheckedContinuation<Value?, Never>], nextID: UInt64)
        case done(Value)
    }

    private let state = Mutex(State.pending(waiters: [:], nextID: 0))

    public init() {}

    /// Sets the value, unless one was set before, and wakes every waiter. Returns whether it was set.
    @discardableResult
    public func set(_ value: Value) -> Bool {
        let waiters: [CheckedContinuation<Value?, Never>]? = self.state.withLock { state in
            guard case .pending(let waiters, _) = state else { return nil }
            state = .done(value)
            return Array(waiters.values)
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume(returning: value) }
        return true
    }

    /// The value if it is set, without waiting.
    public var current: Value? {
        self.state.withLock { state in
            if case .done(let value) = state { value } else { nil }
        }
    }

    /// The value, once set, whether or not the waiting task is cancelled (the value is what reports the
    /// cancellation).
    public func value() async -> Value {
        if let value = self.current { return value }
        // Without a cancellation handler, the wait ends only when the value is set.
        return await self.wait(id: self.register(), cancellable: false)!
    }

    /// The value once set, or nil as soon as the waiting task is cancelled (before or while it waits);
    /// a value set later is kept for the others.
    public func valueUnlessCancelled() async -> Value? {
        if let value = self.current { return value }
        let id = self.register()
        return await withTaskCancellationHandler {
            await self.wait(id: id, cancellable: true)
        } onCancel: {
            let waiter: CheckedContinuation<Value?, Never>? = self.state.withLock { state in
                guard case .pending(var waiters, let nextID) = state, let waiter = waiters.removeValue(forKey: id) else { return nil }
                state = .pending(waiters: waiters, nextID: nextID)
                return waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    private func register() -> UInt64 {
        self.state.withLock { state in
            guard case .pending(let waiters, let nextID) = state else { return 0 }
            state = .pending(waiters: waiters, nextID: nextID + 1)
            return nextID
        }
    }

    private func wait(id: UInt64, cancellable: Bool) async -> Value? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
            let resumeWith: Value?? = self.state.withLock { state in
                switch state {
                case .done(let value):
                    return .some(value)
                case .pending(var waiters, let nextID):
                    // A task cancelled before it got here is not left waiting.
                    if cancellable, Task.isCancelled { return .some(nil) }
                    waiters[id] = continuation
                    state = .pending(waiters: waiters, nextID: nextID)
                    return .none
                }
            }
            if let resumeWith { continuation.resume(returning: resumeWith) }
        }
    }
}

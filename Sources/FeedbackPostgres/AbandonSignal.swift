import Synchronization

/// Work of ``PostgresFeedbackStore/bounded(connectTimeout:abandon:_:)`` on a server the store stopped
/// writing to (a failover): fired, the work is given up on at once, as on a timeout, and left behind.
final class AbandonSignal: Sendable {
    private let state = Mutex<(fired: Bool, action: (@Sendable () -> Void)?)>((false, nil))

    /// Runs `action` when the signal fires (at once if it has).
    func onFire(_ action: @escaping @Sendable () -> Void) {
        let fired = self.state.withLock { state in
            if !state.fired { state.action = action }
            return state.fired
        }
        if fired { action() }
    }

    func fire() {
        let action = self.state.withLock { state in
            defer { (state.fired, state.action) = (true, nil) }
            return state.fired ? nil : state.action
        }
        action?()
    }
}

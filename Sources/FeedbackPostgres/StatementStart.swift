import Synchronization

/// The window of one piece of work of ``PostgresFeedbackStore/bounded(_:)``: when it had its
/// connection and sent its latest statement, or that the store gave up on it. Giving up and starting a
/// statement exclude each other: work given up on before it sent a statement never sends one.
final class StatementStart: Sendable {
    private enum State {
        case waiting
        case started(ContinuousClock.Instant)
        case givenUp
    }

    private let state = Mutex(State.waiting)

    /// A statement is about to be sent now (the latest one counts). Returns false, and the statement
    /// must not be sent, once the store gave up on the work.
    func starts() -> Bool {
        self.state.withLock { state in
            if case .givenUp = state { return false }
            state = .started(.now)
            return true
        }
    }

    /// For the timer: gives up on the work unless a statement started since `known` (nil: none yet),
    /// and returns nil; otherwise returns that statement's start, whose window is then waited for.
    func giveUp(unlessStartedSince known: ContinuousClock.Instant?) -> ContinuousClock.Instant? {
        self.state.withLock { state in
            if case .started(let instant) = state, instant != known { return instant }
            state = .givenUp
            return nil
        }
    }

    /// Gives up on the work whatever it did (its caller was cancelled): it sends no statement from now on.
    func giveUpNow() {
        self.state.withLock { $0 = .givenUp }
    }
}

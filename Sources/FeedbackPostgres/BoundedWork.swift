import Synchronization

/// When the work of ``PostgresFeedbackStore/bounded(_:)`` had its connection and sent its statement.
final class StatementStart: Sendable {
    private let started = Mutex<ContinuousClock.Instant?>(nil)

    /// A statement is being sent now (the latest one counts).
    func starts() {
        self.started.withLock { $0 = .now }
    }

    var instant: ContinuousClock.Instant? { self.started.withLock { $0 } }
}

/// PostgreSQL did not answer in time.
struct PostgresUnavailable: Error, CustomStringConvertible {
    var description: String
}

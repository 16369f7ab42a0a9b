import Synchronization

/// Bounds the log lines one kind of event can cause: at most `limit` lines per `interval`; the lines
/// beyond are suppressed and counted, and the next line let through says how many were (so a flood of
/// bad tokens costs a few lines a second, not one per call). Metrics keep the exact counts.
///
/// Cheap enough for every call: a lock and a clock read, no allocation.
public final class LogThrottle: Sendable {
    private struct State {
        var windowStart: ContinuousClock.Instant?
        var admitted = 0
        var suppressed = 0
    }

    public let limit: Int
    public let interval: Duration
    private let state = Mutex(State())

    /// - Parameters:
    ///   - limit: lines let through per interval, at least 1.
    ///   - interval: the window the limit counts in.
    public init(limit: Int = 10, per interval: Duration = .seconds(1)) {
        precondition(limit >= 1, "a log throttle lets at least one line through")
        self.limit = limit
        self.interval = interval
    }

    /// Whether a line may be logged now: nil when it is suppressed; otherwise how many lines were
    /// suppressed since the last one let through (put it in the line, e.g. as `log.suppressed`).
    public func admit(now: ContinuousClock.Instant = .now) -> Int? {
        self.state.withLock { state in
            if let start = state.windowStart, now - start < self.interval {
                guard state.admitted < self.limit else {
                    state.suppressed += 1
                    return nil
                }
            } else {
                state.windowStart = now
                state.admitted = 0
            }
            state.admitted += 1
            defer { state.suppressed = 0 }
            return state.suppressed
        }
    }
}

import Synchronization

/// The limits of every wait of ``PostgresFeedbackStore/bounded(connectTimeout:abandon:_:)`` in flight,
/// checked by one sweep every ``tick`` (``run()``) instead of a timer per wait: a rating written one at
/// a time would otherwise arm and cancel a timer in Dispatch for each batch (measured: an eighth of
/// feedbackd's CPU per rating, and a third thread woken). A limit is noticed up to one tick late; the tick
/// is a tenth of the shortest limit (10-100 ms).
///
/// A wait's limit is its connect timeout, counted from when it was added; then, from when its work says
/// a statement starts (``StatementStart/starts()``), the statement's limit, counted again from each later
/// statement's start.
final class BoundedWaits: Sendable {
    /// What the sweep does with a wait past its limit: `waitedFor` is the start of the statement it
    /// waited for, nil when it never had a connection.
    typealias Expiry = @Sendable (_ waitedFor: ContinuousClock.Instant?) -> Void

    private struct Wait {
        var start: StatementStart
        var statementLimit: Duration
        var deadline: ContinuousClock.Instant
        /// The start of the statement whose window ``deadline`` ends (nil: the connect timeout's).
        var waitedFor: ContinuousClock.Instant?
        var expire: Expiry
    }

    private let waits = Mutex<(next: UInt64, byID: [UInt64: Wait])>((0, [:]))
    let tick: Duration

    init(shortestLimit: Duration) {
        self.tick = min(max(shortestLimit / 10, .milliseconds(10)), .milliseconds(100))
    }

    /// Watches a wait: `expire` is called (once, from the sweep) unless it is ``remove(_:)``d before its
    /// limit. Returns its id.
    func add(connectTimeout: Duration, statementLimit: Duration, start: StatementStart, expire: @escaping Expiry) -> UInt64 {
        let wait = Wait(start: start, statementLimit: statementLimit, deadline: .now + connectTimeout, expire: expire)
        return self.waits.withLock { waits in
            waits.next += 1
            waits.byID[waits.next] = wait
            return waits.next
        }
    }

    /// The wait `id` ended: it is no longer watched.
    func remove(_ id: UInt64) {
        _ = self.waits.withLock { $0.byID.removeValue(forKey: id) }
    }

    /// Ends each wait past its limit, unless a statement started since the window it was in: then its
    /// limit moves to that statement's window.
    func sweep(now: ContinuousClock.Instant = .now) {
        let expired: [(Expiry, ContinuousClock.Instant?)] = self.waits.withLock { waits in
            var expired: [(Expiry, ContinuousClock.Instant?)] = []
            for (id, wait) in waits.byID where wait.deadline <= now {
                if let started = wait.start.giveUp(unlessStartedSince: wait.waitedFor) {
                    waits.byID[id]?.waitedFor = started
                    waits.byID[id]?.deadline = started + wait.statementLimit
                } else {
                    waits.byID.removeValue(forKey: id)
                    expired.append((wait.expire, wait.waitedFor))
                }
            }
            return expired
        }
        for (expire, waitedFor) in expired { expire(waitedFor) }
    }

    /// Sweeps every ``tick`` until cancelled.
    func run() async {
        while (try? await Task.sleep(for: self.tick)) != nil {
            self.sweep()
        }
    }
}

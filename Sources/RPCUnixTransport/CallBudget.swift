import Synchronization

/// The server-wide bound on calls in flight (``ServerConfiguration/maxCallsInFlight``), shared by every
/// connection: a call takes a unit before it starts and returns it when answered (or when its connection
/// closes). Without it the bound would be connections × calls per connection.
final class CallBudget: Sendable {
    let limit: Int
    private let inFlight = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a unit, or returns false when all are taken.
    func acquire() -> Bool {
        var current = self.inFlight.load(ordering: .relaxed)
        while current < self.limit {
            let (exchanged, original) = self.inFlight.compareExchange(
                expected: current, desired: current + 1, successOrdering: .relaxed, failureOrdering: .relaxed
            )
            if exchanged { return true }
            current = original
        }
        return false
    }

    func release(_ count: Int = 1) {
        self.inFlight.wrappingSubtract(count, ordering: .relaxed)
    }

    var current: Int { self.inFlight.load(ordering: .relaxed) }
}

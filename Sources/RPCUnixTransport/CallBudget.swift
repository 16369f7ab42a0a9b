import AsyncOneShot
import Synchronization

/// The server-wide bound on calls in flight (``ServerConfiguration/maxCallsInFlight``), shared by every
/// connection: a call takes a unit before it starts and returns it when answered (or when its connection
/// closes). Without it the bound would be connections × calls per connection.
final class CallBudget: Sendable {
    let limit: Int
    private let inFlight = Atomic<Int>(0)
    /// Set once someone waits for the budget to empty (``whenEmpty()``): only then does a release look.
    private let watched = Atomic<Bool>(false)
    private let emptied = OneShot<Void>()

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
        let left = self.inFlight.wrappingSubtract(count, ordering: .sequentiallyConsistent).newValue
        if left == 0, self.watched.load(ordering: .sequentiallyConsistent) { self.emptied.set(()) }
    }

    /// Returns once no call holds a unit (or the task is cancelled). For shutdown, once no new call can
    /// come: calls of closed connections still running (a handler in a task, past its connection)
    /// hold their units until they end, at most the interrupt grace.
    func whenEmpty() async {
        self.watched.store(true, ordering: .sequentiallyConsistent)
        if self.inFlight.load(ordering: .sequentiallyConsistent) == 0 { self.emptied.set(()) }
        _ = await self.emptied.valueUnlessCancelled()
    }

    var current: Int { self.inFlight.load(ordering: .relaxed) }
}

/// The call slots of the gateway's connections to feedbackd, as a state machine: each connection carries
/// at most `callsPerConnection` calls; a request that finds every slot taken waits, first come first
/// served, until a call ends (its slot passes straight to the oldest waiter) or it gives up.
///
/// Used by ``UpstreamSlots``, which holds it in a mutex and runs the waiters' timers; unit-tested
/// without either. `Waiter` is what wakes a waiting request (a continuation).
struct UpstreamSlotsStateMachine<Waiter> {
    /// What a request that asks for a slot gets.
    enum Acquire: Equatable {
        case granted(connection: Int)
        /// No slot is free: the request waits under this id.
        case waiting(id: UInt64)
    }

    private var inFlight: [Int]
    private let callsPerConnection: Int
    /// Where the next search starts.
    private var nextTurn = 0
    /// Waiting requests by id; ids grow, so the smallest is the oldest.
    private var waiters: [UInt64: Waiter] = [:]
    /// No waiter older than this is left.
    private var oldest: UInt64 = 0
    private var nextID: UInt64 = 0

    init(connections: Int, callsPerConnection: Int) {
        self.inFlight = Array(repeating: 0, count: max(1, connections))
        self.callsPerConnection = max(1, callsPerConnection)
    }

    /// Takes a free slot on the least loaded connection (ties taken in turn, so that a light load still
    /// uses every connection); nil when none is free (or requests are already waiting for one: they come
    /// first).
    mutating func acquire() -> Int? {
        guard self.waiters.isEmpty else { return nil }
        var best: Int?
        for offset in self.inFlight.indices {
            let connection = (self.nextTurn + offset) % self.inFlight.count
            guard self.inFlight[connection] < self.callsPerConnection else { continue }
            if best.map({ self.inFlight[connection] < self.inFlight[$0] }) ?? true { best = connection }
        }
        guard let best else { return nil }
        self.inFlight[best] += 1
        self.nextTurn = (best + 1) % self.inFlight.count
        return best
    }

    /// Takes a slot as ``acquire()`` does or, when none is free, queues `waiter`.
    mutating func acquire(orWait waiter: Waiter) -> Acquire {
        if let connection = self.acquire() { return .granted(connection: connection) }
        let id = self.nextID
        self.nextID += 1
        self.waiters[id] = waiter
        return .waiting(id: id)
    }

    /// A call on `connection` ended: its slot goes to the oldest waiter, returned with the connection
    /// for waking; nil when nobody waits (the slot is free).
    mutating func release(connection: Int) -> (waiter: Waiter, connection: Int)? {
        while self.oldest < self.nextID {
            defer { self.oldest += 1 }
            if let waiter = self.waiters.removeValue(forKey: self.oldest) { return (waiter, connection) }
        }
        self.inFlight[connection] -= 1
        return nil
    }

    /// The waiter `id` stops waiting (its time ran out, or its request was cancelled): returned for
    /// waking, or nil when it was already given a slot.
    mutating func giveUp(_ id: UInt64) -> Waiter? {
        self.waiters.removeValue(forKey: id)
    }

    /// Requests waiting for a slot.
    var waiting: Int { self.waiters.count }

    /// Calls in flight on each connection.
    var callsInFlight: [Int] { self.inFlight }
}

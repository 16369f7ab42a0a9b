import CoreMetrics
import Synchronization

/// Bounds the wait for a call slot on the gateway's connections to feedbackd (``UpstreamSlotsStateMachine``):
/// a request that finds every slot taken waits at most `queueTimeout`, then gets none, so that a queue
/// behind a locked store is answered 503 in time instead of outliving its deadline on a connection.
///
/// A free slot costs a lock and nothing else; only a request that must wait pays for a timer (a child
/// task sleeping `queueTimeout`).
final class UpstreamSlots: Sendable {
    /// A slot taken: give `connection` back with ``release(_:)``.
    struct Slot: Sendable {
        var connection: Int
        /// How long the request waited for it.
        var waited: Duration
    }

    private let state: Mutex<UpstreamSlotsStateMachine<CheckedContinuation<Int?, Never>>>
    let queueTimeout: Duration
    /// Requests that got no slot within ``queueTimeout`` (not counting those cancelled while waiting).
    private let timedOut = Counter(label: "feedback_gateway_upstream_queue_timeouts_total")

    init(connections: Int, callsPerConnection: Int, queueTimeout: Duration) {
        self.state = Mutex(UpstreamSlotsStateMachine(connections: connections, callsPerConnection: callsPerConnection))
        self.queueTimeout = queueTimeout
    }

    /// A slot, at once or within ``queueTimeout``; nil when none came free in time or the task was cancelled.
    func acquire() async -> Slot? {
        if let connection = self.state.withLock({ $0.acquire() }) { return Slot(connection: connection, waited: .zero) }
        let start = ContinuousClock.now
        let connection = await withTaskGroup(of: Void.self) { group in
            let connection = await withCheckedContinuation { (continuation: CheckedContinuation<Int?, Never>) in
                switch self.state.withLock({ $0.acquire(orWait: continuation) }) {
                case .granted(let connection):
                    continuation.resume(returning: connection)
                case .waiting(let id):
                    group.addTask { [queueTimeout] in
                        // Ends early when the slot comes (cancelAll below) or the request is cancelled.
                        try? await Task.sleep(for: queueTimeout)
                        self.state.withLock { $0.giveUp(id) }?.resume(returning: nil)
                    }
                }
            }
            group.cancelAll()
            return connection
        }
        guard let connection else {
            if !Task.isCancelled { self.timedOut.increment() }
            return nil
        }
        return Slot(connection: connection, waited: .now - start)
    }

    /// Gives a slot back: to the oldest waiting request, if any.
    func release(_ connection: Int) {
        guard let handOver = self.state.withLock({ $0.release(connection: connection) }) else { return }
        handOver.waiter.resume(returning: handOver.connection)
    }
}

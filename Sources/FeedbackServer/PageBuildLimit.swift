import AsyncOneShot
import RPCCore
import Synchronization

/// The server-wide bound on ratings-feed pages being built at once (a read connection and up to a
/// page of rows each): at most ``maxBuilding`` at once, then up to ``maxWaiting`` calls wait in order
/// for a turn, and a call beyond those is refused with RESOURCE_EXHAUSTED at once. A wait is bounded by
/// the pages ahead of it (each a few rows) and ended by the call's CANCEL or deadline.
final class PageBuildLimit: Sendable {
    private struct State {
        var building = 0
        /// Oldest first; a waiter is handed its turn by the page that finishes.
        var waiting: [OneShot<Void>] = []
    }

    let maxBuilding: Int
    let maxWaiting: Int
    private let state = Mutex(State())

    init(maxBuilding: Int = 4, maxWaiting: Int = 64) {
        precondition(maxBuilding > 0 && maxWaiting >= 0)
        self.maxBuilding = maxBuilding
        self.maxWaiting = maxWaiting
    }

    /// Runs `build` once it is this call's turn, then gives the turn to the next waiter.
    /// - Throws: RESOURCE_EXHAUSTED when ``maxWaiting`` calls already wait; CANCELLED when the task is
    ///   cancelled while it waits; what `build` throws.
    func withTurn<T>(_ build: () async throws -> T) async throws -> T {
        try await self.take()
        defer { self.pass() }
        return try await build()
    }

    /// Pages being built and calls waiting, now.
    var load: (building: Int, waiting: Int) {
        self.state.withLock { ($0.building, $0.waiting.count) }
    }

    private func take() async throws(RPCError) {
        let ticket: OneShot<Void>? = try self.state.withLock { state throws(RPCError) in
            if state.building < self.maxBuilding {
                state.building += 1
                return nil
            }
            guard state.waiting.count < self.maxWaiting else {
                throw RPCError(
                    code: .resourceExhausted,
                    message: "Too many ratings-feed pages are being read (\(self.maxBuilding) at once, \(self.maxWaiting) waiting): retry later."
                )
            }
            let ticket = OneShot<Void>()
            state.waiting.append(ticket)
            return ticket
        }
        guard let ticket else { return }
        if await ticket.valueUnlessCancelled() != nil { return }
        let stillWaiting = self.state.withLock { state -> Bool in
            guard let index = state.waiting.firstIndex(where: { $0 === ticket }) else { return false }
            state.waiting.remove(at: index)
            return true
        }
        // Handed the turn just as it was cancelled: pass it on.
        if !stillWaiting { self.pass() }
        throw RPCError(code: .cancelled, message: "The call was cancelled while its page waited to be read.")
    }

    private func pass() {
        let next = self.state.withLock { state -> OneShot<Void>? in
            guard !state.waiting.isEmpty else {
                state.building -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.set(())
    }
}

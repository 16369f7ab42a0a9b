import NIOCore
import Synchronization

/// The server's open connections: enforces the connection limit and drains them all on shutdown.
///
/// Fair admission: at the limit, a new connection is admitted by evicting the connection that has been
/// idle longest (no call in flight, or no HELLO yet: both count as idle from the moment they last were
/// busy, or connected), which gets GOAWAY `NO_ERROR` and is closed. Only when every connection has a call
/// in flight is the newcomer refused. A flood of idle connections therefore cannot lock others out.
final class ConnectionRegistry: Sendable {
    private struct State {
        var connections: [Int: any Channel] = [:]
        /// Each connection's GOAWAY `NO_ERROR` with the given debug text, then close once drained.
        var drains: [Int: @Sendable (String) -> Void] = [:]
        /// Connections without a call in flight, and since when.
        var idleSince: [Int: ContinuousClock.Instant] = [:]
        /// Connections told to go away to make room, not closed yet.
        var evicting: Set<Int> = []
        var nextID = 1
        var shuttingDown = false
        var onDrained: (@Sendable () -> Void)?
    }

    private let maxConnections: Int
    private let state = Mutex(State())

    init(maxConnections: Int) {
        self.maxConnections = maxConnections
    }

    /// Registers `channel` (evicting the longest-idle connection when at the limit), or returns nil
    /// when every connection is busy or the server is shutting down.
    /// Whether ``shutDown(onDrained:)`` was called: connections are no longer taken.
    var isShuttingDown: Bool {
        self.state.withLock { $0.shuttingDown }
    }

    func add(_ channel: any Channel) -> Int? {
        let (id, eviction): (Int?, (@Sendable (String) -> Void)?) = self.state.withLock { state in
            guard !state.shuttingDown else { return (nil, nil) }
            var eviction: (@Sendable (String) -> Void)?
            if state.connections.count - state.evicting.count >= self.maxConnections {
                let victim = state.idleSince.filter { !state.evicting.contains($0.key) && state.drains[$0.key] != nil }
                    .min { $0.value < $1.value }?.key
                guard let victim else { return (nil, nil) }
                state.evicting.insert(victim)
                state.idleSince[victim] = nil
                eviction = state.drains[victim]
            }
            let id = state.nextID
            state.nextID += 1
            state.connections[id] = channel
            state.idleSince[id] = .now
            return (id, eviction)
        }
        eviction?("evicted: the server is at its connection limit and this connection was the longest idle")
        if let id {
            channel.closeFuture.whenComplete { _ in self.remove(id) }
        }
        return id
    }

    /// Sets how to drain a registered connection (its handler's GOAWAY), run on shutdown or eviction.
    func setDrain(_ id: Int, _ drain: @escaping @Sendable (String) -> Void) {
        let drainNow = self.state.withLock { state -> Bool in
            guard state.connections[id] != nil else { return false }
            state.drains[id] = drain
            return state.shuttingDown
        }
        if drainNow { drain("server shutting down") }
    }

    /// A connection's calls in flight went from none to some (`idle` false) or back to none.
    func setIdle(_ id: Int, _ idle: Bool) {
        self.state.withLock { state in
            guard state.connections[id] != nil, !state.evicting.contains(id) else { return }
            state.idleSince[id] = idle ? .now : nil
        }
    }

    var count: Int { self.state.withLock { $0.connections.count } }

    private func remove(_ id: Int) {
        let onDrained: (@Sendable () -> Void)? = self.state.withLock { state in
            state.connections[id] = nil
            state.drains[id] = nil
            state.idleSince[id] = nil
            state.evicting.remove(id)
            guard state.shuttingDown, state.connections.isEmpty else { return nil }
            defer { state.onDrained = nil }
            return state.onDrained
        }
        onDrained?()
    }

    /// Drains every connection; `onDrained` runs once all are closed (at once if there are none).
    func shutDown(onDrained: @escaping @Sendable () -> Void) {
        let (drains, empty): ([@Sendable (String) -> Void], Bool) = self.state.withLock { state in
            state.shuttingDown = true
            if state.connections.isEmpty { return ([], true) }
            state.onDrained = onDrained
            return (Array(state.drains.values), false)
        }
        if empty { onDrained() }
        for drain in drains { drain("server shutting down") }
    }

    /// Closes every connection at once.
    func closeAll() {
        let channels = self.state.withLock { Array($0.connections.values) }
        for channel in channels { channel.close(promise: nil) }
    }
}

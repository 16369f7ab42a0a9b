import NIOCore
import Synchronization

/// The server's open connections: enforces the connection limit and drains them all on shutdown.
final class ConnectionRegistry: Sendable {
    private struct State {
        var connections: [Int: any Channel] = [:]
        var drains: [Int: @Sendable () -> Void] = [:]
        var nextID = 1
        var shuttingDown = false
        var onDrained: (@Sendable () -> Void)?
    }

    private let maxConnections: Int
    private let state = Mutex(State())

    init(maxConnections: Int) {
        self.maxConnections = maxConnections
    }

    /// Registers `channel`, or returns nil when at the limit or shutting down.
    func add(_ channel: any Channel) -> Int? {
        let id: Int? = self.state.withLock { state in
            guard !state.shuttingDown, state.connections.count < self.maxConnections else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.connections[id] = channel
            return id
        }
        if let id {
            channel.closeFuture.whenComplete { _ in self.remove(id) }
        }
        return id
    }

    /// Sets how to drain a registered connection (its handler's GOAWAY), run on shutdown.
    func setDrain(_ id: Int, _ drain: @escaping @Sendable () -> Void) {
        let drainNow = self.state.withLock { state -> Bool in
            guard state.connections[id] != nil else { return false }
            state.drains[id] = drain
            return state.shuttingDown
        }
        if drainNow { drain() }
    }

    var count: Int { self.state.withLock { $0.connections.count } }

    private func remove(_ id: Int) {
        let onDrained: (@Sendable () -> Void)? = self.state.withLock { state in
            state.connections[id] = nil
            state.drains[id] = nil
            guard state.shuttingDown, state.connections.isEmpty else { return nil }
            defer { state.onDrained = nil }
            return state.onDrained
        }
        onDrained?()
    }

    /// Drains every connection; `onDrained` runs once all are closed (at once if there are none).
    func shutDown(onDrained: @escaping @Sendable () -> Void) {
        let (drains, empty): ([@Sendable () -> Void], Bool) = self.state.withLock { state in
            state.shuttingDown = true
            if state.connections.isEmpty { return ([], true) }
            state.onDrained = onDrained
            return (Array(state.drains.values), false)
        }
        if empty { onDrained() }
        for drain in drains { drain() }
    }

    /// Closes every connection at once.
    func closeAll() {
        let channels = self.state.withLock { Array($0.connections.values) }
        for channel in channels { channel.close(promise: nil) }
    }
}

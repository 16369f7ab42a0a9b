import Synchronization

/// Whether a connection takes more bytes now (its socket's send buffer and its own queue are below their
/// high-water mark), and the streams that wait until it does: a stream sends only while its connection is
/// writable, so a reader that grants credit and never reads its socket costs the server no more than the
/// connection's high-water mark and one message per stream, whatever credit it granted.
package final class WritabilityGate: Sendable {
    private struct State {
        var writable = true
        var blocked: [ServerStream] = []
    }

    private let state = Mutex(State())

    package init() {}

    package var isWritable: Bool { self.state.withLock { $0.writable } }

    /// The connection's writability changed (on its event loop): when it can take bytes again, every
    /// stream that waited is woken.
    package func set(writable: Bool) {
        let woken: [ServerStream] = self.state.withLock { state in
            state.writable = writable
            guard writable else { return [] }
            defer { state.blocked.removeAll() }
            return state.blocked
        }
        for stream in woken { stream.wake() }
    }

    /// Wakes `stream` once the connection is writable. Returns false, registering nothing, when it is now.
    func wakeWhenWritable(_ stream: ServerStream) -> Bool {
        self.state.withLock { state in
            guard !state.writable else { return false }
            state.blocked.append(stream)
            return true
        }
    }
}

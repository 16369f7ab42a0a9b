import Synchronization

/// Whether a connection takes more bytes now (its socket's send buffer and its own queue are below their
/// high-water mark), and the streams that wait until it does: a stream hands over a message only while
/// its connection is writable. A reader that grants credit and never reads its socket therefore costs the
/// server about the connection's high-water mark plus what its streams handed over before the event loop
/// wrote and noticed (at most their credit: the bound SPEC.md section 16 promises), not a buffer that
/// grows with time. Measured: 64 such streams, +6.7 MiB (Tests/hostile/test_feedbackd_stream_flood.py).
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

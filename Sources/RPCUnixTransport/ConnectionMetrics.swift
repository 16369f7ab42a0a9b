import CoreMetrics

/// What the server records of connections through swift-metrics (calls are the executor's): refused
/// connections, by reason. Gauges read from state (connections, calls in flight) are the exporter's.
final class ConnectionMetrics: Sendable {
    private let refusedTooMany = Counter(label: "feedback_rpc_connections_refused_total", dimensions: [("reason", "too_many_connections")])
    private let refusedPeer = Counter(label: "feedback_rpc_connections_refused_total", dimensions: [("reason", "peer_not_allowed")])

    /// A connection refused: over the connection limit, or by the peer-credential allow-list.
    func recordRefusedConnection(peerAllowed: Bool) {
        (peerAllowed ? self.refusedTooMany : self.refusedPeer).increment()
    }
}

import CoreMetrics
import RPCCore

/// What the server records through swift-metrics: calls by method and status, their duration, and
/// refused connections. Nothing is exported unless the process bootstraps a metrics backend (feedbackd's
/// `--metrics-listen`); without one the handles are swift-metrics' no-ops. Every handle is made once,
/// here: the methods the router serves and the 17 status codes, so a call touches no lock or table to
/// find its counter, and a peer calling made-up method names cannot add time series (they count as
/// `method="unknown"`). Gauges read from state (connections, calls in flight) are the exporter's.
final class ServerMetrics: Sendable {
    private struct MethodMetrics: Sendable {
        /// By status code, 0...16.
        let calls: [Counter]
        let duration: Timer
    }

    private let methods: [String: MethodMetrics]
    private let unknownMethod: MethodMetrics
    private let refusedTooMany: Counter
    private let refusedPeer: Counter
    private let abandonedHandlers: Counter
    /// Whether a metrics backend was bootstrapped: without one a call reads no clock for its duration.
    private let recording: Bool

    init(methods: [String]) {
        func metrics(_ method: String) -> MethodMetrics {
            MethodMetrics(
                calls: StatusCode.all.map { Counter(label: Names.calls, dimensions: [("method", method), ("code", $0.name)]) },
                duration: Timer(label: Names.callDuration, dimensions: [("method", method)])
            )
        }
        self.methods = Dictionary(uniqueKeysWithValues: methods.map { ($0, metrics($0)) })
        self.unknownMethod = metrics("unknown")
        self.refusedTooMany = Counter(label: Names.connectionsRefused, dimensions: [("reason", "too_many_connections")])
        self.refusedPeer = Counter(label: Names.connectionsRefused, dimensions: [("reason", "peer_not_allowed")])
        self.abandonedHandlers = Counter(label: Names.handlersAbandoned)
        self.recording = !(MetricsSystem.factory is NOOPMetricsHandler)
    }

    /// A call of `method` answered with `code`, received at `receivedAt`.
    func recordCall(method: String, code: UInt32, receivedAt: ContinuousClock.Instant) {
        guard self.recording else { return }
        let metrics = self.methods[method] ?? self.unknownMethod
        metrics.calls[Int(StatusCode(rawValue: code).normalized.rawValue)].increment()
        let elapsed = (ContinuousClock.now - receivedAt).components
        metrics.duration.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }

    /// A connection refused: over the connection limit, or by the peer-credential allow-list.
    func recordRefusedConnection(peerAllowed: Bool) {
        (peerAllowed ? self.refusedTooMany : self.refusedPeer).increment()
    }

    /// A handler that ignored its call's interrupt past the grace, answered UNKNOWN and left running.
    func recordAbandonedHandler() {
        self.abandonedHandlers.increment()
    }

    /// The metric names, in Prometheus' conventions (base units, `_total` for counters).
    enum Names {
        static let calls = "feedback_rpc_calls_total"
        static let callDuration = "feedback_rpc_call_duration_seconds"
        static let connectionsRefused = "feedback_rpc_connections_refused_total"
        static let handlersAbandoned = "feedback_rpc_handlers_abandoned_total"
    }
}

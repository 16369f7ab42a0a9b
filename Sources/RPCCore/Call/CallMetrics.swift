import Metrics

/// What the call executor records through swift-metrics: calls by method and status, their duration,
/// and handlers left behind past the interrupt grace. Nothing is exported unless the process bootstraps
/// a metrics backend (feedbackd's `--metrics-listen`); without one the handles are swift-metrics' no-ops.
/// Every handle is made once, here: the methods the router serves and the 17 status codes, so a call
/// touches no lock or table to find its counter, and a peer calling made-up method names cannot add
/// time series (they count as `method="unknown"`).
final class CallMetrics: Sendable {
    private struct MethodMetrics: Sendable {
        /// By status code, 0...16.
        let calls: [Counter]
        let duration: Timer
    }

    private let methods: [String: MethodMetrics]
    private let unknownMethod: MethodMetrics
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
        self.abandonedHandlers = Counter(label: Names.handlersAbandoned)
        self.recording = !(MetricsSystem.factory is NOOPMetricsHandler)
    }

    /// A call of `method` answered with `code`, received at `receivedAt`.
    func recordCall(method: String, code: StatusCode, receivedAt: ContinuousClock.Instant) {
        guard self.recording else { return }
        let metrics = self.methods[method] ?? self.unknownMethod
        metrics.calls[Int(code.normalized.rawValue)].increment()
        metrics.duration.record(duration: .now - receivedAt)
    }

    /// A handler that ignored its call's interrupt past the grace, answered UNKNOWN and left running.
    func recordAbandonedHandler() {
        self.abandonedHandlers.increment()
    }

    /// The metric names, in Prometheus' conventions (base units, `_total` for counters).
    enum Names {
        static let calls = "feedback_rpc_calls_total"
        static let callDuration = "feedback_rpc_call_duration_seconds"
        static let handlersAbandoned = "feedback_rpc_handlers_abandoned_total"
    }
}

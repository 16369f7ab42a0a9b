import Metrics
import Synchronization

/// What the call executor records through swift-metrics: calls by method and status, their duration,
/// and handlers left behind past the interrupt grace. Nothing is exported unless the process bootstraps
/// a metrics backend (feedbackd's `--metrics-listen`); without one the handles are swift-metrics' no-ops.
/// A method's handles are made when it is first answered with a status (no series of zeros for methods
/// never called), found without a table lookup past the method's own; the methods are those the router
/// serves, so a peer calling made-up method names cannot add time series (they count as
/// `method="unknown"`).
final class CallMetrics: Sendable {
    private final class MethodMetrics: Sendable {
        let method: String
        /// By status code, 0...16, made at first use; and the duration histogram.
        private let handles = Mutex<(calls: [Counter?], duration: Timer?)>((Array(repeating: nil, count: StatusCode.all.count), nil))

        init(method: String) {
            self.method = method
        }

        func record(code: StatusCode, duration: Duration) {
            let index = Int(code.normalized.rawValue)
            let (counter, timer) = self.handles.withLock { handles in
                if handles.calls[index] == nil {
                    handles.calls[index] = Counter(label: Names.calls, dimensions: [("method", self.method), ("code", code.normalized.name)])
                }
                if handles.duration == nil {
                    handles.duration = Timer(label: Names.callDuration, dimensions: [("method", self.method)])
                }
                return (handles.calls[index]!, handles.duration!)
            }
            counter.increment()
            timer.record(duration: duration)
        }
    }

    private let methods: [String: MethodMetrics]
    private let unknownMethod: MethodMetrics
    private let abandonedHandlers: Counter
    /// Whether a metrics backend was bootstrapped: without one a call reads no clock for its duration.
    private let recording: Bool

    init(methods: [String]) {
        self.methods = Dictionary(uniqueKeysWithValues: methods.map { ($0, MethodMetrics(method: $0)) })
        self.unknownMethod = MethodMetrics(method: "unknown")
        self.abandonedHandlers = Counter(label: Names.handlersAbandoned)
        self.recording = !(MetricsSystem.factory is NOOPMetricsHandler)
    }

    /// A call of `method` answered with `code`, received at `receivedAt`.
    func recordCall(method: String, code: StatusCode, receivedAt: ContinuousClock.Instant) {
        guard self.recording else { return }
        (self.methods[method] ?? self.unknownMethod).record(code: code, duration: .now - receivedAt)
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

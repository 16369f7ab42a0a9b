import CoreMetrics
import Prometheus

/// The one Prometheus backend of a process (`--metrics-listen`): swift-metrics handles made after
/// ``bootstrap()`` are recorded in its registry, which ``MetricsEndpoint`` serves. Without it (the
/// default), swift-metrics' handles are no-ops.
public enum PrometheusExport {
    /// Call durations: from 50 µs (a health check) to 10 s (a batch stuck behind a lock).
    static let durationBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]
    /// Ratings per batch: powers of two up to a store's largest batch (512).
    static let sizeBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]

    /// Makes Prometheus the process's metrics backend; call once, before the handles are made.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        factory.defaultValueHistogramBuckets = Self.sizeBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }
}

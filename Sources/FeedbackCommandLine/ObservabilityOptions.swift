import ArgumentParser
import FeedbackLogging
import FeedbackMetrics
import Logging
import Prometheus

/// The logging and metrics flags of both servers (feedbackd, feedback-gateway): one declaration, one
/// validation, one bootstrap.
public struct ObservabilityOptions: ParsableArguments {
    public enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
        case text, json
    }

    @Option(help: "Log format on stderr: text (control characters escaped) or json (one object per line).")
    public var logFormat: LogFormat = .text

    /// swift-log's levels, as the flag spells them.
    public enum LogLevel: String, ExpressibleByArgument, CaseIterable, Sendable {
        case trace, debug, info, notice, warning, error, critical

        var level: Logger.Level { Logger.Level(rawValue: self.rawValue)! }
    }

    @Option(help: "Lowest level logged: trace, debug, info, notice, warning, error or critical.")
    public var logLevel: LogLevel = .info

    @Option(help: ArgumentHelp("Serve Prometheus metrics at http://HOST:PORT/metrics (off by default). Keep it on a private address.", valueName: "host:port"))
    public var metricsListen: String?

    public init() {}

    public func validate() throws {
        if let listen = self.metricsListen {
            do { _ = try MetricsEndpoint.hostAndPort(listen) } catch { throw ValidationError("--metrics-listen: \(error)") }
        }
    }

    /// Bootstraps swift-metrics (when ``metricsListen`` is set: Prometheus, whose registry is returned
    /// for the endpoint) and swift-log, once per process, before any metric handle or logger is made.
    public func bootstrap(label: String) -> (logger: Logger, registry: PrometheusCollectorRegistry?) {
        let registry = self.metricsListen.map { _ in PrometheusExport.bootstrap() }
        LogOutput.bootstrap(json: self.logFormat == .json, level: self.logLevel.level)
        return (Logger(label: label), registry)
    }
}

import ArgumentParser
import FeedbackAuth
import FeedbackCommandLine
import FeedbackEnvironment
import FeedbackGateway
import FeedbackMetrics
import FeedbackVersion
import Foundation
import Hummingbird
import Logging
import RPCUnixTransport
import ServiceLifecycle

@main
struct FeedbackGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedback-gateway",
        abstract: "HTTP drop-in for the original POST /feedback, forwarding to feedbackd over its Unix socket.",
        discussion: """
            POST /feedback takes {"interaction_id", "rating"} with Authorization: Bearer <jwt> and answers as \
            the original FastAPI endpoint did (204, 401, 404, 422, 503, ...). The token is forwarded to \
            feedbackd, which verifies it; the gateway holds no secret. It also serves the widget at \
            /widget/feedback.js, a demo page at /, and /healthz.

            Example:
              feedback-gateway --listen 127.0.0.1:8080 --socket /run/feedback/feedback.sock \\
                --allowed-origin https://chat.example.com
            """,
        version: FeedbackVersion.current
    )

    @Option(help: "HOST:PORT to listen on (port 0 picks a free port).")
    var listen: String = "127.0.0.1:8080"

    @Option(help: ArgumentHelp(FeedbackEnvironment.socketHelp))
    var socket: String = FeedbackEnvironment.socketPath

    @Option(help: ArgumentHelp("An origin whose pages may call the gateway (CORS); repeatable.", valueName: "origin"))
    var allowedOrigin: [String] = []

    @Option(help: ArgumentHelp("Serve feedback.js and demo.html from this directory instead of the widget built into the gateway. The page marks its scripts and styles nonce=\"{{csp-nonce}}\": the gateway fills in each response's nonce (its Content-Security-Policy allows nothing else).", valueName: "dir"))
    var widgetDir: String?

    @Flag(help: "Do not serve the demo page at / (a production gateway: the widget's script, the API and /openapi.json only).")
    var noDemoPage = false

    @Option(help: "Request bodies over this many bytes get 413.")
    var maxBodyBytes: Int = 65_536

    @Option(help: "Deadline of each call to feedbackd, in milliseconds, from when the request asks for a call slot; past it: 504. Keep it above --queue-timeout-ms plus feedbackd's --busy-timeout-ms (5000), so that a locked database is answered 503.")
    var timeoutMs: Int64 = 6000

    @Option(help: "Calls in flight on each connection to feedbackd; more wait for a slot. At most feedbackd's --max-concurrent-calls (100).")
    var callsPerConnection: Int = 100

    @Option(help: "Milliseconds a request may wait for a call slot while every connection to feedbackd is full; then 503, without reaching feedbackd. Default: 500, or half of --timeout-ms when that is shorter.")
    var queueTimeoutMs: Int64?

    /// The slot wait in force: as given, or 500 ms, at most half the call's deadline.
    private var queueTimeout: Int64 { self.queueTimeoutMs ?? min(500, self.timeoutMs / 2) }

    @Option(help: "Clock skew tolerated on a token's exp and nbf, in seconds: give feedbackd's --jwt-leeway-s.")
    var jwtLeewayS: Int = TokenPolicy.defaultLeewaySeconds

    @Option(help: "Seconds a client has to send a request's head (from its first byte, or from connecting).")
    var headTimeoutS: Int = 10

    @Option(help: "Seconds a client has to send a request's body, from its head.")
    var bodyTimeoutS: Int = 30

    @Option(help: "Seconds a keep-alive connection may stay idle between requests.")
    var idleTimeoutS: Int = 60

    @Option(help: "Client connections open at once; one more is answered 503. Lowered to fit the descriptor limit, which is raised to its hard limit at start-up.")
    var maxConnections: Int = 4096

    @Option(help: "Largest request line and headers, in bytes; more gets 400.")
    var maxHeaderBytes: Int = 65536

    @Option(help: "Connections to feedbackd (each multiplexes many calls).")
    var poolSize: Int = 2

    @Option(help: "Seconds a graceful shutdown (SIGTERM) may take to finish the requests in progress; then they are cut off and the gateway exits.")
    var shutdownTimeoutS: Int = 35

    @OptionGroup(title: "Logging and metrics") var observability: ObservabilityOptions

    @Option(help: "Which requests get an http.access line (at info): errors (answered 4xx or 5xx; the default) or all.")
    var logRequests: RequestLog = .errors

    enum RequestLog: String, ExpressibleByArgument, CaseIterable {
        case errors, all
    }

    func validate() throws {
        do {
            _ = try MetricsEndpoint.hostAndPort(self.listen)
        } catch {
            throw ValidationError("--listen: \(error)")
        }
        guard self.headTimeoutS > 0, self.bodyTimeoutS > 0, self.idleTimeoutS > 0, self.timeoutMs > 0, self.shutdownTimeoutS > 0 else {
            throw ValidationError("timeouts must be positive")
        }
        guard self.queueTimeout >= 0, self.queueTimeout < self.timeoutMs, self.callsPerConnection > 0 else {
            throw ValidationError("--queue-timeout-ms must be below --timeout-ms and not negative, --calls-per-connection positive")
        }
        guard self.maxConnections > 0, self.maxBodyBytes > 0, self.maxHeaderBytes >= 1024, self.jwtLeewayS >= 0 else {
            throw ValidationError("--max-connections and --max-body-bytes must be positive, --max-header-bytes at least 1024, --jwt-leeway-s not negative")
        }
    }

    func run() async throws {
        let (host, port) = try MetricsEndpoint.hostAndPort(self.listen)
        // Before any metric handle is made.
        let (logger, registry) = self.observability.bootstrap(label: "feedback-gateway")
        var configuration = GatewayConfiguration(socketPath: self.socket)
        configuration.allowedOrigins = self.allowedOrigin
        configuration.widgetDirectory = self.widgetDir
        configuration.servesDemoPage = !self.noDemoPage
        configuration.logAllRequests = self.logRequests == .all
        configuration.maxBodyBytes = self.maxBodyBytes
        configuration.upstreamTimeout = .milliseconds(self.timeoutMs)
        configuration.poolSize = self.poolSize
        configuration.callsPerConnection = self.callsPerConnection
        configuration.queueTimeout = .milliseconds(self.queueTimeout)
        configuration.tokenPolicy = TokenPolicy(leeway: .seconds(self.jwtLeewayS))
        configuration.connectionLimits.headTimeout = .seconds(self.headTimeoutS)
        configuration.connectionLimits.bodyTimeout = .seconds(self.bodyTimeoutS)
        configuration.connectionLimits.idleTimeout = .seconds(self.idleTimeoutS)
        configuration.connectionLimits.maxHeaderBytes = self.maxHeaderBytes
        // The metrics port's cap comes out of the same descriptor budget as the HTTP port's.
        let metricsLimits = MetricsEndpoint.defaultConnectionLimits
        let (cap, descriptors) = DescriptorLimit.connectionCap(
            requested: self.maxConnections, otherListeners: registry == nil ? 0 : metricsLimits.maxConnections
        )
        configuration.connectionLimits.maxConnections = cap
        if cap < self.maxConnections {
            logger.warning(
                "gateway.max_connections_lowered",
                metadata: ["limit.requested": "\(self.maxConnections)", "limit.used": "\(configuration.connectionLimits.maxConnections)",
                           "limit.descriptors": "\(descriptors)"]
            )
        }
        let app: any ApplicationProtocol
        let (listening, listeningContinuation) = AsyncStream<Int>.makeStream()
        do {
            app = try GatewayApplication.application(
                configuration: configuration, host: host, port: port, logger: logger,
                onServerRunning: { port in
                    logger.info("gateway.listening", metadata: ["http.address": "\(host):\(port)"])
                    listeningContinuation.yield(port)
                }
            )
        } catch {
            FileHandle.standardError.write(Data("feedback-gateway: --widget-dir: \(error)\n".utf8))
            throw ExitCode(2)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: app)]
        if let registry, let listen = self.observability.metricsListen {
            let endpoint = try MetricsEndpoint(
                listen: listen, registry: registry, logger: logger, connectionLimits: metricsLimits,
                onListening: { port in logger.info("gateway.metrics_listening", metadata: ["http.port": "\(port)"]) }
            )
            // The HTTP port is opened only once the metrics port is bound.
            services = [.init(service: endpoint), .init(service: StartedAfterMetrics(app, after: endpoint))]
        }
        // Last: graceful shutdown reaches it first, so STOPPING=1 goes out before the drain.
        let notifier = SystemdNotifier(logger: logger) {
            var ports = listening.makeAsyncIterator()
            guard let port = await ports.next() else { throw CancellationError() }
            return "listening on http://\(host):\(port)"
        }
        services.append(.init(service: notifier, successTerminationBehavior: .ignore))
        var groupConfiguration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(self.shutdownTimeoutS)
        let group = ServiceGroup(configuration: groupConfiguration)
        do {
            try await group.run()
        } catch let error as MetricsEndpoint.CannotListen {
            logger.critical("gateway.start_failed", metadata: ["error": "--metrics-listen: \(error)"])
            FileHandle.standardError.write(Data("feedback-gateway: --metrics-listen: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

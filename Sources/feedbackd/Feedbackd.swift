import ArgumentParser
import CoreMetrics
import FeedbackAuth
import FeedbackCommandLine
import FeedbackDomain
import FeedbackMetrics
import FeedbackPostgres
import FeedbackSQLite
import FeedbackServer
import FeedbackVersion
import Foundation
import Logging
import NIOCore
import NIOPosix
import RPCCore
import RPCUnixTransport
import ServiceLifecycle
import UnixSignals

/// `feedbackd [options]` serves; `feedbackd migrate [options]` is the schema step of PostgreSQL. Told
/// apart by the first argument, so that the two commands' options (both take --postgres-url) never mix.
@main
enum Entry {
    /// Whether Swift Concurrency's jobs run on NIO's event loops (``TasksOnEventLoops``). Made before
    /// anything else runs, so that no job is enqueued on the other pool first; feedbackd says which at start.
    static let tasksOnEventLoops = TasksOnEventLoops.install()

    static func main() async {
        _ = Self.tasksOnEventLoops
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "migrate" {
            await Migrate.main(Array(arguments.dropFirst()))
        } else {
            await Feedbackd.main(arguments)
        }
    }
}

struct Feedbackd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedbackd",
        abstract: "Serve SubmitFeedback and health checks over a Unix socket, storing ratings in SQLite (or PostgreSQL).",
        discussion: """
            Ratings (+1 / -1) are stored in interactions.feedback and appended to feedback_events in the \
            same transaction; a call is answered OK only after the commit is durable. Callers send a JWT \
            in each call's authorization metadata (see protocol/SPEC.md).

            Example:
              FEEDBACK_JWT_SECRET=$(head -c 48 /dev/urandom | base64) \\
                feedbackd --socket /run/feedback/feedback.sock --db /var/lib/feedback/chat.db

            SIGTERM or SIGINT: stop accepting, send GOAWAY, answer the calls already received, exit 0.

            On PostgreSQL, `feedbackd migrate` creates feedback_events first (see `feedbackd migrate --help`).
            """,
        version: FeedbackVersion.current
    )

    @OptionGroup(title: "Socket") var socket: SocketOptions
    @OptionGroup(title: "Storage") var storage: StorageOptions
    @OptionGroup(title: "Authentication") var auth: AuthOptions
    @OptionGroup(title: "Limits") var limits: LimitOptions
    @OptionGroup(title: "Logging and metrics") var observability: ObservabilityOptions
    @OptionGroup(title: "Logging and metrics") var callLog: CallLogOptions

    func run() async throws {
        // Before any metric handle is made (the verifier, the store and the server make theirs).
        let (logger, registry) = self.observability.bootstrap(label: "feedbackd")
        logger.info("feedbackd.tasks_executor", metadata: ["executor": "\(Entry.tasksOnEventLoops ? "nio-event-loops" : "swift-global-pool")"])
        do {
            let warn: @Sendable (String) -> Void = { message in logger.warning("feedbackd.insecure_secret_file", metadata: ["error": "\(message)"]) }
            let verifier = try await TokenVerifier(configuration: try self.auth.configuration(warn: warn))
            let store: any FeedbackStore & Service
            switch try self.storage.store(warn: warn) {
            case .sqlite(let configuration): store = try SQLiteFeedbackStore(configuration: configuration, logger: logger)
            case .postgres(let configuration): store = PostgresFeedbackStore(configuration: configuration, logger: logger)
            }
            let verifiers = ReloadableVerifier(verifier)
            let router = FeedbackdRouter.make(store: store, verifiers: verifiers)
            var serverConfiguration = try self.serverConfiguration()
            // The metrics port's cap comes out of the same descriptor budget as the socket's.
            let metricsLimits = MetricsEndpoint.defaultConnectionLimits
            let (cap, descriptors) = DescriptorLimit.connectionCap(
                requested: serverConfiguration.maxConnections, otherListeners: registry == nil ? 0 : metricsLimits.maxConnections
            )
            if cap < serverConfiguration.maxConnections {
                logger.warning(
                    "feedbackd.max_connections_lowered",
                    metadata: ["limit.requested": "\(serverConfiguration.maxConnections)", "limit.used": "\(cap)", "limit.descriptors": "\(descriptors)"]
                )
                serverConfiguration.maxConnections = cap
            }
            let server = UnixSocketServer(
                configuration: serverConfiguration,
                router: router,
                logger: logger
            )
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: store)]
            if let registry, let listen = self.observability.metricsListen {
                let inFlight = Gauge(label: "feedback_rpc_calls_in_flight")
                let connections = Gauge(label: "feedback_rpc_connections")
                let serving = Gauge(label: "feedback_store_serving")
                let endpoint = try MetricsEndpoint(
                    listen: listen, registry: registry, logger: logger, connectionLimits: metricsLimits,
                    beforeScrape: {
                        inFlight.record(server.callsInFlight)
                        connections.record(server.connectionCount)
                        serving.record(store.isServing ? 1 : 0)
                    },
                    onListening: { port in logger.info("feedbackd.metrics_listening", metadata: ["http.port": "\(port)"]) }
                )
                // The socket is created only once the metrics port is bound: a port that cannot be stops
                // start-up with nothing listening.
                services.append(.init(service: endpoint))
                services.append(.init(service: StartedAfterMetrics(server, after: endpoint)))
            } else {
                services.append(.init(service: server))
            }
            let auth = self.auth
            let hangups = await UnixSignalsSequence(trapping: .sighup)
            services.append(.init(service: KeyReload(hangups: hangups, verifiers: verifiers, configuration: { try auth.configuration(warn: warn) }, logger: logger)))
            // Last: graceful shutdown reaches it first, so STOPPING=1 goes out before the drain.
            let socketPath = serverConfiguration.socketPath
            let notifier = SystemdNotifier(logger: logger) {
                try await server.waitUntilListening()
                return "serving on \(socketPath)"
            }
            services.append(.init(service: notifier, successTerminationBehavior: .ignore))
            var groupConfiguration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            // Past this, graceful shutdown becomes cancellation: calls still running are cut off.
            groupConfiguration.maximumGracefulShutdownDuration = .seconds(self.limits.shutdownTimeoutS)
            let group = ServiceGroup(configuration: groupConfiguration)
            try await group.run()
        } catch let error as TransportError {
            throw Self.fail(error.description, logger: logger)
        } catch let error as AuthConfigurationError {
            throw Self.fail("authentication: \(error)", logger: logger)
        } catch let error as ConfigurationError {
            throw Self.fail(error.description, logger: logger)
        } catch FeedbackError.storeUnavailable(let cause) {
            throw Self.fail("database: \(cause)", logger: logger)
        } catch let error as MetricsEndpoint.CannotListen {
            throw Self.fail("--metrics-listen: \(error)", logger: logger)
        }
    }

    private func serverConfiguration() throws -> ServerConfiguration {
        var configuration = ServerConfiguration(socketPath: self.socket.socket)
        guard let mode = UInt32(self.socket.socketMode, radix: 8), mode <= 0o777 else {
            throw ConfigurationError("--socket-mode must be octal permission bits such as 0660, not \(self.socket.socketMode)")
        }
        configuration.socketMode = mode
        // Socket activation: the socket systemd holds (feedbackd.socket) instead of --socket's.
        do {
            if let inherited = try SocketActivation.unixListener() {
                configuration.inheritedListener = inherited.descriptor
                configuration.socketPath = inherited.path.isEmpty ? configuration.socketPath : inherited.path
            }
        } catch let refusal as SocketActivation.Refusal {
            throw ConfigurationError(refusal.description)
        }
        configuration.allowedUIDs = self.socket.allowUID.isEmpty ? nil : Set(self.socket.allowUID)
        configuration.allowedGIDs = self.socket.allowGID.isEmpty ? nil : Set(self.socket.allowGID)
        configuration.maxConcurrentCallsPerConnection = self.limits.maxConcurrentCalls
        configuration.maxConnections = self.limits.maxConnections
        configuration.maxCallsInFlight = self.limits.maxCallsInFlight
        configuration.limits.maxFrameSize = self.limits.maxFrameSize
        configuration.handshakeTimeout = .milliseconds(self.limits.handshakeTimeoutMs)
        configuration.idleTimeout = .seconds(self.limits.idleTimeoutS)
        configuration.calls = .feedbackd
        configuration.calls.callLog = self.callLog.logCalls
        configuration.maxStreams = self.limits.maxStreams
        configuration.calls.streamStallTimeout = .seconds(self.limits.streamStallTimeoutS)
        return configuration
    }

    private static func fail(_ message: String, logger: Logger) -> ExitCode {
        logger.critical("feedbackd.start_failed", metadata: ["error": "\(message)"])
        FileHandle.standardError.write(Data("feedbackd: \(message)\n".utf8))
        return ExitCode(2)
    }
}

struct ConfigurationError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

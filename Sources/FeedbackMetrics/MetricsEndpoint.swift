import AsyncOneShot
import FeedbackVersion
import HTTPConnectionGuard
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// `GET /metrics` in Prometheus' text format on `HOST:PORT` (Hummingbird), until graceful shutdown.
/// `beforeScrape` sets the gauges that are read from state (connections, calls in flight, store health)
/// just before each scrape, so that the hot path keeps no gauge up to date.
///
/// Its connections are guarded as the gateway's are (``GuardedHTTP1Channel``: head, body, idle and write
/// deadlines, and a cap past which a connection is answered 503 and closed), so that a flood of this port
/// holds at most ``HTTPConnectionLimits/maxConnections`` descriptors: take the cap out of the process's
/// descriptor budget (`DescriptorLimit.connectionCap(requested:otherListeners:)`). A service that must not
/// start unless the port is bound runs in ``StartedAfterMetrics``.
public struct MetricsEndpoint: Service {
    /// A scraper needs a connection or two and sends a small head at once: 16 connections, 10 s for a
    /// head or a body, 60 s idle (longer than Prometheus' default scrape interval, so a scraper's
    /// keep-alive connection stays), 16 KiB of headers.
    public static let defaultConnectionLimits = HTTPConnectionLimits(
        headTimeout: .seconds(10), bodyTimeout: .seconds(10), idleTimeout: .seconds(60), maxConnections: 16, maxHeaderBytes: 16 * 1024
    )

    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let connectionLimits: HTTPConnectionLimits
    let beforeScrape: @Sendable () -> Void
    let logger: Logger
    let onListening: @Sendable (Int) async -> Void
    /// Whether the endpoint got its listener: set once, awaited by the services that must not start
    /// before it (``StartedAfterMetrics``).
    let listening = OneShot<ListeningOutcome>()

    enum ListeningOutcome: Sendable {
        case listening
        case failed(CannotListen)
        /// Stopped before it listened (a shutdown during start-up).
        case gaveUp
    }

    /// - Parameter listen: `HOST:PORT`; port 0 takes a free one (reported to `onListening`).
    /// - Throws: ``InvalidAddress`` for anything else.
    public init(
        listen: String, registry: PrometheusCollectorRegistry, logger: Logger,
        connectionLimits: HTTPConnectionLimits = MetricsEndpoint.defaultConnectionLimits,
        beforeScrape: @escaping @Sendable () -> Void = {}, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws(InvalidAddress) {
        (self.host, self.port) = try Self.hostAndPort(listen)
        self.registry = registry
        self.connectionLimits = connectionLimits
        self.beforeScrape = beforeScrape
        self.logger = logger
        self.onListening = onListening
    }

    /// The address cannot be listened on (taken, or not an address of this host): thrown by ``run()``
    /// before anything is served.
    public struct CannotListen: Error, CustomStringConvertible {
        public var address: String
        public var cause: String
        public var description: String { "cannot listen on \(self.address): \(self.cause)" }
    }

    /// An address that is not `HOST:PORT`.
    public struct InvalidAddress: Error, CustomStringConvertible {
        public var description: String
    }

    /// `HOST:PORT` (an IPv6 host in brackets, `[::1]:9100`), the one parser of both executables' listen
    /// options.
    public static func hostAndPort(_ listen: String) throws(InvalidAddress) -> (host: String, port: Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw InvalidAddress(description: "\(listen) is not HOST:PORT, e.g. 127.0.0.1:9100")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw InvalidAddress(description: "\(listen) names no host, e.g. 127.0.0.1:9100") }
        return (host, port)
    }

    /// Serves until graceful shutdown.
    /// - Throws: ``CannotListen`` when the address cannot be bound.
    public func run() async throws {
        let router = Router()
        let (registry, beforeScrape) = (self.registry, self.beforeScrape)
        router.get("/metrics") { _, _ in
            beforeScrape()
            // The registry's families with their HELP lines, then the process's and the build's.
            let text = MetricsHelp.annotate(String(decoding: registry.emitToBuffer(), as: UTF8.self))
                + ProcessMetrics.text(version: FeedbackVersion.current)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text))
            )
        }
        let (onListening, listening, limits) = (self.onListening, self.listening, self.connectionLimits)
        let connections = GuardedHTTP1Channel.ConnectionCount()
        let app = Application(
            router: router,
            server: HTTPServerBuilder { responder in GuardedHTTP1Channel(responder: responder, limits: limits, count: connections) },
            configuration: ApplicationConfiguration(address: .hostname(self.host, port: self.port), serverName: nil),
            onServerRunning: { channel in
                listening.set(.listening)
                await onListening(channel.localAddress?.port ?? 0)
            },
            logger: self.logger
        )
        do {
            try await app.run()
        } catch {
            let failure = CannotListen(address: "\(self.host):\(self.port)", cause: "\(error)")
            if listening.set(.failed(failure)) { throw failure }
            throw error
        }
        listening.set(.gaveUp)  // stopped before it listened (a shutdown during start-up)
    }
}

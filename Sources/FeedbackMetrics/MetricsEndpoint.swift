import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// `GET /metrics` in Prometheus' text format on `HOST:PORT` (Hummingbird), until graceful shutdown.
/// `beforeScrape` sets the gauges that are read from state (connections, calls in flight, store health)
/// just before each scrape, so that the hot path keeps no gauge up to date.
public struct MetricsEndpoint: Service {
    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let beforeScrape: @Sendable () -> Void
    let logger: Logger
    let onListening: @Sendable (Int) async -> Void

    /// - Parameter listen: `HOST:PORT`; port 0 takes a free one (reported to `onListening`).
    /// - Throws: ``InvalidAddress`` for anything else.
    public init(
        listen: String, registry: PrometheusCollectorRegistry, logger: Logger,
        beforeScrape: @escaping @Sendable () -> Void = {}, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws(InvalidAddress) {
        (self.host, self.port) = try Self.hostAndPort(listen)
        self.registry = registry
        self.beforeScrape = beforeScrape
        self.logger = logger
        self.onListening = onListening
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

    public func run() async throws {
        let router = Router()
        let (registry, beforeScrape) = (self.registry, self.beforeScrape)
        router.get("/metrics") { _, _ in
            beforeScrape()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
        let onListening = self.onListening
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(self.host, port: self.port), serverName: nil),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: self.logger
        )
        try await app.runService()
    }
}

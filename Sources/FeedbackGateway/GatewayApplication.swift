import FeedbackClient
import HTTPConnectionGuard
import Hummingbird
import HummingbirdCore
import Logging
import RPCCore

/// Builds the gateway: routes, CORS, request ids, `nosniff` and access logs over a pool of feedbackd connections.
public enum GatewayApplication {
    /// The router, ready for `Application(router:)` or HummingbirdTesting.
    /// - Parameter transport: how to reach feedbackd; by default a pool of connections to
    ///   ``GatewayConfiguration/socketPath``. Tests pass an `InProcessTransport`.
    public static func router(
        configuration: GatewayConfiguration,
        transport: (any ClientTransport)? = nil
    ) throws -> Router<BasicRequestContext> {
        // HEAD is answered for every GET route: the GET's status and headers, without the body.
        let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: NoSniffMiddleware())
        router.add(middleware: RequestMetricsMiddleware())
        router.add(middleware: RequestIDMiddleware(logAll: configuration.logAllRequests))
        router.add(middleware: CORSAllowListMiddleware(allowedOrigins: Set(configuration.allowedOrigins)))
        let upstream =
            transport.map { FeedbackUpstream(transport: $0, configuration: configuration) }
            ?? FeedbackUpstream(configuration: configuration)
        FeedbackRoutes(upstream: upstream, configuration: configuration).register(on: router)
        let widget = try configuration.widgetDirectory.map { try WidgetRoutes<BasicRequestContext>(directory: $0) } ?? .embedded
        widget.register(on: router, demoPage: configuration.servesDemoPage)
        OpenAPIDocument.register(on: router)
        return router
    }

    /// The application on `host:port`, with the connection guards of ``GatewayConfiguration/connectionLimits``;
    /// a `Service` that stops on graceful shutdown.
    public static func application(
        configuration: GatewayConfiguration,
        host: String,
        port: Int,
        logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let connections = GuardedHTTP1Channel.ConnectionCount()
        return Application(
            router: try self.router(configuration: configuration),
            server: HTTPServerBuilder { responder in
                GuardedHTTP1Channel(responder: responder, limits: configuration.connectionLimits, count: connections)
            },
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}

import FeedbackDomain
import FeedbackGateway
import FeedbackServer
import FeedbackTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RPCCore
import Synchronization

/// The widget's sources, which the gateway embeds.
let widgetSources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("clients/widget").path

/// A gateway (tested through Hummingbird's router test client) in front of feedbackd's services over
/// `store`, reached in process: no socket on either side.
func withGateway<T: Sendable>(
    store: any FeedbackStore,
    allowedOrigins: [String] = [],
    maxBodyBytes: Int = 65_536,
    widgetDirectory: String? = nil,
    servesDemoPage: Bool = true,
    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> T
) async throws -> T {
    let router = RPCRouter(
        services: [FeedbackService(store: store), HealthService(store: store)],
        interceptors: [AuthInterceptor(verifier: try await TestAuth.verifier())]
    )
    return try await withGateway(
        socketPath: "/nonexistent", transport: InProcessTransport(router: router, logger: quietLogger()),
        allowedOrigins: allowedOrigins, maxBodyBytes: maxBodyBytes, widgetDirectory: widgetDirectory, servesDemoPage: servesDemoPage, body
    )
}

/// A gateway in front of whatever listens on `socketPath` (or nothing), or of `transport` when given.
func withGateway<T: Sendable>(
    socketPath: String,
    transport: (any ClientTransport)? = nil,
    allowedOrigins: [String] = [],
    maxBodyBytes: Int = 65_536,
    timeout: Duration = .seconds(5),
    widgetDirectory: String? = nil,
    servesDemoPage: Bool = true,
    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> T
) async throws -> T {
    var configuration = GatewayConfiguration(socketPath: socketPath)
    configuration.allowedOrigins = allowedOrigins
    configuration.widgetDirectory = widgetDirectory
    configuration.servesDemoPage = servesDemoPage
    configuration.maxBodyBytes = maxBodyBytes
    configuration.upstreamTimeout = timeout
    let app = Application(router: try GatewayApplication.router(configuration: configuration, transport: transport), logger: quietLogger())
    return try await app.test(.router) { client in try await body(client) }
}

/// A test response's status, headers and body text.
struct HTTPResult: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: String

    /// The body as JSON (an object or array), or nil.
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(self.body.utf8), options: [.fragmentsAllowed]) }
    var detail: Any? { (self.json as? [String: Any])?["detail"] }
}

extension TestClientProtocol {
    /// POST /feedback with a raw body.
    func feedback(
        _ body: String,
        token: String?,
        contentType: String? = "application/json",
        headers extra: HTTPFields = [:]
    ) async throws -> HTTPResult {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let contentType { headers[.contentType] = contentType }
        return try await self.execute(uri: "/feedback", method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            HTTPResult(status: response.status, headers: response.headers, body: String(buffer: response.body))
        }
    }

    func request(_ uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:]) async throws -> HTTPResult {
        try await self.execute(uri: uri, method: method, headers: headers) { response in
            HTTPResult(status: response.status, headers: response.headers, body: String(buffer: response.body))
        }
    }
}

/// A client transport that records the metadata of each unary call it passes on.
final class MetadataRecordingTransport: ClientTransport, Sendable {
    private let inner: any ClientTransport
    private let recorded = Mutex<[Metadata]>([])

    init(_ inner: any ClientTransport) {
        self.inner = inner
    }

    /// The metadata of the unary calls made so far, in order.
    var sent: [Metadata] { self.recorded.withLock { $0 } }

    func unary(method: String, request: [UInt8], metadata: Metadata, timeout: Duration?) async throws(RPCError) -> ClientResponse {
        self.recorded.withLock { $0.append(metadata) }
        return try await self.inner.unary(method: method, request: request, metadata: metadata, timeout: timeout)
    }

    func serverStream(method: String, request: [UInt8], metadata: Metadata, timeout: Duration?) async -> ClientStream {
        await self.inner.serverStream(method: method, request: request, metadata: metadata, timeout: timeout)
    }

    func close() async {
        await self.inner.close()
    }
}

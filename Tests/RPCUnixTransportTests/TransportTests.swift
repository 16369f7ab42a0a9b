import FeedbackClient
import FeedbackDomain
import FeedbackProtos
import FeedbackServer
import FeedbackTestSupport
import Logging
import RPCCore
import RPCUnixTransport
import Testing

/// Which transport a test's client uses: the Unix socket, or the router called in process.
enum TransportKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case socket, inProcess
    var description: String { self.rawValue }
}

/// Serves `services` (behind `interceptors`) over `kind` for the duration of `body`.
func withTransport<T: Sendable>(
    _ kind: TransportKind,
    services: [any RPCService],
    interceptors: [any ServerInterceptor] = [],
    configure: (inout ServerCallExecutor.Configuration) -> Void = { _ in },
    logger: Logger = quietLogger(),
    _ body: (any ClientTransport) async throws -> T
) async throws -> T {
    switch kind {
    case .inProcess:
        var configuration = ServerCallExecutor.Configuration.feedbackd
        configure(&configuration)
        let client = InProcessTransport(
            router: RPCRouter(services: services, interceptors: interceptors), configuration: configuration, logger: logger
        )
        return try await body(client)
    case .socket:
        return try await withServer(services: services, interceptors: interceptors, configure: { configure(&$0.calls) }, logger: logger) {
            path, _ in
            // The client waits for the server's own answer however long it takes: what is tested is
            // the server's rule, not the client's grace.
            let transport = UnixClientTransport(socketPath: path, answerGrace: .seconds(3600))
            do {
                let result = try await body(transport)
                await transport.close()
                return result
            } catch {
                await transport.close()
                throw error
            }
        }
    }
}

/// Fails with the metadata it was sent (text and binary) and structured details of its own.
private struct DetailService: RPCService {
    static let path = "/test.v1.Test/Details"

    var methods: [String: RPCHandler] {
        [
            Self.path: { _, context in
                var metadata = Metadata()
                metadata.add("x-echo", context.metadata.first("x-note") ?? "none")
                metadata.add("echo-bin", binary: context.metadata.firstBinary("payload-bin") ?? [])
                var status = Feedback_Rpc_V1_Status()
                status.code = Int32(StatusCode.failedPrecondition.rawValue)
                status.message = "not yet"
                metadata.add(Metadata.statusDetailsKey, binary: try status.serializedBytes())
                throw RPCError(code: .failedPrecondition, message: "not yet", metadata: metadata)
            }
        ]
    }
}

@Suite("Transports: the same calls over the socket and in process")
struct TransportTests {
    @Test("metadata (text and binary) reaches the handler, and an error's metadata and status details reach the client", arguments: TransportKind.allCases)
    func metadataBothWays(kind: TransportKind) async throws {
        try await withTransport(kind, services: [DetailService()]) { transport in
            var metadata: Metadata = [("x-note", "hello"), ("x-request-id", "req-7")]
            metadata.add("payload-bin", binary: [0, 1, 254, 255])
            let error = await #expect(throws: RPCError.self) {
                _ = try await transport.unary(method: DetailService.path, request: [], metadata: metadata, timeout: .seconds(5))
            }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.message == "not yet")
            #expect(error?.metadata.first("x-echo") == "hello")
            #expect(error?.metadata.firstBinary("echo-bin") == [0, 1, 254, 255])
            #expect(error?.metadata.first("x-request-id") == "req-7")
            #expect(error?.statusDetails?.message == "not yet")
            #expect(error?.statusDetails?.code == Int32(StatusCode.failedPrecondition.rawValue))
        }
    }

    @Test("SubmitFeedback semantics are the transport's to keep: stored, NOT_FOUND, UNAUTHENTICATED", arguments: TransportKind.allCases)
    func submitFeedback(kind: TransportKind) async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        let services: [any RPCService] = [FeedbackService(store: store), HealthService(store: store)]
        try await withTransport(kind, services: services, interceptors: [AuthInterceptor(verifier: try await TestAuth.verifier())]) { transport in
            let client = FeedbackClient(transport: transport)
            let token = try await TestAuth.token(subject: "dana")
            try await client.submitFeedback(interactionID: 2, rating: -1, token: token)  // a new token: the task path
            try await client.submitFeedback(interactionID: 2, rating: 1, token: token)  // verified before: deferred
            #expect(store.rating(of: 2) == .positive)
            #expect(store.events.map(\.subject) == ["dana", "dana"])
            let missing = await #expect(throws: RPCError.self) { try await client.submitFeedback(interactionID: 9, rating: 1, token: token) }
            #expect(missing?.code == .notFound)
            #expect(missing?.message == "Interaction 9 not found.")
            let anonymous = await #expect(throws: RPCError.self) { try await client.submitFeedback(interactionID: 1, rating: 1, token: "") }
            #expect(anonymous?.code == .unauthenticated)
            #expect(try await client.checkHealth() == .serving)
        }
    }

    @Test("a deadline stops a running handler: DEADLINE_EXCEEDED, with what really happened", arguments: TransportKind.allCases)
    func deadline(kind: TransportKind) async throws {
        try await withTransport(kind, services: [TestService()]) { transport in
            let error = await #expect(throws: RPCError.self) {
                _ = try await transport.unary(method: TestService.hang, request: [], metadata: [], timeout: .milliseconds(50))
            }
            #expect(error?.code == .deadlineExceeded)
            // The transport is still good for the next call.
            let echoed = try await transport.unary(method: TestService.echo, request: [4], metadata: [], timeout: .seconds(5))
            #expect(echoed.message == [4])
        }
    }

    @Test("the caller's cancellation stops the handler and the call ends CANCELLED", arguments: TransportKind.allCases)
    func cancellation(kind: TransportKind) async throws {
        try await withTransport(kind, services: [TestService()]) { transport in
            let call = Task { try await transport.unary(method: TestService.hang, request: [], metadata: [], timeout: nil) }
            call.cancel()
            let error = await #expect(throws: RPCError.self) { _ = try await call.value }
            #expect(error?.code == .cancelled)
        }
    }

    @Test("a method nobody serves is UNIMPLEMENTED", arguments: TransportKind.allCases)
    func unimplemented(kind: TransportKind) async throws {
        try await withTransport(kind, services: [TestService()]) { transport in
            let error = await #expect(throws: RPCError.self) {
                _ = try await transport.unary(method: "/test.v1.Test/Nope", request: [], metadata: [], timeout: .seconds(5))
            }
            #expect(error?.code == .unimplemented)
        }
    }
}

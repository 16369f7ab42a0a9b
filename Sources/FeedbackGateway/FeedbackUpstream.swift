import FastAPICompat
import FeedbackClient
import Synchronization

/// A small pool of multiplexed connections to feedbackd, used round robin. Each connection reconnects
/// on its own after a GOAWAY or a drop; every call carries the request deadline.
final class FeedbackUpstream: Sendable {
    private let clients: [FeedbackClient]
    private let next = Atomic<Int>(0)
    let timeout: Duration

    init(socketPath: String, poolSize: Int, timeout: Duration) {
        self.clients = (0..<max(1, poolSize)).map { _ in
            FeedbackClient(socketPath: socketPath, defaultTimeout: timeout, connectTimeout: min(timeout, .seconds(2)))
        }
        self.timeout = timeout
    }

    /// One client over `transport` (e.g. ``InProcessTransport`` in tests).
    init(transport: any ClientTransport, timeout: Duration) {
        self.clients = [FeedbackClient(transport: transport, defaultTimeout: timeout)]
        self.timeout = timeout
    }

    private var client: FeedbackClient {
        self.clients[self.next.wrappingAdd(1, ordering: .relaxed).oldValue % self.clients.count]
    }

    func submit(_ body: FeedbackBody, token: String, requestID: String, traceparent: String?) async throws(RPCError) {
        try await self.client.submitFeedback(
            interactionID: body.interactionID, rating: body.rating, token: token, timeout: self.timeout,
            requestID: requestID, traceparent: traceparent
        )
    }

    /// Asks feedbackd whether it accepts `token` (VerifyToken), storing nothing.
    func verifyToken(_ token: String, requestID: String) async throws(RPCError) {
        try await self.client.verifyToken(token: token, timeout: self.timeout, requestID: requestID)
    }

    func isServing() async -> Bool {
        (try? await self.client.checkHealth(timeout: self.timeout)) == .serving
    }

    func close() async {
        for client in self.clients { await client.close() }
    }
}

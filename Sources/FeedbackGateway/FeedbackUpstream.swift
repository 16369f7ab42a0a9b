import FastAPICompat
import FeedbackClient
import RPCCore

/// A small pool of multiplexed connections to feedbackd. Each connection reconnects on its own after a
/// GOAWAY or a drop and carries at most ``GatewayConfiguration/callsPerConnection`` calls
/// (``UpstreamSlots``): a request that finds them all taken waits at most
/// ``GatewayConfiguration/queueTimeout`` and is then answered UNAVAILABLE without reaching feedbackd. Every
/// call carries the request deadline, less the time it waited for its slot.
final class FeedbackUpstream: Sendable {
    private let clients: [FeedbackClient]
    private let slots: UpstreamSlots
    let timeout: Duration

    /// ``GatewayConfiguration/poolSize`` connections to ``GatewayConfiguration/socketPath``.
    init(configuration: GatewayConfiguration) {
        let timeout = configuration.upstreamTimeout
        self.clients = (0..<max(1, configuration.poolSize)).map { _ in
            FeedbackClient(socketPath: configuration.socketPath, defaultTimeout: timeout, connectTimeout: min(timeout, .seconds(2)))
        }
        self.slots = UpstreamSlots(
            connections: self.clients.count, callsPerConnection: configuration.callsPerConnection, queueTimeout: configuration.queueTimeout
        )
        self.timeout = timeout
    }

    /// One client over `transport` (e.g. ``InProcessTransport`` in tests).
    init(transport: any ClientTransport, configuration: GatewayConfiguration) {
        self.clients = [FeedbackClient(transport: transport, defaultTimeout: configuration.upstreamTimeout)]
        self.slots = UpstreamSlots(connections: 1, callsPerConnection: configuration.callsPerConnection, queueTimeout: configuration.queueTimeout)
        self.timeout = configuration.upstreamTimeout
    }

    func submit(_ body: FeedbackBody, token: String, requestID: String, traceparent: String?) async throws(RPCError) {
        try await self.withSlot { client, timeout throws(RPCError) in
            try await client.submitFeedback(
                interactionID: body.interactionID, rating: body.rating, token: token, timeout: timeout,
                requestID: requestID, traceparent: traceparent
            )
        }
    }

    /// Asks feedbackd whether it accepts `token` (VerifyToken), storing nothing.
    func verifyToken(_ token: String, requestID: String) async throws(RPCError) {
        try await self.withSlot { client, timeout throws(RPCError) in
            try await client.verifyToken(token: token, timeout: timeout, requestID: requestID)
        }
    }

    func isServing() async -> Bool {
        let status = try? await self.withSlot { client, timeout throws(RPCError) in try await client.checkHealth(timeout: timeout) }
        return status == .serving
    }

    func close() async {
        for client in self.clients { await client.close() }
    }

    /// Runs `call` on a connection with a free slot, with the deadline left after waiting for it.
    /// - Throws: UNAVAILABLE when no slot comes free within the queue timeout; whatever `call` throws.
    private func withSlot<Value: Sendable>(
        _ call: (FeedbackClient, Duration) async throws(RPCError) -> Value
    ) async throws(RPCError) -> Value {
        guard let slot = await self.slots.acquire() else {
            throw RPCError(code: .unavailable, message: "No call slot to feedbackd came free within \(self.slots.queueTimeout).")
        }
        defer { self.slots.release(slot.connection) }
        return try await call(self.clients[slot.connection], self.timeout - slot.waited)
    }
}

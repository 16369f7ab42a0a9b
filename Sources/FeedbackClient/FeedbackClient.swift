@_exported import RPCCore
import FeedbackProtos
import NIOCore
import RPCCodec
import RPCUnixTransport
import SwiftProtobuf
import Synchronization

/// A client of feedbackd for co-located Swift services.
///
/// One connection, opened on first use, multiplexes every concurrent call. After a GOAWAY or a dropped
/// connection the next call reconnects; a call the server did not process (GOAWAY before it ran) is
/// retried once on the new connection. Every failure is an ``RPCError`` with the status code and message.
public final class FeedbackClient: Sendable {
    public let socketPath: String
    /// The timeout of calls that do not set their own; nil waits forever.
    public let defaultTimeout: Duration?
    /// How long connecting (and the HELLO exchange) may take.
    public let connectTimeout: Duration
    private let connection = Mutex<ClientConnection?>(nil)

    public init(socketPath: String, defaultTimeout: Duration? = .seconds(10), connectTimeout: Duration = .seconds(5)) {
        self.socketPath = socketPath
        self.defaultTimeout = defaultTimeout
        self.connectTimeout = connectTimeout
    }

    /// Rates an interaction: `rating` 1 (positive) or -1 (negative).
    /// - Parameters:
    ///   - token: the caller's JWT, sent as `authorization: Bearer <token>`.
    ///   - requestID: sent as `x-request-id` for the server's logs.
    /// - Throws: ``RPCError``: INVALID_ARGUMENT, NOT_FOUND, UNAUTHENTICATED, PERMISSION_DENIED,
    ///   UNAVAILABLE, DEADLINE_EXCEEDED, ...
    public func submitFeedback(
        interactionID: Int64,
        rating: Int32,
        token: String,
        timeout: Duration? = nil,
        requestID: String? = nil,
        traceparent: String? = nil
    ) async throws(RPCError) {
        var message = Feedback_V1_SubmitFeedbackRequest()
        message.interactionID = interactionID
        message.rating = rating
        var metadata = [("authorization", "Bearer \(token)")]
        if let requestID { metadata.append(("x-request-id", requestID)) }
        if let traceparent { metadata.append(("traceparent", traceparent)) }
        _ = try await self.unary(
            method: MethodPaths.Feedback.submitFeedback, message: message, metadata: metadata,
            timeout: timeout, as: Feedback_V1_SubmitFeedbackResponse.self
        )
    }

    /// Asks feedbackd whether it would accept `token` for SubmitFeedback, storing nothing.
    /// - Throws: ``RPCError``: UNAUTHENTICATED or PERMISSION_DENIED for a token it refuses; UNAVAILABLE,
    ///   DEADLINE_EXCEEDED, ... when it cannot tell.
    public func verifyToken(token: String, timeout: Duration? = nil, requestID: String? = nil) async throws(RPCError) {
        var metadata = [("authorization", "Bearer \(token)")]
        if let requestID { metadata.append(("x-request-id", requestID)) }
        _ = try await self.unary(
            method: MethodPaths.Feedback.verifyToken, message: Feedback_V1_VerifyTokenRequest(), metadata: metadata,
            timeout: timeout, as: Feedback_V1_VerifyTokenResponse.self
        )
    }

    /// Asks whether feedbackd (and its store) can serve.
    public func checkHealth(service: String = "", timeout: Duration? = nil) async throws(RPCError)
        -> Feedback_Health_V1_HealthCheckResponse.ServingStatus
    {
        var message = Feedback_Health_V1_HealthCheckRequest()
        message.service = service
        return try await self.unary(
            method: MethodPaths.Health.check, message: message, metadata: [], timeout: timeout,
            as: Feedback_Health_V1_HealthCheckResponse.self
        ).status
    }

    /// Runs any unary method of the protocol.
    /// - Throws: ``RPCError``; a metadata key or value the protocol forbids gives INVALID_ARGUMENT.
    public func unary<Output: SwiftProtobuf.Message>(
        method: String,
        message: some SwiftProtobuf.Message,
        metadata: [(String, String)],
        timeout: Duration?,
        as: Output.Type
    ) async throws(RPCError) -> Output {
        var wireMetadata = Metadata()
        do {
            for (key, value) in metadata { try wireMetadata.add(key, value) }
        } catch {
            throw RPCError(code: .invalidArgument, message: "Invalid metadata: \(error.message)")
        }
        let body: [UInt8]
        do {
            body = try message.serializedBytes()
        } catch {
            throw RPCError(code: .internal, message: "Cannot serialize the request: \(error)")
        }
        let request = Request(method: method, metadata: wireMetadata, body: ByteBuffer(bytes: body))
        let response = try await self.call(request, timeout: timeout ?? self.defaultTimeout)
        guard response.code == 0 else {
            throw RPCError(code: StatusCode(rawValue: response.code).normalized, message: response.message)
        }
        do {
            return try Output(serializedBytes: Array(response.body.readableBytesView))
        } catch {
            throw RPCError(code: .internal, message: "Malformed response message: \(error)")
        }
    }

    private func call(_ request: Request, timeout: Duration?) async throws(RPCError) -> Response {
        for attempt in 0..<2 {
            let connection = try await self.usableConnection()
            do {
                return try await connection.call(request, timeout: timeout)
            } catch where error.cause == ClientConnection.notProcessedCause && attempt == 0 {
                continue  // never reached the handler: safe to send again on a new connection
            }
        }
        throw RPCError(code: .unavailable, message: "Server unavailable: calls were not processed.")
    }

    private func usableConnection() async throws(RPCError) -> ClientConnection {
        if let current = self.connection.withLock({ $0 }), current.isUsable { return current }
        let fresh: ClientConnection
        do {
            fresh = try await ClientConnection.connect(to: self.socketPath, timeout: self.connectTimeout)
        } catch {
            throw RPCError(code: .unavailable, message: "feedbackd is unreachable: \(error.message)")
        }
        let (winner, loser) = self.connection.withLock { current -> (ClientConnection, ClientConnection?) in
            if let current, current.isUsable { return (current, fresh) }
            let stale = current
            current = fresh
            return (fresh, stale)
        }
        if let loser { await loser.close() }
        return winner
    }

    /// Lets calls in flight finish, then closes the connection.
    public func close() async {
        let current = self.connection.withLock { current -> ClientConnection? in
            defer { current = nil }
            return current
        }
        await current?.close()
    }
}

import FeedbackProtos
import RPCCore
import RPCUnixTransport
import SwiftProtobuf

/// A client of feedbackd for co-located Swift services.
///
/// Over the Unix socket (``init(socketPath:defaultTimeout:connectTimeout:)``) one connection, opened on
/// first use, multiplexes every concurrent call; after a GOAWAY or a dropped connection the next call
/// reconnects, and a call the server did not process is retried once. Over any other ``ClientTransport``
/// (``InProcessTransport`` in tests) the same calls reach the same handlers. Every failure is an
/// ``RPCError`` with the status code, message and metadata.
public final class FeedbackClient: Sendable {
    /// The timeout of calls that do not set their own; nil waits forever.
    public let defaultTimeout: Duration?
    let transport: any ClientTransport

    public init(transport: any ClientTransport, defaultTimeout: Duration? = .seconds(10)) {
        self.transport = transport
        self.defaultTimeout = defaultTimeout
    }

    /// A client of the feedbackd listening on `socketPath`.
    /// - Parameter connectTimeout: how long connecting (and the HELLO exchange) may take.
    public convenience init(socketPath: String, defaultTimeout: Duration? = .seconds(10), connectTimeout: Duration = .seconds(5)) {
        self.init(transport: UnixClientTransport(socketPath: socketPath, connectTimeout: connectTimeout), defaultTimeout: defaultTimeout)
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
        var metadata: Metadata = [("authorization", "Bearer \(token)")]
        if let requestID { metadata.add("x-request-id", requestID) }
        if let traceparent { metadata.add("traceparent", traceparent) }
        _ = try await self.unary(
            method: MethodPaths.Feedback.submitFeedback, message: message, metadata: metadata,
            timeout: timeout, as: Feedback_V1_SubmitFeedbackResponse.self
        )
    }

    /// Asks feedbackd whether it would accept `token` for SubmitFeedback, storing nothing.
    /// - Throws: ``RPCError``: UNAUTHENTICATED or PERMISSION_DENIED for a token it refuses; UNAVAILABLE,
    ///   DEADLINE_EXCEEDED, ... when it cannot tell.
    public func verifyToken(token: String, timeout: Duration? = nil, requestID: String? = nil) async throws(RPCError) {
        var metadata: Metadata = [("authorization", "Bearer \(token)")]
        if let requestID { metadata.add("x-request-id", requestID) }
        _ = try await self.unary(
            method: MethodPaths.Feedback.verifyToken, message: Feedback_V1_VerifyTokenRequest(), metadata: metadata,
            timeout: timeout, as: Feedback_V1_VerifyTokenResponse.self
        )
    }

    /// One page of the ratings feed: the events after `afterEventID` (0: from the first), oldest first, at
    /// most `pageSize` (0: feedbackd's default of 100). Page on with the response's
    /// `nextAfterEventID`; an empty page means nothing newer is stored yet. `token` needs the read scope.
    /// - Throws: ``RPCError``: PERMISSION_DENIED without the read scope, INVALID_ARGUMENT, UNAVAILABLE, ...
    public func listFeedbackEvents(
        afterEventID: Int64, pageSize: Int32 = 0, token: String, timeout: Duration? = nil, requestID: String? = nil
    ) async throws(RPCError) -> Feedback_V1_ListFeedbackEventsResponse {
        var message = Feedback_V1_ListFeedbackEventsRequest()
        message.afterEventID = afterEventID
        message.pageSize = pageSize
        var metadata: Metadata = [("authorization", "Bearer \(token)")]
        if let requestID { metadata.add("x-request-id", requestID) }
        return try await self.unary(
            method: MethodPaths.Feedback.listFeedbackEvents, message: message, metadata: metadata,
            timeout: timeout, as: Feedback_V1_ListFeedbackEventsResponse.self
        )
    }

    /// What the server serves: each service with its methods, their message types and whether they need a
    /// token (reflection; no token needed).
    public func listServices(timeout: Duration? = nil) async throws(RPCError) -> [Feedback_Reflection_V1_ServiceDescription] {
        try await self.unary(
            method: MethodPaths.Reflection.listServices, message: Feedback_Reflection_V1_ListServicesRequest(), metadata: [],
            timeout: timeout, as: Feedback_Reflection_V1_ListServicesResponse.self
        ).services
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
        metadata: Metadata,
        timeout: Duration?,
        as: Output.Type
    ) async throws(RPCError) -> Output {
        let body: [UInt8]
        do {
            body = try message.serializedBytes()
        } catch {
            throw RPCError(code: .internal, message: "Cannot serialize the request: \(error)", cause: error)
        }
        let response = try await self.transport.unary(method: method, request: body, metadata: metadata, timeout: timeout ?? self.defaultTimeout)
        do {
            return try Output(serializedBytes: response.message)
        } catch {
            throw RPCError(code: .internal, message: "Malformed response message: \(error)", cause: error)
        }
    }

    /// Lets calls in flight finish, then closes the transport.
    public func close() async {
        await self.transport.close()
    }
}

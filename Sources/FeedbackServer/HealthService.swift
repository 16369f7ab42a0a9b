import FeedbackDomain
import FeedbackProtos
import RPCCore
import SwiftProtobuf

/// `feedback.health.v1.Health`: SERVING when the store answers, NOT_SERVING when it does not.
public struct HealthService: RPCService {
    public static let checkPath = "/feedback.health.v1.Health/Check"

    private let store: any FeedbackStore

    public init(store: any FeedbackStore) {
        self.store = store
    }

    public var methods: [String: RPCHandler] {
        [Self.checkPath: { request, context in try await self.check(request, context: context) }]
    }

    func check(_ bytes: [UInt8], context: ServerContext) async throws -> [UInt8] {
        let request: Feedback_Health_V1_HealthCheckRequest
        do {
            request = try Feedback_Health_V1_HealthCheckRequest(serializedBytes: bytes)
        } catch {
            throw RPCError(code: .invalidArgument, message: "The request is not a valid HealthCheckRequest.")
        }
        guard request.service.isEmpty || request.service == FeedbackService.serviceName else {
            throw RPCError(code: .notFound, message: "Unknown service \(request.service).")
        }
        var response = Feedback_Health_V1_HealthCheckResponse()
        response.status = await self.store.isHealthy() ? .serving : .notServing
        return try response.serializedBytes()
    }
}

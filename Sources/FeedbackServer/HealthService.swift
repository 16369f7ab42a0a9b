import FeedbackDomain
import FeedbackProtos
import RPCCore

/// `feedback.health.v1.Health`: SERVING when the store answers, NOT_SERVING when it does not.
public struct HealthService: RPCService {
    public static let checkPath = MethodPaths.Health.check

    private let store: any FeedbackStore

    public init(store: any FeedbackStore) {
        self.store = store
    }

    public var methods: [String: RPCHandler] {
        [Self.checkPath: unary(self.check)]
    }

    /// The whole server (`service` empty) or the feedback service; another name is NOT_FOUND.
    @Sendable
    func check(_ request: Feedback_Health_V1_HealthCheckRequest, context: ServerContext) async throws
        -> Feedback_Health_V1_HealthCheckResponse
    {
        guard request.service.isEmpty || request.service == FeedbackService.serviceName else {
            throw RPCError(code: .notFound, message: "Unknown service.")  // the name is the caller's: never echoed
        }
        var response = Feedback_Health_V1_HealthCheckResponse()
        response.status = await self.store.isHealthy() ? .serving : .notServing
        return response
    }
}

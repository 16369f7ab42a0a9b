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

    /// Check answers from the store's state, on the thread that read the call: no task, no I/O.
    public var immediateMethods: [String: ImmediateRPCHandler] {
        [Self.checkPath: immediateUnary(self.check)]
    }

    public var messageTypes: [String: MessageTypes] {
        [Self.checkPath: .of(Feedback_Health_V1_HealthCheckRequest.self, Feedback_Health_V1_HealthCheckResponse.self)]
    }

    /// The whole server (`service` empty) or the feedback service; another name is NOT_FOUND.
    @Sendable
    func check(_ request: Feedback_Health_V1_HealthCheckRequest, context: ServerContext) throws(RPCError)
        -> Feedback_Health_V1_HealthCheckResponse
    {
        guard request.service.isEmpty || request.service == FeedbackService.serviceName else {
            throw RPCError(code: .notFound, message: "Unknown service.")  // the name is the caller's: never echoed
        }
        var response = Feedback_Health_V1_HealthCheckResponse()
        response.status = self.store.isServing ? .serving : .notServing
        return response
    }
}

import FeedbackDomain
import FeedbackProtos
import RPCCore

/// `feedback.v1.FeedbackService`: stores ratings with the original endpoint's semantics.
public struct FeedbackService: RPCService {
    public static let serviceName = "feedback.v1.FeedbackService"
    public static let submitFeedbackPath = "/feedback.v1.FeedbackService/SubmitFeedback"

    private let store: any FeedbackStore

    public init(store: any FeedbackStore) {
        self.store = store
    }

    public var methods: [String: RPCHandler] {
        [Self.submitFeedbackPath: unary(self.submitFeedback)]
    }

    /// Validates the rating before touching the store, then stores it; OK only after the commit.
    /// - Throws: UNAUTHENTICATED when the call has no verified principal (no ``AuthInterceptor``).
    @Sendable
    func submitFeedback(_ request: Feedback_V1_SubmitFeedbackRequest, context: ServerContext) async throws
        -> Feedback_V1_SubmitFeedbackResponse
    {
        // Fail closed: a rating is stored only with the caller the auth interceptor verified. Registered
        // without it, the service refuses every call instead of writing anonymous ratings.
        guard let subject = context.principal else {
            throw RPCError(code: .unauthenticated, message: "missing bearer token")
        }
        let rating = try Rating(validating: Int64(request.rating))
        try await self.store.submit(FeedbackSubmission(interactionID: request.interactionID, rating: rating, subject: subject))
        return Feedback_V1_SubmitFeedbackResponse()
    }
}

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
    @Sendable
    func submitFeedback(_ request: Feedback_V1_SubmitFeedbackRequest, context: ServerContext) async throws
        -> Feedback_V1_SubmitFeedbackResponse
    {
        let rating = try Rating(validating: Int64(request.rating))
        try await self.store.submit(
            FeedbackSubmission(interactionID: request.interactionID, rating: rating, subject: context.principal ?? "")
        )
        return Feedback_V1_SubmitFeedbackResponse()
    }
}

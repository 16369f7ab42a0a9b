import FeedbackDomain
import FeedbackProtos
import RPCCore
import SwiftProtobuf

/// `feedback.v1.FeedbackService`: stores ratings with the original endpoint's semantics.
public struct FeedbackService: RPCService {
    public static let serviceName = "feedback.v1.FeedbackService"
    public static let submitFeedbackPath = "/feedback.v1.FeedbackService/SubmitFeedback"

    private let store: any FeedbackStore

    public init(store: any FeedbackStore) {
        self.store = store
    }

    public var methods: [String: RPCHandler] {
        [Self.submitFeedbackPath: { request, context in try await self.submitFeedback(request, context: context) }]
    }

    /// Validates the rating before touching the store, then stores it; OK only after the commit.
    func submitFeedback(_ bytes: [UInt8], context: ServerContext) async throws -> [UInt8] {
        let request: Feedback_V1_SubmitFeedbackRequest
        do {
            request = try Feedback_V1_SubmitFeedbackRequest(serializedBytes: bytes)
        } catch {
            throw RPCError(code: .invalidArgument, message: "The request is not a valid SubmitFeedbackRequest.")
        }
        let rating = try Rating(validating: Int64(request.rating))
        try await self.store.submit(
            FeedbackSubmission(interactionID: request.interactionID, rating: rating, subject: context.principal ?? "")
        )
        return try Feedback_V1_SubmitFeedbackResponse().serializedBytes()
    }
}

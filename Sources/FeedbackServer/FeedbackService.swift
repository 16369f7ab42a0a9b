import FeedbackDomain
import FeedbackProtos
import RPCCore

/// `feedback.v1.FeedbackService`: stores ratings with the original endpoint's semantics, and checks a
/// caller's token without storing anything.
public struct FeedbackService: RPCService {
    public static let serviceName = MethodPaths.Feedback.service
    public static let submitFeedbackPath = MethodPaths.Feedback.submitFeedback
    public static let verifyTokenPath = MethodPaths.Feedback.verifyToken

    private let store: any FeedbackStore

    public init(store: any FeedbackStore) {
        self.store = store
    }

    public var methods: [String: RPCHandler] {
        [Self.submitFeedbackPath: unary(self.submitFeedback), Self.verifyTokenPath: unary(self.verifyToken)]
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

    /// OK when the auth interceptor accepted the call's token: what SubmitFeedback would decide about the
    /// caller, with nothing stored.
    /// - Throws: UNAUTHENTICATED without a verified principal (the interceptor's errors come first).
    @Sendable
    func verifyToken(_ request: Feedback_V1_VerifyTokenRequest, context: ServerContext) async throws -> Feedback_V1_VerifyTokenResponse {
        guard context.principal != nil else { throw RPCError(code: .unauthenticated, message: "missing bearer token") }
        return Feedback_V1_VerifyTokenResponse()
    }
}

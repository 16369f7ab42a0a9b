import FeedbackDomain
import FeedbackProtos
import RPCCore

/// `feedback.v1.FeedbackService`: stores ratings with the original endpoint's semantics, and checks a
/// caller's token without storing anything.
public struct FeedbackService: RPCService {
    public static let serviceName = MethodPaths.Feedback.service
    public static let submitFeedbackPath = MethodPaths.Feedback.submitFeedback
    public static let verifyTokenPath = MethodPaths.Feedback.verifyToken
    public static let listFeedbackEventsPath = MethodPaths.Feedback.listFeedbackEvents

    private let store: any FeedbackStore

    public init(store: any FeedbackStore) {
        self.store = store
    }

    public var methods: [String: RPCHandler] {
        [Self.verifyTokenPath: unary(self.verifyToken), Self.listFeedbackEventsPath: unary(self.listFeedbackEvents)]
    }

    public var messageTypes: [String: MessageTypes] {
        [
            Self.submitFeedbackPath: .of(Feedback_V1_SubmitFeedbackRequest.self, Feedback_V1_SubmitFeedbackResponse.self),
            Self.verifyTokenPath: .of(Feedback_V1_VerifyTokenRequest.self, Feedback_V1_VerifyTokenResponse.self),
            Self.listFeedbackEventsPath: .of(Feedback_V1_ListFeedbackEventsRequest.self, Feedback_V1_ListFeedbackEventsResponse.self),
        ]
    }

    /// SubmitFeedback queues its write on the thread that read the call and is answered after the
    /// commit, without a task (the router runs it in one when the token still needs verifying).
    public var deferredMethods: [String: DeferredRPCHandler] {
        [Self.submitFeedbackPath: deferredUnary(self.submitFeedback)]
    }

    /// Validates the rating before touching the store, then queues it; OK only after the commit. A call
    /// interrupted while its rating is still queued is withdrawn: nothing is written.
    /// Fails UNAUTHENTICATED when the call has no verified principal (no ``AuthInterceptor``).
    @Sendable
    func submitFeedback(_ request: Feedback_V1_SubmitFeedbackRequest, context: ServerContext, call: DeferredCall) {
        // Fail closed: a rating is stored only with the caller the auth interceptor verified. Registered
        // without it, the service refuses every call instead of writing anonymous ratings.
        guard let subject = context.principal else {
            call.finish(.failure(RPCError(code: .unauthenticated, message: "missing bearer token")))
            return
        }
        let rating: Rating
        do throws(FeedbackError) {
            rating = try Rating(validating: Int64(request.rating))
        } catch {
            call.finish(.failure(error.rpcError))
            return
        }
        let submission = FeedbackSubmission(interactionID: request.interactionID, rating: rating, subject: subject)
        let withdraw = self.store.enqueue(submission) { result in
            call.finish(result.map { Self.submitted }.mapError(\.rpcError))
        }
        call.onInterrupt(withdraw)
    }

    /// The (empty) SubmitFeedbackResponse, serialized once.
    private static let submitted: [UInt8] = (try? Feedback_V1_SubmitFeedbackResponse().serializedBytes()) ?? []

    /// OK when the auth interceptor accepted the call's token: what SubmitFeedback would decide about the
    /// caller, with nothing stored.
    /// - Throws: UNAUTHENTICATED without a verified principal (the interceptor's errors come first).
    @Sendable
    func verifyToken(_ request: Feedback_V1_VerifyTokenRequest, context: ServerContext) async throws -> Feedback_V1_VerifyTokenResponse {
        guard context.principal != nil else { throw RPCError(code: .unauthenticated, message: "missing bearer token") }
        return Feedback_V1_VerifyTokenResponse()
    }

    /// The ratings feed: pages of the audit trail, oldest first (see `feedback.proto`).
    /// - Throws: INVALID_ARGUMENT for a negative cursor or a page size outside 0...1000; UNAVAILABLE.
    @Sendable
    func listFeedbackEvents(
        _ request: Feedback_V1_ListFeedbackEventsRequest, context: ServerContext
    ) async throws -> Feedback_V1_ListFeedbackEventsResponse {
        guard context.principal != nil else { throw RPCError(code: .unauthenticated, message: "missing bearer token") }
        guard request.afterEventID >= 0 else {
            throw RPCError(code: .invalidArgument, message: "after_event_id must not be negative")
        }
        guard (0...EventsPage.maxSize).contains(request.pageSize) else {
            throw RPCError(code: .invalidArgument, message: "page_size must be 0 (the default, \(EventsPage.defaultSize)) to \(EventsPage.maxSize)")
        }
        let limit = request.pageSize == 0 ? EventsPage.defaultSize : Int(request.pageSize)
        let events: [StoredFeedbackEvent]
        do throws(FeedbackError) {
            events = try await self.store.events(after: request.afterEventID, limit: limit)
        } catch {
            throw error.rpcError
        }
        return EventsPage.response(events, after: request.afterEventID)
    }
}

import FeedbackDomain
import FeedbackProtos
import RPCCore

/// `feedback.v1.FeedbackService`: stores ratings with the original endpoint's semantics, checks a
/// caller's token without storing anything, and serves the ratings feed (paged, and live).
public struct FeedbackService: RPCService {
    public static let serviceName = MethodPaths.Feedback.service
    public static let submitFeedbackPath = MethodPaths.Feedback.submitFeedback
    public static let verifyTokenPath = MethodPaths.Feedback.verifyToken
    public static let listFeedbackEventsPath = MethodPaths.Feedback.listFeedbackEvents
    public static let watchFeedbackEventsPath = MethodPaths.Feedback.watchFeedbackEvents

    private let store: any FeedbackStore
    /// Server-wide: every ListFeedbackEvents call of this service shares it.
    private let pageBuilds: PageBuildLimit
    /// Server-wide: the pages WatchFeedbackEvents calls read, apart from ListFeedbackEvents' (a watcher
    /// waits for its turn, however many watch; their number is bounded by the server's streams).
    private let watchReads = PageBuildLimit(maxBuilding: 2, maxWaiting: 4096)

    /// - Parameters:
    ///   - maxPagesBuilding: ratings-feed pages read at once, server-wide.
    ///   - maxPagesWaiting: calls that wait for their turn beyond those; more are RESOURCE_EXHAUSTED.
    public init(store: any FeedbackStore, maxPagesBuilding: Int = 4, maxPagesWaiting: Int = 64) {
        self.store = store
        self.pageBuilds = PageBuildLimit(maxBuilding: maxPagesBuilding, maxWaiting: maxPagesWaiting)
    }

    public var methods: [String: RPCHandler] {
        [Self.verifyTokenPath: unary(self.verifyToken), Self.listFeedbackEventsPath: unary(self.listFeedbackEvents)]
    }

    /// WatchFeedbackEvents: the live feed (``EventsWatch``).
    public var streamingMethods: [String: ServerStreamingRPCHandler] {
        [Self.watchFeedbackEventsPath: serverStreaming(self.watchFeedbackEvents)]
    }

    public var messageTypes: [String: MessageTypes] {
        [
            Self.submitFeedbackPath: .of(Feedback_V1_SubmitFeedbackRequest.self, Feedback_V1_SubmitFeedbackResponse.self),
            Self.verifyTokenPath: .of(Feedback_V1_VerifyTokenRequest.self, Feedback_V1_VerifyTokenResponse.self),
            Self.listFeedbackEventsPath: .of(Feedback_V1_ListFeedbackEventsRequest.self, Feedback_V1_ListFeedbackEventsResponse.self),
            Self.watchFeedbackEventsPath: .of(Feedback_V1_WatchFeedbackEventsRequest.self, Feedback_V1_WatchFeedbackEventsResponse.self),
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

    /// The live ratings feed: the events after the request's cursor, then each new one as it is committed.
    /// - Throws: UNAUTHENTICATED without a verified principal; INVALID_ARGUMENT for a negative cursor;
    ///   then what ``EventsWatch/run(after:context:send:)`` throws.
    @Sendable
    func watchFeedbackEvents(
        _ request: Feedback_V1_WatchFeedbackEventsRequest, context: ServerContext,
        send: @Sendable (Feedback_V1_WatchFeedbackEventsResponse) async throws(RPCError) -> Void
    ) async throws {
        guard context.principal != nil else { throw RPCError(code: .unauthenticated, message: "missing bearer token") }
        guard request.afterEventID >= 0 else {
            throw RPCError(code: .invalidArgument, message: "after_event_id must not be negative")
        }
        try await EventsWatch(store: self.store, reads: self.watchReads).run(after: request.afterEventID, context: context, send: send)
    }

    /// The ratings feed: pages of the audit trail, oldest first (see `feedback.proto`). A page is read
    /// row by row until it is full (``EventsPage``), in its turn (``PageBuildLimit``).
    /// - Throws: INVALID_ARGUMENT for a negative cursor or a page size outside 0...1000; UNAVAILABLE;
    ///   RESOURCE_EXHAUSTED when too many pages wait to be read; DATA_LOSS when the page would start
    ///   with an event that cannot be represented (the message names its id and what is wrong).
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
        let page = try await self.pageBuilds.withTurn { () async throws -> EventsPage in
            do throws(FeedbackError) {
                return try await self.store.events(after: request.afterEventID, into: EventsPage(limit: limit))
            } catch {
                throw error.rpcError
            }
        }
        if page.events.isEmpty, let unreadable = page.unreadable {
            context.logger.warning(
                "feedback.event_unreadable", metadata: ["event.id": "\(unreadable.eventID)", "error": "\(unreadable.problem)"]
            )
            throw RPCError(
                code: .dataLoss,
                message: "Event \(unreadable.eventID) cannot be listed: \(unreadable.problem). Page on after it to skip it."
            )
        }
        return page.response(after: request.afterEventID)
    }
}

import FeedbackDomain
import FeedbackProtos
import FeedbackServer
import FeedbackTestSupport
import Logging
import RPCCore
import Synchronization
import Testing

@Suite("Router: which calls are answered without a task")
struct RouterTests {
    @Test("health is immediate even with the auth interceptor; SubmitFeedback and VerifyToken go through it")
    func immediateMethods() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        let router = RPCRouter(
            services: [FeedbackService(store: store), HealthService(store: store)],
            interceptors: [AuthInterceptor(verifier: try await TestAuth.verifier())]
        )
        let check = try #require(router.immediateHandler(for: MethodPaths.Health.check))
        #expect(router.immediateHandler(for: MethodPaths.Feedback.submitFeedback) == nil)
        #expect(router.immediateHandler(for: MethodPaths.Feedback.verifyToken) == nil)
        let context = ServerContext(method: MethodPaths.Health.check, requestID: "r", logger: quietLogger())
        let answer = try Feedback_Health_V1_HealthCheckResponse(serializedBytes: try check([], context))
        #expect(answer.status == .serving)
        store.setAvailable(false)
        #expect(try Feedback_Health_V1_HealthCheckResponse(serializedBytes: try check([], context)).status == .notServing)
        // The same handler through the general path, as an in-process caller would use it.
        #expect(try await router.handle(request: [], context: context).isEmpty == false)
    }

    @Test("an interceptor that applies to a method makes it go through the general path")
    func interceptedImmediate() async throws {
        struct Everything: ServerInterceptor {
            func intercept(request: [UInt8], context: ServerContext, next: @Sendable ([UInt8], ServerContext) async throws -> [UInt8]) async throws -> [UInt8] {
                try await next(request, context)
            }
        }
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        let router = RPCRouter(services: [HealthService(store: store)], interceptors: [Everything()])
        #expect(router.immediateHandler(for: MethodPaths.Health.check) == nil)
    }

    @Test("SubmitFeedback through the router: a token verified before is checked without a task; a new one takes the task path")
    func routerStartsDeferred() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        let router = RPCRouter(
            services: [FeedbackService(store: store), HealthService(store: store)],
            interceptors: [AuthInterceptor(verifier: try await TestAuth.verifier())]
        )
        let token = try await TestAuth.token(subject: "carol")
        var message = Feedback_V1_SubmitFeedbackRequest()
        message.interactionID = 2
        message.rating = -1
        let body: [UInt8] = try message.serializedBytes()
        let context = ServerContext(
            method: MethodPaths.Feedback.submitFeedback, requestID: "r", metadata: [("authorization", "Bearer \(token)")], logger: quietLogger()
        )
        let delivered = Delivered()
        #expect(!router.startDeferred(request: body, context: context, call: delivered.call()), "a new token needs its signature checked")
        #expect(delivered.codes.isEmpty)
        // The general path verifies it (and remembers it), and stores the rating.
        _ = try await router.handle(request: body, context: context)
        #expect(store.rating(of: 2) == .negative)
        message.rating = 1
        #expect(router.startDeferred(request: try message.serializedBytes(), context: context, call: delivered.call()))
        #expect(delivered.codes == [.ok])
        #expect(store.rating(of: 2) == .positive)
        #expect(store.events.last?.subject == "carol")

        // Refused before any store work, on the spot: no token, a bad rating.
        var anonymous = context
        anonymous.metadata = []
        #expect(router.startDeferred(request: body, context: anonymous, call: delivered.call()))
        message.rating = 5
        #expect(router.startDeferred(request: try message.serializedBytes(), context: context, call: delivered.call()))
        #expect(delivered.codes == [.ok, .unauthenticated, .invalidArgument])
        #expect(store.events.count == 2)
        #expect(!router.startDeferred(request: [], context: ServerContext(method: MethodPaths.Health.check, requestID: "r", logger: quietLogger()), call: delivered.call()))
    }
}

/// What deferred calls delivered, in order.
private final class Delivered: Sendable {
    let results = Mutex<[Result<[UInt8], RPCError>]>([])
    func call() -> DeferredCall { DeferredCall { result in self.results.withLock { $0.append(result) } } }
    var codes: [StatusCode] {
        self.results.withLock { $0.map { result in (try? result.get()).map { _ in .ok } ?? (result.failure?.code.status ?? .unknown) } }
    }
}

extension Result where Failure == RPCError {
    fileprivate var failure: RPCError? {
        if case .failure(let error) = self { error } else { nil }
    }
}

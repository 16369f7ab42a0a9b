import FeedbackDomain
import FeedbackProtos
import FeedbackServer
import Logging
import RPCCore
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
}

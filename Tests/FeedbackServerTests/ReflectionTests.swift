import FeedbackClient
import FeedbackDomain
import FeedbackProtos
import FeedbackServer
import FeedbackTestSupport
import Foundation
import RPCCore
import Testing

@Suite("Reflection: what feedbackd serves")
struct ReflectionTests {
    /// feedbackd's own router (the one `feedbackd` builds).
    private func feedbackdRouter() async throws -> RPCRouter {
        FeedbackdRouter.make(store: InMemoryFeedbackStore(interactionIDs: []), verifier: try await TestAuth.verifier())
    }

    @Test("ListServices lists every method the router serves, with message types and whether a token is needed; it needs none")
    func listsEveryMethod() async throws {
        let router = try await self.feedbackdRouter()
        let served = (router.methodPaths + router.streamingMethodPaths).sorted()
        try await withStoreAndClient(.memory) { _, client in
            let services = try await client.listServices()
            #expect(services.map(\.name) == services.map(\.name).sorted())
            let methods = services.flatMap(\.methods)
            #expect(methods.map(\.path).sorted() == served, "a method registered but not listed, or the reverse")
            for service in services {
                #expect(service.methods.map(\.name) == service.methods.map(\.name).sorted())
                for method in service.methods {
                    #expect(method.path == "/\(service.name)/\(method.name)")
                    #expect(!method.requestType.isEmpty && !method.responseType.isEmpty, "\(method.path) declares no message types")
                    #expect(method.requiresToken == (service.name == MethodPaths.Feedback.service), "\(method.path)")
                    #expect(method.serverStreaming == router.streamingMethodPaths.contains(method.path), "\(method.path)")
                }
            }
            #expect(methods.first { $0.path == MethodPaths.Feedback.watchFeedbackEvents }?.serverStreaming == true)
            let submit = methods.first { $0.path == MethodPaths.Feedback.submitFeedback }
            #expect(submit?.requestType == "feedback.v1.SubmitFeedbackRequest")
            #expect(submit?.responseType == "feedback.v1.SubmitFeedbackResponse")
            #expect(methods.contains { $0.path == MethodPaths.Reflection.listServices && $0.requestType == "feedback.reflection.v1.ListServicesRequest" })
        }
    }

    @Test("feedbackctl describe prints every method feedbackd serves (text and JSON)")
    func describe() async throws {
        let router = try await self.feedbackdRouter()
        let served = (router.methodPaths + router.streamingMethodPaths).sorted()
        try await withTemporaryDirectory { directory in
            try seedDatabase(at: directory + "/chat.db", interactions: 1...2)
            let daemon = try FeedbackdProcess(directory: directory)
            try await daemon.start()
            let text = try feedbackctl(["describe", "--socket", daemon.socket])
            #expect(text.status == 0)
            for path in served {
                let parts = path.split(separator: "/")
                #expect(text.output.contains("\n  \(parts[1])(") || text.output.hasPrefix("  \(parts[1])("), "\(path) missing:\n\(text.output)")
                #expect(text.output.contains("\(parts[0])\n"))
            }
            let json = try feedbackctl(["describe", "--socket", daemon.socket, "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
            let services = object?["services"] as? [[String: Any]] ?? []
            let paths = services.flatMap { ($0["methods"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String } }
            #expect(paths.sorted() == served)
            daemon.signal(SIGTERM)
            _ = await daemon.wait()
        }
    }
}

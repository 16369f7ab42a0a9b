import FeedbackDomain
import FeedbackServer
import FeedbackTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RPCCore
import Testing

@testable import FeedbackGateway

@Suite("Gateway: nosniff everywhere, the demo page's policy, HEAD")
struct GatewayStaticDocumentsTests {
    /// The documents the gateway serves by GET.
    static let documents = ["/", "/widget/feedback.js", "/openapi.json", "/healthz"]

    @Test("every response carries X-Content-Type-Options: nosniff: documents, ratings, errors, CORS, HEAD")
    func noSniffEverywhere() async throws {
        let token = try await TestAuth.token()
        try await withGateway(store: InMemoryFeedbackStore(interactionIDs: 1...3), allowedOrigins: ["https://chat.example.com"]) { client in
            var results: [(String, HTTPResult)] = []
            for path in Self.documents {
                results.append(("GET \(path)", try await client.request(path, method: .get)))
                results.append(("HEAD \(path)", try await client.request(path, method: .head)))
            }
            results.append(("POST 204", try await client.feedback(#"{"interaction_id": 1, "rating": -1}"#, token: token)))
            results.append(("POST 401", try await client.feedback(#"{"interaction_id": 1, "rating": 1}"#, token: nil)))
            results.append(("POST 422", try await client.feedback(#"{"interaction_id": 1, "#, token: token)))
            results.append(("POST 404", try await client.feedback(#"{"interaction_id": 9, "rating": 1}"#, token: token)))
            results.append(("POST 413", try await client.feedback(String(repeating: " ", count: 70_000), token: token)))
            results.append(("GET /feedback 405", try await client.request("/feedback", method: .get)))
            results.append(("GET /nope 404", try await client.request("/nope", method: .get)))
            results.append(("DELETE / 404", try await client.request("/", method: .delete)))
            results.append(
                ("preflight 204", try await client.request("/feedback", method: .options, headers: [.origin: "https://chat.example.com", .accessControlRequestMethod: "POST"]))
            )
            results.append(
                ("preflight 403", try await client.request("/feedback", method: .options, headers: [.origin: "https://evil.example.com", .accessControlRequestMethod: "POST"]))
            )
            #expect(
                results.map { "\($0.1.status.code)" } == ["200", "200", "200", "200", "200", "200", "200", "200", "204", "401", "422", "404", "413", "405", "404", "404", "204", "403"]
            )
            for (name, result) in results {
                #expect(result.headers[values: .xContentTypeOptions] == ["nosniff"], "\(name)")
            }
        }
        // The upstream's errors too (503, 500 and 504 through the status table).
        let upstream = InProcessTransport(router: RPCRouter(services: [StatusEchoService()]), logger: quietLogger())
        try await withGateway(socketPath: "/nonexistent", transport: upstream) { client in
            for code in [14, 13, 4] {
                let result = try await client.feedback(#"{"interaction_id": \#(code), "rating": 1}"#, token: token)
                #expect(result.status.code >= 500 && result.headers[.xContentTypeOptions] == "nosniff", "status \(code)")
            }
        }
    }

    @Test("the demo page runs only what carries its response's nonce, and no site may frame it")
    func demoPagePolicy() async throws {
        let file = try String(contentsOfFile: widgetSources + "/demo.html", encoding: .utf8)
        try await withGateway(store: InMemoryFeedbackStore(interactionIDs: 1...3)) { client in
            let page = try await client.request("/", method: .get)
            let policy = try #require(page.headers[.contentSecurityPolicy])
            let nonce = try #require(Self.nonce(in: policy))
            #expect(Data(base64Encoded: nonce)?.count == 16, "128 random bits")
            #expect(
                policy == "default-src 'none'; script-src 'nonce-\(nonce)'; style-src 'nonce-\(nonce)'; connect-src 'self'; img-src data:; "
                    + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            )
            #expect(!policy.contains("unsafe"))
            // The page is clients/widget's, each placeholder filled with the nonce: the widget's script tag,
            // the page's own script and style.
            #expect(page.body == file.replacingOccurrences(of: DemoPage.noncePlaceholder, with: nonce))
            #expect(page.body.components(separatedBy: "nonce=\"\(nonce)\"").count == 4)
            #expect(!page.body.contains("{{"))

            let again = try await client.request("/", method: .get)
            let second = try #require(again.headers[.contentSecurityPolicy].flatMap(Self.nonce(in:)))
            #expect(second != nonce, "a new nonce per response")

            // The widget's script stays embeddable by pages of any origin: no policy of its own.
            let script = try await client.request("/widget/feedback.js", method: .get)
            #expect(script.headers[.contentSecurityPolicy] == nil)
            #expect(script.headers[.accessControlAllowOrigin] == "*")
            #expect(script.headers[.contentType] == "text/javascript; charset=utf-8")
        }
    }

    @Test("a --widget-dir page gets its placeholders filled the same way")
    func widgetDirectoryPageGetsTheNonce() async throws {
        try await withTemporaryDirectory { directory in
            try "x".write(toFile: directory + "/feedback.js", atomically: true, encoding: .utf8)
            try "<script nonce=\"{{csp-nonce}}\">1</script><style nonce=\"{{csp-nonce}}\"></style>{{csp-nonce"
                .write(toFile: directory + "/demo.html", atomically: true, encoding: .utf8)
            try await withGateway(store: InMemoryFeedbackStore(interactionIDs: 1...3), widgetDirectory: directory) { client in
                let page = try await client.request("/", method: .get)
                let nonce = try #require(page.headers[.contentSecurityPolicy].flatMap(Self.nonce(in:)))
                #expect(page.body == "<script nonce=\"\(nonce)\">1</script><style nonce=\"\(nonce)\"></style>{{csp-nonce")
            }
        }
    }

    @Test("HEAD is answered as GET without the body", arguments: documents)
    func headAsGet(_ path: String) async throws {
        try await withGateway(store: InMemoryFeedbackStore(interactionIDs: 1...3)) { client in
            let get = try await client.request(path, method: .get)
            let head = try await client.request(path, method: .head)
            #expect(head.status == get.status)
            #expect(head.body.isEmpty)
            #expect(!get.body.isEmpty)
            #expect(head.headers[.contentLength] == "\(get.body.utf8.count)", "the length the GET's body has")
            for name: HTTPField.Name in [.contentType, .cacheControl, .accessControlAllowOrigin, .xContentTypeOptions] {
                #expect(head.headers[name] == get.headers[name], "\(name)")
            }
            #expect((head.headers[.contentSecurityPolicy] == nil) == (get.headers[.contentSecurityPolicy] == nil))
        }
    }

    @Test("--no-demo-page: / is 404 (FastAPI's body); the widget's script and the API are served as before")
    func withoutDemoPage() async throws {
        try await withGateway(store: InMemoryFeedbackStore(interactionIDs: 1...3), servesDemoPage: false) { client in
            let page = try await client.request("/", method: .get)
            #expect(page.status == .notFound)
            #expect(page.body == #"{"detail":"Not Found"}"#)
            #expect(try await client.request("/widget/feedback.js", method: .get).status == .ok)
            #expect(try await client.request("/openapi.json", method: .get).status == .ok)
        }
        try await withGateway(store: InMemoryFeedbackStore(interactionIDs: 1...3)) { client in
            let page = try await client.request("/", method: .get)
            #expect(page.status == .ok, "served by default")
        }
    }

    /// The nonce a policy names in its script-src.
    static func nonce(in policy: String) -> String? {
        guard let start = policy.range(of: "script-src 'nonce-")?.upperBound, let end = policy[start...].firstIndex(of: "'") else { return nil }
        return String(policy[start..<end])
    }
}

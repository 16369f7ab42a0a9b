import FeedbackDomain
import FeedbackServer
import FeedbackTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RPCCore
import Testing

@testable import FeedbackGateway

/// A SubmitFeedback that answers with the status code given as the interaction id.
struct StatusEchoService: RPCService {
    var methods: [String: RPCHandler] {
        [
            FeedbackService.submitFeedbackPath: { request, _ in
                // Field 1 (interaction_id) as a one-byte varint: 08 NN.
                let code = UInt32(request.count >= 2 && request[0] == 0x08 ? request[1] : 0)
                if code == 0 { return [] }
                throw RPCError(code: RPCError.Code(StatusCode(rawValue: code))!, message: "status \(code)")
            }
        ]
    }
}

/// A SubmitFeedback that runs until it is cancelled.
struct SlowService: RPCService {
    var methods: [String: RPCHandler] {
        [FeedbackService.submitFeedbackPath: { _, _ in try await untilCancelled() }]
    }
}

@Suite("Gateway: mapping, limits, CORS, widget")
struct GatewayBehaviourTests {
    /// The table of the README: every RPC status and the HTTP status it becomes.
    static let mapping: [(UInt32, Int)] = [
        (0, 204), (1, 499), (2, 504), (3, 422), (4, 504), (5, 404), (6, 409), (7, 403), (8, 429),
        (9, 400), (10, 409), (11, 400), (12, 501), (13, 500), (14, 503), (15, 500), (16, 401),
    ]

    @Test("every RPC status maps to its HTTP status", arguments: mapping)
    func mappingTable(_ code: UInt32, _ http: Int) async throws {
        let token = try await TestAuth.token()
        let upstream = InProcessTransport(router: RPCRouter(services: [StatusEchoService()]), logger: quietLogger())
        try await withGateway(socketPath: "/nonexistent", transport: upstream) { client in
            let result = try await client.feedback(#"{"interaction_id": \#(code), "rating": 1}"#, token: token)
            #expect(Int(result.status.code) == http, "status \(code)")
            if code == 0 { #expect(result.body.isEmpty) } else { #expect(result.detail is String) }
        }
    }

    @Test("a slow feedbackd never hangs the browser: past the deadline the gateway answers 504")
    func slowUpstream() async throws {
        let token = try await TestAuth.token()
        let upstream = InProcessTransport(router: RPCRouter(services: [SlowService()]), logger: quietLogger())
        try await withGateway(socketPath: "/nonexistent", transport: upstream, timeout: .milliseconds(300)) { client in
            // Had the gateway waited for the handler, the answer would be 204.
            let result = try await client.feedback(#"{"interaction_id": 1, "rating": 1}"#, token: token)
            #expect(result.status == .gatewayTimeout)
            #expect(result.body == #"{"detail":"Feedback service timed out."}"#)
        }
    }

    @Test("improvement: an id outside int64 is 422, not a crash")
    func idOutsideInt64() async throws {
        let token = try await TestAuth.token()
        try await withGateway(store: InMemoryFeedbackStore(interactionIDs: 1...3)) { client in
            let high = try await client.feedback(#"{"interaction_id": 18446744073709551616, "rating": 1}"#, token: token)
            #expect(high.status == .unprocessableContent)
            #expect(high.body == #"{"detail":[{"type":"less_than_equal","loc":["body","interaction_id"],"msg":"Input should be less than or equal to 9223372036854775807","input":18446744073709551616,"ctx":{"le":9223372036854775807}}]}"#)
            let low = try await client.feedback(#"{"interaction_id": "-9223372036854775809", "rating": 1}"#, token: token)
            #expect(low.status == .unprocessableContent)
            #expect(low.body.contains(#""type":"greater_than_equal""#))
            let nan = try await client.feedback(#"{"interaction_id": NaN, "rating": 1}"#, token: token)
            #expect(nan.body == #"{"detail":[{"type":"finite_number","loc":["body","interaction_id"],"msg":"Input should be a finite number","input":NaN}]}"#)
        }
    }

    @Test("improvement: a body over the limit is 413")
    func bodyTooLarge() async throws {
        let token = try await TestAuth.token()
        try await withGateway(socketPath: uniqueSocketPath(), maxBodyBytes: 1024) { client in
            let padding = String(repeating: " ", count: 2000)
            let result = try await client.feedback(#"{"interaction_id": 1, "rating": 1}"# + padding, token: token)
            #expect(result.status == .contentTooLarge)
        }
    }

    @Test("CORS: listed origins get the preflight and the header; others do not")
    func cors() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        let token = try await TestAuth.token()
        try await withGateway(store: store, allowedOrigins: ["https://chat.example.com"]) { client in
            let preflight = try await client.request(
                "/feedback", method: .options,
                headers: [.origin: "https://chat.example.com", .accessControlRequestMethod: "POST", .accessControlRequestHeaders: "authorization, content-type"]
            )
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == "https://chat.example.com")
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("POST") == true)
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Content-Type") == true)

            let evil = try await client.request(
                "/feedback", method: .options, headers: [.origin: "https://evil.example.com", .accessControlRequestMethod: "POST"]
            )
            #expect(evil.status == .forbidden)
            #expect(evil.headers[.accessControlAllowOrigin] == nil)

            let post = try await client.feedback(
                #"{"interaction_id": 1, "rating": 1}"#, token: token, headers: [.origin: "https://chat.example.com"]
            )
            #expect(post.status == .noContent)
            #expect(post.headers[.accessControlAllowOrigin] == "https://chat.example.com")
            let other = try await client.feedback(
                #"{"interaction_id": 1, "rating": 1}"#, token: token, headers: [.origin: "https://evil.example.com"]
            )
            #expect(other.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test("X-Request-Id and traceparent are forwarded to feedbackd and echoed; a request id is made when missing, the same upstream as echoed")
    func requestIDs() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        let token = try await TestAuth.token()
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let router = RPCRouter(
            services: [FeedbackService(store: store), HealthService(store: store)],
            interceptors: [AuthInterceptor(verifier: try await TestAuth.verifier())]
        )
        let upstream = MetadataRecordingTransport(InProcessTransport(router: router, logger: quietLogger()))
        try await withGateway(socketPath: "/nonexistent", transport: upstream) { client in
            let given = try await client.feedback(
                #"{"interaction_id": 1, "rating": 1}"#, token: token,
                headers: [.requestID: "browser-req-1", .traceparent: traceparent]
            )
            #expect(given.headers[.requestID] == "browser-req-1")
            #expect(given.headers[.traceparent] == traceparent)
            #expect(upstream.sent.last?.first("x-request-id") == "browser-req-1")
            #expect(upstream.sent.last?.first("traceparent") == traceparent)
            let made = try await client.feedback(#"{"interaction_id": 1, "rating": 1}"#, token: token)
            #expect(made.headers[.requestID]?.count == 16)
            #expect(upstream.sent.last?.first("x-request-id") == made.headers[.requestID])
        }
    }

    @Test("/healthz reports feedbackd's health; the widget and the demo page are served")
    func healthAndWidget() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        try await withGateway(store: store) { client in
            let health = try await client.request("/healthz", method: .get)
            #expect(health.status == .ok)
            #expect(health.body == #"{"status":"SERVING"}"#)
            store.setAvailable(false)
            #expect(try await client.request("/healthz", method: .get).status == .serviceUnavailable)
            let script = try await client.request("/widget/feedback.js", method: .get)
            #expect(script.status == .ok)
            #expect(script.headers[.contentType]?.hasPrefix("text/javascript") == true)
            // The widget compiled into the gateway is clients/widget's, byte for byte.
            #expect(script.body == (try String(contentsOfFile: widgetSources + "/feedback.js", encoding: .utf8)))
            let unknown = try await client.request("/nope", method: .get)
            #expect(unknown.status == .notFound)
            #expect(unknown.body == #"{"detail":"Not Found"}"#)
            let page = try await client.request("/", method: .get)
            #expect(page.status == .ok)
            // clients/widget's, with the response's CSP nonce in place of each placeholder.
            let nonce = page.headers[.contentSecurityPolicy].flatMap(GatewayStaticDocumentsTests.nonce(in:)) ?? "?"
            let file = try String(contentsOfFile: widgetSources + "/demo.html", encoding: .utf8)
            #expect(page.body == file.replacingOccurrences(of: DemoPage.noncePlaceholder, with: nonce))
        }
    }

    @Test("--widget-dir serves the widget from a directory instead; a directory without it is a clear error")
    func widgetDirectoryOverride() async throws {
        try await withTemporaryDirectory { directory in
            try "console.log('local build')".write(toFile: directory + "/feedback.js", atomically: true, encoding: .utf8)
            try "<p>local page</p>".write(toFile: directory + "/demo.html", atomically: true, encoding: .utf8)
            try await withGateway(store: InMemoryFeedbackStore(interactionIDs: 1...3), widgetDirectory: directory) { client in
                let script = try await client.request("/widget/feedback.js", method: .get)
                #expect(script.body == "console.log('local build')")
                let page = try await client.request("/", method: .get)
                #expect(page.body == "<p>local page</p>")
            }
            try FileManager.default.removeItem(atPath: directory + "/demo.html")
            await #expect {
                try await withGateway(store: InMemoryFeedbackStore(interactionIDs: 1...3), widgetDirectory: directory) { _ in }
            } throws: { error in
                "\(error)" == "cannot read \(directory)/demo.html"
            }
        }
    }
}

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
    static let traceparent = HTTPField.Name("traceparent")!
}

@Suite("The gateway's OpenAPI document")
struct OpenAPIDocumentTests {
    /// Statuses the gateway answers POST /feedback with on its own, besides the RPC status table: 400 (an
    /// unreadable body or head), 401 (no credentials, or a token the pre-check refuses), 413 (over
    /// --max-body-bytes), 422 (malformed JSON, pydantic's list, a rating not 1 or -1), 503 (feedbackd
    /// unreachable, or the connection limit).
    static let gatewayOwn: Set<Int> = [400, 401, 413, 422, 503]

    @Test("GET /openapi.json serves the checked-in document, and it documents every status POST /feedback can return, and only those")
    func everyStatusDocumented() async throws {
        try await withGateway(store: InMemoryFeedbackStore(interactionIDs: 1...3)) { client in
            let served = try await client.request("/openapi.json", method: .get)
            #expect(served.status == .ok)
            #expect(served.headers[.contentType] == "application/json")
            let document = try JSONSerialization.jsonObject(with: Data(served.body.utf8)) as? [String: Any]
            #expect(document?["openapi"] as? String == "3.1.0")
            let paths = document?["paths"] as? [String: [String: Any]]
            let post = paths?["/feedback"]?["post"] as? [String: Any]
            let documented = Set((post?["responses"] as? [String: Any] ?? [:]).keys.compactMap { Int($0) })
            let returnable = Set(HTTPStatusMapping.table.map { $0.1.code }).union(Self.gatewayOwn)
            #expect(documented == returnable, "documented but never returned: \(documented.subtracting(returnable).sorted()); returned but not documented: \(returnable.subtracting(documented).sorted())")
            let example = ((post?["requestBody"] as? [String: Any])?["content"] as? [String: [String: Any]])?["application/json"]?["example"] as? [String: Int]
            #expect(example == ["interaction_id": 42, "rating": 1])
            #expect(paths?["/healthz"]?["get"] != nil)
        }
    }
}

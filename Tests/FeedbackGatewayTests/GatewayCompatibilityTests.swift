import FeedbackDomain
import FeedbackTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The original FastAPI endpoint's behaviour, case by case (expected bodies recorded from FastAPI
/// 0.165 with pydantic 2.13, lax mode).
@Suite("Gateway: the original POST /feedback, case by case")
struct GatewayCompatibilityTests {
    static let ratingMessage = #"{"detail":"rating must be 1 (positive) or -1 (negative)"}"#

    @Test("204 with an empty body; re-rating overwrites; the same rating twice is 204 twice")
    func success() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...5)
        let token = try await TestAuth.token()
        try await withGateway(store: store) { client in
            let first = try await client.feedback(#"{"interaction_id": 1, "rating": 1}"#, token: token)
            #expect(first.status == .noContent)
            #expect(first.body.isEmpty)
            #expect(store.rating(of: 1) == .positive)
            #expect(try await client.feedback(#"{"interaction_id": 1, "rating": -1}"#, token: token).status == .noContent)
            #expect(store.rating(of: 1) == .negative)
            #expect(try await client.feedback(#"{"interaction_id": 1, "rating": -1}"#, token: token).status == .noContent)
            #expect(store.events.count == 3)
        }
    }

    /// Bodies pydantic's lax int accepts, and the rating they store for interaction 3.
    static let accepted: [(String, Rating?)] = [
        (#"{"interaction_id": 3, "rating": 1}"#, .positive),
        (#"{"interaction_id": 3.0, "rating": 1e0}"#, .positive),
        (#"{"interaction_id": "3", "rating": "-1"}"#, .negative),
        (#"{"interaction_id": " 3 ", "rating": "+1"}"#, .positive),
        (#"{"interaction_id": "3.00", "rating": " -1.0 "}"#, .negative),
        (#"{"interaction_id": "0_3", "rating": true}"#, .positive),
        (#"{"interaction_id": 3, "rating": -1.0}"#, .negative),
        (#"{"interaction_id": 3, "rating": 0.1e1}"#, .positive),
        (#"{"interaction_id": 3, "rating": 5, "rating": -1}"#, .negative),
        (#"{"interaction_id": 3, "rating": 1, "extra": [1, {"a": null}]}"#, .positive),
        (#"  {"rating": -1, "interaction_id": 3}  "#, .negative),
    ]

    @Test("what pydantic's lax int accepts is accepted", arguments: accepted.indices)
    func laxIntegers(_ index: Int) async throws {
        let (body, rating) = Self.accepted[index]
        let store = InMemoryFeedbackStore(interactionIDs: 1...5)
        let token = try await TestAuth.token()
        try await withGateway(store: store) { client in
            let result = try await client.feedback(body, token: token)
            #expect(result.status == .noContent, "\(body): \(result.body)")
        }
        #expect(store.rating(of: 3) == rating, "\(body)")
    }

    /// Bodies and content types that get 422 with FastAPI's exact body.
    static let rejected: [(String, String?, Int, String)] = [
        (#"{"interaction_id": 3}"#, "application/json", 422,
         #"{"detail":[{"type":"missing","loc":["body","rating"],"msg":"Field required","input":{"interaction_id":3}}]}"#),
        ("{}", "application/json", 422,
         #"{"detail":[{"type":"missing","loc":["body","interaction_id"],"msg":"Field required","input":{}},{"type":"missing","loc":["body","rating"],"msg":"Field required","input":{}}]}"#),
        (#"{"interaction_id": null, "rating": 1}"#, "application/json", 422,
         #"{"detail":[{"type":"int_type","loc":["body","interaction_id"],"msg":"Input should be a valid integer","input":null}]}"#),
        (#"{"interaction_id": 3, "rating": 1.5}"#, "application/json", 422,
         #"{"detail":[{"type":"int_from_float","loc":["body","rating"],"msg":"Input should be a valid integer, got a number with a fractional part","input":1.5}]}"#),
        (#"{"interaction_id": 42.25, "rating": 2.50}"#, "application/json", 422,
         #"{"detail":[{"type":"int_from_float","loc":["body","interaction_id"],"msg":"Input should be a valid integer, got a number with a fractional part","input":42.25},{"type":"int_from_float","loc":["body","rating"],"msg":"Input should be a valid integer, got a number with a fractional part","input":2.5}]}"#),
        (#"{"interaction_id": 3, "rating": "abc"}"#, "application/json", 422,
         #"{"detail":[{"type":"int_parsing","loc":["body","rating"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]}"#),
        (#"{"interaction_id": "4e1", "rating": 1}"#, "application/json", 422,
         #"{"detail":[{"type":"int_parsing","loc":["body","interaction_id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"4e1"}]}"#),
        (#"{"interaction_id": [42], "rating": 1}"#, "application/json", 422,
         #"{"detail":[{"type":"int_type","loc":["body","interaction_id"],"msg":"Input should be a valid integer","input":[42]}]}"#),
        (#"{"interaction_id": 9.3e18, "rating": 1}"#, "application/json", 422,
         #"{"detail":[{"type":"int_parsing_size","loc":["body","interaction_id"],"msg":"Unable to parse input string as an integer, exceeded maximum size","input":9.3e+18}]}"#),
        ("{bad", "application/json", 422,
         #"{"detail":[{"type":"json_invalid","loc":["body",1],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting property name enclosed in double quotes"}}]}"#),
        (#"{"interaction_id": 42, "rating": 1} x"#, "application/json", 422,
         #"{"detail":[{"type":"json_invalid","loc":["body",36],"msg":"JSON decode error","input":{},"ctx":{"error":"Extra data"}}]}"#),
        (#"{"interaction_id": 42, "rating": 1,}"#, "application/json", 422,
         #"{"detail":[{"type":"json_invalid","loc":["body",35],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting property name enclosed in double quotes"}}]}"#),
        (#"{"interaction_id": "42"#, "application/json", 422,
         #"{"detail":[{"type":"json_invalid","loc":["body",19],"msg":"JSON decode error","input":{},"ctx":{"error":"Unterminated string starting at"}}]}"#),
        (#"{"é": 1, "interaction_id": x}"#, "application/json", 422,
         #"{"detail":[{"type":"json_invalid","loc":["body",27],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting value"}}]}"#),
        (#"{"a": "\u12"}"#, "application/json", 422,
         #"{"detail":[{"type":"json_invalid","loc":["body",8],"msg":"JSON decode error","input":{},"ctx":{"error":"Invalid \\uXXXX escape"}}]}"#),
        (#"{"a": "\x"}"#, "application/json", 422,
         #"{"detail":[{"type":"json_invalid","loc":["body",7],"msg":"JSON decode error","input":{},"ctx":{"error":"Invalid \\escape"}}]}"#),
        ("   ", "application/json", 422,
         #"{"detail":[{"type":"json_invalid","loc":["body",3],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting value"}}]}"#),
        ("", "application/json", 422, #"{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}"#),
        ("[1,2]", "application/json", 422,
         #"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[1,2]}]}"#),
        (#""hi""#, "application/json", 422,
         #"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"hi"}]}"#),
        (#"{"interaction_id": 42, "rating": 1}"#, "text/plain", 422,
         #"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"{\"interaction_id\": 42, \"rating\": 1}"}]}"#),
        (#"{"interaction_id": 42, "rating": 1}"#, nil, 422,
         #"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"{\"interaction_id\": 42, \"rating\": 1}"}]}"#),
        (#"{"interaction_id": 3, "rating": 0}"#, "application/json", 422, ratingMessage),
        (#"{"interaction_id": 3, "rating": 2}"#, "application/json", 422, ratingMessage),
        (#"{"interaction_id": 3, "rating": -2}"#, "application/json", 422, ratingMessage),
        (#"{"interaction_id": 3, "rating": false}"#, "application/json", 422, ratingMessage),
        (#"{"interaction_id": 3, "rating": "2"}"#, "application/json", 422, ratingMessage),
        (#"{"interaction_id": 3, "rating": 18446744073709551616}"#, "application/json", 422, ratingMessage),
        (#"{"interaction_id": 3, "rating": 12345678901234567.5}"#, "application/json", 422, ratingMessage),
    ]

    @Test("malformed bodies get 422 with FastAPI's exact body; nothing is stored", arguments: rejected.indices)
    func rejectedBodies(_ index: Int) async throws {
        let (body, contentType, status, expected) = Self.rejected[index]
        let store = InMemoryFeedbackStore(interactionIDs: 1...5)
        let token = try await TestAuth.token()
        try await withGateway(store: store) { client in
            let result = try await client.feedback(body, token: token, contentType: contentType)
            #expect(Int(result.status.code) == status, "\(body)")
            #expect(result.body == expected, "\(body)")
            #expect(result.headers[.contentType] == "application/json")
        }
        #expect(store.events.isEmpty)
    }

    @Test("JSON content types with parameters or +json suffixes are JSON", arguments: ["application/json; charset=utf-8", "application/vnd.api+json", "APPLICATION/JSON"])
    func jsonContentTypes(_ contentType: String) async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...5)
        let token = try await TestAuth.token()
        try await withGateway(store: store) { client in
            let result = try await client.feedback(#"{"interaction_id": 2, "rating": 1}"#, token: token, contentType: contentType)
            #expect(result.status == .noContent)
        }
    }

    @Test("no such interaction is 404 with the original message", arguments: ["0", "-5", "9223372036854775807", "\"77\""])
    func notFound(_ id: String) async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...5)
        let token = try await TestAuth.token()
        try await withGateway(store: store) { client in
            let result = try await client.feedback(#"{"interaction_id": \#(id), "rating": 1}"#, token: token)
            #expect(result.status == .notFound)
            let number = id.replacingOccurrences(of: "\"", with: "")
            #expect(result.body == #"{"detail":"Interaction \#(number) not found."}"#)
        }
    }

    @Test("a body that is not UTF-8 is 400, as FastAPI answered")
    func notUTF8() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...5)
        let token = try await TestAuth.token()
        try await withGateway(store: store) { client in
            var headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
            headers[.accept] = "*/*"
            let result = try await client.execute(
                uri: "/feedback", method: .post, headers: headers,
                body: ByteBuffer(bytes: Array(#"{"interaction_id": 1, "rating": 1, "x": ""#.utf8) + [0xE9, 0x22, 0x7D])
            ) { HTTPResult(status: $0.status, headers: $0.headers, body: String(buffer: $0.body)) }
            #expect(result.status == .badRequest)
            #expect(result.body == #"{"detail":"There was an error parsing the body"}"#)
        }
    }

    @Test("a store that fails, or a feedbackd that is down, is 503 'Feedback store unavailable.'")
    func unavailable() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...5)
        store.setAvailable(false)
        let token = try await TestAuth.token()
        try await withGateway(store: store) { client in
            let result = try await client.feedback(#"{"interaction_id": 1, "rating": 1}"#, token: token)
            #expect(result.status == .serviceUnavailable)
            #expect(result.body == #"{"detail":"Feedback store unavailable."}"#)
        }
        try await withGateway(socketPath: uniqueSocketPath()) { client in
            let result = try await client.feedback(#"{"interaction_id": 1, "rating": 1}"#, token: token)
            #expect(result.status == .serviceUnavailable)
            #expect(result.body == #"{"detail":"Feedback store unavailable."}"#)
            let health = try await client.request("/healthz", method: .get)
            #expect(health.status == .serviceUnavailable)
        }
    }

    @Test("GET and other methods are 405 with Allow: POST", arguments: [HTTPRequest.Method.get, .put, .delete, .patch])
    func methodNotAllowed(_ method: HTTPRequest.Method) async throws {
        try await withGateway(socketPath: uniqueSocketPath()) { client in
            let result = try await client.request("/feedback", method: method)
            #expect(result.status == .methodNotAllowed)
            #expect(result.headers[.allow] == "POST")
            #expect(result.body == #"{"detail":"Method Not Allowed"}"#)
        }
    }
}

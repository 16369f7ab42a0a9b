import FeedbackDomain
import FeedbackTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Testing

@Suite("Gateway: authentication")
struct GatewayAuthTests {
    static func badAuthorizations() async throws -> [(String, String?, String)] {
        let valid = try await TestAuth.token()
        let parts = valid.split(separator: ".")
        let none = base64URL(#"{"alg":"none","typ":"JWT"}"#) + "." + parts[1] + "."
        return [
            ("missing", nil, "Not authenticated"),
            ("empty", "", "Not authenticated"),
            ("bearer only", "Bearer", "Not authenticated"),
            ("basic", "Basic dXNlcjpwYXNz", "Not authenticated"),
            ("malformed", "Bearer abc.def", "Could not validate credentials"),
            ("alg none", "Bearer " + none, "Could not validate credentials"),
            ("expired", "Bearer " + (try await sign(TestClaims(exp: ExpirationClaim(value: Date().addingTimeInterval(-300))))), "Could not validate credentials"),
            ("no exp", "Bearer " + (try await sign(TestClaims(exp: nil))), "Could not validate credentials"),
            ("not yet valid", "Bearer " + (try await sign(TestClaims(nbf: NotBeforeClaim(value: Date().addingTimeInterval(600))))), "Could not validate credentials"),
            ("wrongly signed", "Bearer " + (try await sign(TestClaims(), hmac: Array("a-different-secret-of-enough-length!!".utf8))), "Could not validate credentials"),
        ]
    }

    @Test("bad or missing tokens get 401 with WWW-Authenticate: Bearer; nothing is stored")
    func unauthorized() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...5)
        let cases = try await Self.badAuthorizations()
        try await withGateway(store: store) { client in
            for (name, authorization, detail) in cases {
                var headers: HTTPFields = [.contentType: "application/json"]
                if let authorization { headers[.authorization] = authorization }
                let result = try await client.feedback(#"{"interaction_id": 1, "rating": 1}"#, token: nil, headers: headers)
                #expect(result.status == .unauthorized, "\(name)")
                #expect(result.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true, "\(name)")
                #expect(result.body == #"{"detail":"\#(detail)"}"#, "\(name)")
            }
        }
        #expect(store.events.isEmpty)
    }

    @Test("the scheme is case-insensitive")
    func caseInsensitiveScheme() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...5)
        let token = try await TestAuth.token()
        try await withGateway(store: store) { client in
            for scheme in ["bearer", "BEARER", "Bearer"] {
                let result = try await client.feedback(
                    #"{"interaction_id": 1, "rating": 1}"#, token: nil, headers: [.authorization: "\(scheme) \(token)"]
                )
                #expect(result.status == .noContent, "\(scheme)")
            }
        }
    }

    @Test("the original's order: malformed JSON is 422 before credentials; a body error waits for feedbackd to accept the token")
    func orderOfChecks() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        let good = try await TestAuth.token()
        let forged = try await sign(TestClaims(), hmac: Array("another-secret-that-is-long-enough-123".utf8))
        try await withGateway(store: store) { client in
            let malformed = try await client.feedback("{bad", token: nil)
            #expect(malformed.status == .unprocessableContent, "FastAPI parses the body before any dependency")
            #expect(malformed.body.contains(#""type":"json_invalid""#))
            let unauthenticated = try await client.feedback(#"{"interaction_id": 1, "rating": "abc"}"#, token: nil)
            #expect(unauthenticated.status == .unauthorized)
            #expect(unauthenticated.body == #"{"detail":"Not authenticated"}"#)
            let badSignature = try await client.feedback(#"{"interaction_id": 1, "rating": 0}"#, token: forged)
            #expect(badSignature.status == .unauthorized, "feedbackd refused the token: nothing about the body is told")
            #expect(badSignature.body == #"{"detail":"Could not validate credentials"}"#)
            let valid = try await client.feedback(#"{"interaction_id": 1, "rating": 0}"#, token: good)
            #expect(valid.status == .unprocessableContent)
            #expect(valid.body == #"{"detail":"rating must be 1 (positive) or -1 (negative)"}"#)
        }
        #expect(store.events.isEmpty)
    }
}

import FeedbackDomain
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

    @Test("improvement: authentication is checked before the body is parsed")
    func authBeforeBody() async throws {
        try await withGateway(socketPath: uniqueSocketPath()) { client in
            let result = try await client.feedback("{bad", token: nil)
            #expect(result.status == .unauthorized)
            #expect(result.body == #"{"detail":"Not authenticated"}"#)
        }
    }
}

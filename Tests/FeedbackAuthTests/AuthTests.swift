import Crypto
import FeedbackAuth
import FeedbackClient
import FeedbackDomain
import FeedbackServer
import FeedbackTestSupport
import RPCCore
import RPCUnixTransport
import Foundation
import JWTKit
import Testing

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

@Suite("Authentication")
struct AuthTests {
    /// Authorization values that must give UNAUTHENTICATED, with the reason expected.
    static func badAuthorizations() async throws -> [(String, String?, String)] {
        let valid = try await TestAuth.token()
        let parts = valid.split(separator: ".")
        let noneToken = base64URL(#"{"alg":"none","typ":"JWT"}"#) + "." + parts[1] + "."
        return [
            ("missing", nil, "missing bearer token"),
            ("empty", "", "missing bearer token"),
            ("bearer without token", "Bearer ", "missing bearer token"),
            ("basic scheme", "Basic dXNlcjpwYXNz", "authorization is not a bearer token"),
            ("token without scheme", valid, "authorization is not a bearer token"),
            ("malformed", "Bearer not-a-jwt", "token is malformed"),
            ("alg none", "Bearer " + noneToken, "token algorithm is not allowed"),
            // RFC 7515 4.1.11: a critical extension nobody here understands must fail, signed or not.
            ("crit", "Bearer " + (try await signWithHeader(#"{"alg":"HS256","typ":"JWT","crit":["exp"]}"#)), "token has a critical header extension that is not supported"),
            ("padded signature", "Bearer " + valid + "=", "token is malformed"),
            ("signature with unused bits set", "Bearer " + flipUnusedBits(valid), "token is malformed"),
            ("alg with a forged log line", "Bearer " + base64URL(#"{"alg":"HS256\n2026-01-01T00:00:00Z error forged","typ":"JWT"}"#) + "." + parts[1] + "." + parts[2], "token algorithm is not allowed"),
            ("too large", "Bearer " + (try await sign(TestClaims(scope: String(repeating: "s", count: 5500)))), "token is too large"),
            ("wrong secret", "Bearer " + (try await sign(TestClaims(), hmac: Array("another-secret-that-is-long-enough-123".utf8))), "token signature is invalid"),
            ("tampered payload", "Bearer " + parts[0] + "." + base64URL(#"{"sub":"mallory","exp":4102444800}"#) + "." + parts[2], "token signature is invalid"),
            ("expired", "Bearer " + (try await sign(TestClaims(exp: ExpirationClaim(value: Date().addingTimeInterval(-120))))), "token has expired"),
            ("no exp", "Bearer " + (try await sign(TestClaims(exp: nil))), "token has no exp claim"),
            ("not yet valid", "Bearer " + (try await sign(TestClaims(nbf: NotBeforeClaim(value: Date().addingTimeInterval(600))))), "token is not valid yet"),
        ]
    }

    @Test("each bad token is UNAUTHENTICATED over RPC, with a short reason that never echoes the token")
    func unauthenticatedOverRPC() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        let cases = try await Self.badAuthorizations()
        try await withServer(
            services: [FeedbackService(store: store)],
            interceptors: [AuthInterceptor(verifier: try await TestAuth.verifier())]
        ) { path, _ in
            let connection = try await ClientConnection.connect(to: path)
            for (name, authorization, reason) in cases {
                var metadata: [(String, String)] = []
                if let authorization { metadata.append(("authorization", authorization)) }
                let response = try await connection.call(
                    try request(FeedbackService.submitFeedbackPath, [0x08, 0x01, 0x10, 0x01], metadata: metadata)
                )
                #expect(response.code == StatusCode.unauthenticated.rawValue, "\(name)")
                #expect(response.message == reason, "\(name)")
                if let authorization, authorization.count > 20 {
                    #expect(!response.message.contains(authorization.dropFirst(7)), "\(name) echoed the token")
                }
            }
            await connection.close()
        }
        #expect(store.events.isEmpty)
    }

    @Test("VerifyToken: OK for a token SubmitFeedback accepts, its error otherwise; nothing is stored")
    func verifyToken() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        let verifier = try await TestAuth.verifier { $0.requiredScope = "feedback:write" }
        try await withFeedbackServer(store: store, verifier: verifier) { path in
            let client = FeedbackClient(socketPath: path)
            try await client.verifyToken(token: try await TestAuth.token(scope: "feedback:write"))
            let forged = await #expect(throws: RPCError.self) {
                try await client.verifyToken(token: try await sign(TestClaims(), hmac: Array("another-secret-that-is-long-enough-123".utf8)))
            }
            #expect(forged?.code == .unauthenticated)
            #expect(forged?.message == "token signature is invalid")
            let unscoped = await #expect(throws: RPCError.self) { try await client.verifyToken(token: try await TestAuth.token()) }
            #expect(unscoped?.code == .permissionDenied)
            await client.close()
        }
        #expect(store.events.isEmpty)
    }

    @Test("FeedbackService registered without the auth interceptor refuses every call instead of writing anonymously")
    func failsClosed() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        try await withServer(services: [FeedbackService(store: store)]) { path, _ in
            let connection = try await ClientConnection.connect(to: path)
            let response = try await connection.call(try request(FeedbackService.submitFeedbackPath, [0x08, 0x01, 0x10, 0x01]))
            #expect(response.code == StatusCode.unauthenticated.rawValue)
            await connection.close()
        }
        #expect(store.events.isEmpty)
    }

    @Test("the gateway's pre-check and the verifier share one policy: what one refuses before the signature, so does the other")
    func onePolicy() async throws {
        let verifier = try await TestAuth.verifier { $0.leeway = .seconds(5) }
        #expect(verifier.policy.leeway == .seconds(5))
        #expect(verifier.policy.algorithms == ["HS256"])
        #expect(verifier.policy.algorithms.isSubset(of: TokenPolicy.supportedAlgorithms))
        let nearlyExpired = try await sign(TestClaims(exp: ExpirationClaim(value: Date().addingTimeInterval(-3))))
        // Within feedbackd's leeway: both accept it.
        #expect(throws: Never.self) { try UnverifiedToken(nearlyExpired, policy: verifier.policy) }
        #expect(try await verifier.verify(authorization: "Bearer \(nearlyExpired)").subject == "tester")
        let expired = try await sign(TestClaims(exp: ExpirationClaim(value: Date().addingTimeInterval(-10))))
        #expect(throws: AuthError.unauthenticated("token has expired")) { try UnverifiedToken(expired, policy: verifier.policy) }
        await #expect(throws: AuthError.unauthenticated("token has expired")) {
            try await verifier.verify(authorization: "Bearer \(expired)")
        }
    }

    @Test("base64url segments must be canonical: one byte string, one spelling")
    func canonicalBase64URL() {
        for (segment, canonical) in [("", true), ("QQ", true), ("QR", false), ("QUI", true), ("QUJ", false), ("QUJD", true),
                                     ("QQ==", false), ("QQ=", false), ("Q", false), ("QU+D", false), ("QU/D", false), ("QU D", false)] {
            #expect(UnverifiedToken.isCanonicalBase64URL(Substring(segment).utf8) == canonical, "\(segment)")
        }
    }

    @Test("a token verified once is not trusted past its exp: time claims are checked on every use")
    func cachedTokensExpire() async throws {
        let verifier = try await TestAuth.verifier { $0.leeway = .seconds(5) }
        let token = try await TestAuth.token(subject: "dave", ttl: .seconds(60))
        let now = Date()
        #expect(try await verifier.verify(authorization: "Bearer \(token)", now: now).subject == "dave")
        #expect(try await verifier.verify(authorization: "Bearer \(token)", now: now.addingTimeInterval(30)).subject == "dave")
        await #expect(throws: AuthError.unauthenticated("token has expired")) {
            try await verifier.verify(authorization: "Bearer \(token)", now: now.addingTimeInterval(70))
        }
        // A tampered copy of a cached token is not a cache hit.
        await #expect(throws: AuthError.self) {
            try await verifier.verify(authorization: "Bearer \(token)x", now: now)
        }
    }

    @Test("the gateway's pre-check remembers tokens that passed, and still checks their times on every use")
    func preCheckRemembers() async throws {
        let preCheck = TokenPreCheck(policy: TokenPolicy(algorithms: ["HS256"], leeway: .seconds(5)))
        let token = try await TestAuth.token(ttl: .seconds(60))
        let now = Date()
        #expect(try preCheck.check(token, now: now) == token)
        #expect(try preCheck.check(token, now: now.addingTimeInterval(30)) == token)
        #expect(throws: AuthError.unauthenticated("token has expired")) { try preCheck.check(token, now: now.addingTimeInterval(70)) }
        #expect(throws: AuthError.unauthenticated("token is malformed")) { try preCheck.check(token + "=", now: now) }
        let strict = TokenPreCheck(policy: TokenPolicy(algorithms: ["RS256"], leeway: .seconds(5)))
        #expect(throws: AuthError.unauthenticated("token algorithm is not allowed")) { try strict.check(token, now: now) }
    }

    @Test("the scheme is case-insensitive")
    func schemeCaseInsensitive() async throws {
        let verifier = try await TestAuth.verifier()
        let token = try await TestAuth.token(subject: "carol")
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            #expect(try await verifier.verify(authorization: "\(scheme) \(token)").subject == "carol")
        }
    }

    @Test("a configured issuer, audience and leeway are enforced")
    func issuerAudienceLeeway() async throws {
        let verifier = try await TestAuth.verifier {
            $0.issuer = "https://chat.example.com"
            $0.audience = "feedback-rpc"
            $0.leeway = .seconds(60)
        }
        let good = TestClaims(iss: IssuerClaim(value: "https://chat.example.com"), aud: AudienceClaim(value: ["feedback-rpc"]))
        #expect(try await verifier.verify(authorization: "Bearer " + (try await sign(good))).subject == "tester")
        var wrongIssuer = good
        wrongIssuer.iss = IssuerClaim(value: "https://evil.example.com")
        await #expect(throws: AuthError.unauthenticated("token issuer is not accepted")) {
            try await verifier.verify(authorization: "Bearer " + (try await sign(wrongIssuer)))
        }
        var wrongAudience = good
        wrongAudience.aud = AudienceClaim(value: ["other"])
        await #expect(throws: AuthError.unauthenticated("token audience is not accepted")) {
            try await verifier.verify(authorization: "Bearer " + (try await sign(wrongAudience)))
        }
        var justExpired = good
        justExpired.exp = ExpirationClaim(value: Date().addingTimeInterval(-30))
        #expect(try await verifier.verify(authorization: "Bearer " + (try await sign(justExpired))).subject == "tester")
    }

    @Test("a required scope that is missing is PERMISSION_DENIED over RPC")
    func requiredScope() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        let verifier = try await TestAuth.verifier { $0.requiredScope = "feedback:write" }
        try await withFeedbackServer(store: store, verifier: verifier) { path in
            let client = FeedbackClient(socketPath: path)
            let without = try await TestAuth.token(scope: "feedback:read")
            let error = await #expect(throws: RPCError.self) {
                try await client.submitFeedback(interactionID: 1, rating: 1, token: without)
            }
            #expect(error?.code == .permissionDenied)
            #expect(error?.message == "token lacks the scope feedback:write")
            try await client.submitFeedback(interactionID: 1, rating: 1, token: try await TestAuth.token(scope: "openid feedback:write"))
            #expect(store.rating(of: 1) == .positive)
            await client.close()
        }
    }

    @Test("RS256, ES256 and EdDSA public keys verify their tokens; HS256 is refused where public keys are configured")
    func publicKeys() async throws {
        let rsaPrivate = try Insecure.RSA.PrivateKey(pem: String(contentsOf: fixtures.appendingPathComponent("rsa-private.pem"), encoding: .utf8))
        let rsaPublic = try String(contentsOf: fixtures.appendingPathComponent("rsa-public.pem"), encoding: .utf8)
        let ecPrivate = ES256PrivateKey()
        let edPrivate = try EdDSA.PrivateKey(curve: .ed25519)
        let verifier = try await TokenVerifier(
            configuration: TokenVerifierConfiguration(publicKeysPEM: [rsaPublic, ecPrivate.publicKey.pemRepresentation, Self.pem(ed25519: edPrivate.publicKey.rawRepresentation)])
        )
        let rsaKeys = JWTKeyCollection()
        await rsaKeys.add(rsa: rsaPrivate, digestAlgorithm: .sha256)
        let ecKeys = JWTKeyCollection()
        await ecKeys.add(ecdsa: ecPrivate)
        let edKeys = JWTKeyCollection()
        await edKeys.add(eddsa: edPrivate)
        for keys in [rsaKeys, ecKeys, edKeys] {
            let token = try await keys.sign(TestClaims(sub: SubjectClaim(value: "svc")))
            #expect(try await verifier.verify(authorization: "Bearer \(token)").subject == "svc")
        }
        await #expect(throws: AuthError.unauthenticated("token algorithm is not allowed")) {
            try await verifier.verify(authorization: "Bearer " + (try await TestAuth.token()))
        }
        // A key that is not configured does not verify.
        let stranger = JWTKeyCollection()
        await stranger.add(ecdsa: ES256PrivateKey())
        let forged = try await stranger.sign(TestClaims())
        await #expect(throws: AuthError.self) { try await verifier.verify(authorization: "Bearer \(forged)") }
    }

    /// SubjectPublicKeyInfo PEM of an Ed25519 key (RFC 8410), built by hand.
    static func pem(ed25519 raw: Data) -> String {
        let der = Data([0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]) + raw
        return "-----BEGIN PUBLIC KEY-----\n\(der.base64EncodedString())\n-----END PUBLIC KEY-----\n"
    }

    @Test("a JWKS file configures the verifier")
    func jwks() async throws {
        let edPrivate = try EdDSA.PrivateKey(curve: .ed25519)
        let x = edPrivate.publicKey.rawRepresentation.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let jwks = #"{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"k1","x":"\#(x)"}]}"#
        let verifier = try await TokenVerifier(configuration: TokenVerifierConfiguration(jwksJSON: jwks))
        let keys = JWTKeyCollection()
        await keys.add(eddsa: edPrivate, kid: "k1")
        let token = try await keys.sign(TestClaims(sub: SubjectClaim(value: "jwks-user")))
        #expect(try await verifier.verify(authorization: "Bearer \(token)").subject == "jwks-user")
    }

    @Test("configurations that would weaken verification are refused")
    func badConfigurations() async throws {
        await #expect(throws: AuthConfigurationError.self) { try await TokenVerifier(configuration: TokenVerifierConfiguration()) }
        await #expect(throws: AuthConfigurationError.self) {
            try await TokenVerifier(configuration: TokenVerifierConfiguration(hmacSecret: Array("short".utf8)))
        }
        let rsaPublic = try String(contentsOf: fixtures.appendingPathComponent("rsa-public.pem"), encoding: .utf8)
        await #expect(throws: AuthConfigurationError.self) {
            try await TokenVerifier(configuration: TokenVerifierConfiguration(hmacSecret: TestAuth.secret, publicKeysPEM: [rsaPublic]))
        }
        await #expect(throws: AuthConfigurationError.self) {
            try await TokenVerifier(configuration: TokenVerifierConfiguration(publicKeysPEM: ["not a pem"]))
        }
    }
}

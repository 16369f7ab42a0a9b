import Foundation
import JWTKit

/// Mints HS256 tokens for development and tests (`feedbackctl token`).
public enum DevelopmentToken {
    /// A signed token with `sub`, `exp` (now + `ttl`) and, when given, `scope`, `iss` and `aud`.
    public static func mint(
        secret: [UInt8],
        subject: String,
        ttl: Duration,
        scope: String? = nil,
        issuer: String? = nil,
        audience: String? = nil,
        now: Date = Date()
    ) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        let claims = FeedbackClaims(
            sub: SubjectClaim(value: subject),
            // Whole seconds: RFC 7519 allows fractions, but many JWT libraries expect an integer.
            exp: ExpirationClaim(value: Date(timeIntervalSince1970: (now.timeIntervalSince1970 + TimeInterval(ttl.components.seconds)).rounded(.down))),
            iss: issuer.map { IssuerClaim(value: $0) },
            aud: audience.map { AudienceClaim(value: [$0]) },
            scope: scope
        )
        return try await keys.sign(claims)
    }
}

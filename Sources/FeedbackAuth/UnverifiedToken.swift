import Foundation
import JWTKit

/// A compact JWT read without its signature being checked: what can be known of a token before (or
/// without) a key. feedbackd's verifier reads every token through it before verifying the signature,
/// and the gateway, which holds no key, uses it as its pre-check: the two can never disagree on shape,
/// algorithm, size or times.
///
/// Refuses what jwt-kit would let through: a segment that is not canonical base64url (`=` padding, set
/// unused bits: one token would have several spellings) and a `crit` header (RFC 7515 section 4.1.11:
/// no extension is understood here, so any listed one must fail).
public struct UnverifiedToken: Sendable {
    /// The compact token.
    public let compact: String
    /// The header's `alg`.
    public let algorithm: String
    /// `exp`, in seconds since 1970; absent tokens are refused.
    public let expiresAt: Double
    /// `nbf`, in seconds since 1970.
    public let notBefore: Double?
    let claims: FeedbackClaims

    /// Reads `compact` and checks it against `policy` at `now`.
    /// - Throws: ``AuthError/unauthenticated(_:)`` with a fixed reason that echoes nothing of the token.
    public init(_ compact: String, policy: TokenPolicy, now: Date = Date()) throws(AuthError) {
        guard compact.utf8.count <= TokenPolicy.maxTokenBytes else { throw .unauthenticated("token is too large") }
        let segments = compact.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard segments.count == 3, segments.allSatisfy(Self.isCanonicalBase64URL) else {
            throw .unauthenticated("token is malformed")
        }
        let header: JWTHeader
        let claims: FeedbackClaims
        do {
            (header, claims, _) = try DefaultJWTParser().parse(Array(compact.utf8), as: FeedbackClaims.self)
        } catch {
            throw .unauthenticated("token is malformed")
        }
        guard let algorithm = header.alg, policy.algorithms.contains(algorithm) else {
            throw .unauthenticated("token algorithm is not allowed")
        }
        guard header.fields["crit"] == nil else {
            throw .unauthenticated("token has a critical header extension that is not supported")
        }
        guard let exp = claims.exp?.value.timeIntervalSince1970 else { throw .unauthenticated("token has no exp claim") }
        self.compact = compact
        self.algorithm = algorithm
        self.expiresAt = exp
        self.notBefore = claims.nbf?.value.timeIntervalSince1970
        self.claims = claims
        try Self.checkTimes(expiresAt: exp, notBefore: self.notBefore, policy: policy, now: now)
    }

    /// `exp` has not passed and `nbf` has, each give or take the policy's leeway.
    static func checkTimes(expiresAt: Double, notBefore: Double?, policy: TokenPolicy, now: Date) throws(AuthError) {
        let now = now.timeIntervalSince1970
        guard expiresAt > now - policy.leewaySeconds else { throw .unauthenticated("token has expired") }
        if let notBefore, notBefore > now + policy.leewaySeconds { throw .unauthenticated("token is not valid yet") }
    }

    /// Base64url without padding, as RFC 7515 requires, and canonical: a final partial group leaves its
    /// unused bits zero, so each byte string has exactly one spelling.
    public static func isCanonicalBase64URL(_ segment: Substring.UTF8View) -> Bool {
        guard segment.count % 4 != 1 else { return false }
        var last: UInt8 = 0
        for byte in segment {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): last = byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): last = byte - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): last = byte - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"): last = 62
            case UInt8(ascii: "_"): last = 63
            default: return false
            }
        }
        switch segment.count % 4 {
        case 2: return last & 0x0F == 0
        case 3: return last & 0x03 == 0
        default: return true
        }
    }
}

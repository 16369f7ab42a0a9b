import Foundation
import JWTKit

/// The claims feedbackd reads. Time claims are checked by ``TokenVerifier`` with its leeway, so
/// ``verify(using:)`` checks nothing.
struct FeedbackClaims: JWTPayload {
    var sub: SubjectClaim?
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    var iss: IssuerClaim?
    var aud: AudienceClaim?
    /// OAuth 2 style: space-separated scopes.
    var scope: String?
    /// Alternative: an array of scopes.
    var scp: [String]?

    func verify(using algorithm: some JWTAlgorithm) async throws {}

    var scopes: Set<String> {
        Set((self.scope ?? "").split(separator: " ").map(String.init)).union(self.scp ?? [])
    }
}

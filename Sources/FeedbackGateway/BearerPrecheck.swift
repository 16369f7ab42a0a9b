import Foundation

/// What the gateway can tell about a bearer token without the secret, before it reads the body: the
/// scheme, the JWT's shape, a signing algorithm (never `none`), an `exp` that has not passed and an `nbf`
/// that has.
/// Signatures are checked by feedbackd.
enum BearerPrecheck {
    enum Failure: Error, Equatable {
        /// No usable `Authorization: Bearer <token>` header: 401 "Not authenticated".
        case missing
        /// A token that cannot be valid: 401 "Could not validate credentials", with the reason.
        case invalid(String)
    }

    static let leeway: TimeInterval = 30
    private static let algorithms: Set<String> = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]

    /// The token of a valid-looking `Bearer` header.
    static func check(_ authorization: String?, now: Date = Date()) -> Result<String, Failure> {
        guard let authorization else { return .failure(.missing) }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return .failure(.missing) }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty else { return .failure(.missing) }
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, let header = self.json(segments[0]), let payload = self.json(segments[1]) else {
            return .failure(.invalid("token is malformed"))
        }
        guard let algorithm = header["alg"] as? String, self.algorithms.contains(algorithm) else {
            return .failure(.invalid("token algorithm is not allowed"))
        }
        guard let exp = (payload["exp"] as? NSNumber)?.doubleValue else {
            return .failure(.invalid("token has no exp claim"))
        }
        guard exp > now.timeIntervalSince1970 - self.leeway else { return .failure(.invalid("token has expired")) }
        if let nbf = (payload["nbf"] as? NSNumber)?.doubleValue, nbf > now.timeIntervalSince1970 + self.leeway {
            return .failure(.invalid("token is not valid yet"))
        }
        return .success(token)
    }

    private static func json(_ segment: Substring) -> [String: Any]? {
        var base64 = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}

import Foundation

/// What an `Authorization` value (HTTP header or RPC metadata) holds: a bearer token, nothing, or
/// another scheme's credentials. The scheme is case-insensitive; whitespace around the token is ignored.
public enum BearerCredentials: Equatable, Sendable {
    case token(String)
    /// No value, an empty one, or `Bearer` without a token.
    case missing
    /// Credentials of another scheme (`Basic ...`), or a token without a scheme.
    case otherScheme

    public init(authorization: String?) {
        guard let authorization, !authorization.isEmpty else {
            self = .missing
            return
        }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        if parts.count == 1, parts[0].lowercased() == "bearer" {
            self = .missing
            return
        }
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            self = .otherScheme
            return
        }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        self = token.isEmpty ? .missing : .token(token)
    }

    /// The token, or ``AuthError/unauthenticated(_:)``: "missing bearer token" or "authorization is not a
    /// bearer token".
    public func token() throws(AuthError) -> String {
        switch self {
        case .token(let token): token
        case .missing: throw .unauthenticated("missing bearer token")
        case .otherScheme: throw .unauthenticated("authorization is not a bearer token")
        }
    }
}

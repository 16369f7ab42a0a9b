/// Why a call was not authorized. The reason is short, names no secret and never echoes the token.
public enum AuthError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No valid credentials: missing, malformed, expired, not yet valid, badly signed, wrong issuer or
    /// audience, or a disallowed algorithm.
    case unauthenticated(String)
    /// Valid credentials without a required scope.
    case permissionDenied(String)

    public var description: String {
        switch self {
        case .unauthenticated(let reason), .permissionDenied(let reason): reason
        }
    }
}

/// A configuration the verifier cannot work with (no key, both a secret and public keys, a bad PEM).
public struct AuthConfigurationError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

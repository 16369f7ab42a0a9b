/// What a valid token must be and which keys sign it.
///
/// Configure either an HMAC secret (HS256) or public keys (RS256, ES256, EdDSA as PEM, or a JWKS), not
/// both: a verifier never accepts HS256 where public keys are configured (no algorithm confusion).
public struct TokenVerifierConfiguration: Sendable {
    /// The HS256 secret.
    public var hmacSecret: [UInt8]?
    /// PEM public keys: RSA (RS256), P-256 (ES256) or Ed25519 (EdDSA).
    public var publicKeysPEM: [String] = []
    /// A JWKS document (`{"keys": [...]}`).
    public var jwksJSON: String?
    /// When set, `iss` must equal it.
    public var issuer: String?
    /// When set, `aud` must contain it.
    public var audience: String?
    /// When set, the token's `scope` (space-separated) or `scp` must contain it; otherwise PERMISSION_DENIED.
    public var requiredScope: String?
    /// Clock skew tolerated for `exp` and `nbf`.
    public var leeway: Duration = .seconds(30)

    public init(
        hmacSecret: [UInt8]? = nil,
        publicKeysPEM: [String] = [],
        jwksJSON: String? = nil,
        issuer: String? = nil,
        audience: String? = nil,
        requiredScope: String? = nil,
        leeway: Duration = .seconds(30)
    ) {
        self.hmacSecret = hmacSecret
        self.publicKeysPEM = publicKeysPEM
        self.jwksJSON = jwksJSON
        self.issuer = issuer
        self.audience = audience
        self.requiredScope = requiredScope
        self.leeway = leeway
    }
}

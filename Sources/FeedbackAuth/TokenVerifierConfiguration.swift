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
    /// When set, a token used to write (or checked as a writer's) must carry it in `scope`
    /// (space-separated) or `scp`; otherwise PERMISSION_DENIED.
    public var requiredScope: String?
    /// The scope a token used to read the ratings stored (ListFeedbackEvents) must carry; nil lets any
    /// valid token read them. Required by default: the audit trail holds every user's ratings.
    public var readScope: String? = "feedback:read"
    /// Clock skew tolerated for `exp` and `nbf`.
    public var leeway: Duration = .seconds(30)

    public init(
        hmacSecret: [UInt8]? = nil,
        publicKeysPEM: [String] = [],
        jwksJSON: String? = nil,
        issuer: String? = nil,
        audience: String? = nil,
        requiredScope: String? = nil,
        readScope: String? = "feedback:read",
        leeway: Duration = .seconds(30)
    ) {
        self.hmacSecret = hmacSecret
        self.publicKeysPEM = publicKeysPEM
        self.jwksJSON = jwksJSON
        self.issuer = issuer
        self.audience = audience
        self.requiredScope = requiredScope
        self.readScope = readScope
        self.leeway = leeway
    }
}

/// What a token is used for, which decides the scope it needs.
public enum TokenAccess: Sendable {
    /// Storing ratings (and checking a writer's token): ``TokenVerifierConfiguration/requiredScope``.
    case write
    /// Reading the ratings stored: ``TokenVerifierConfiguration/readScope``.
    case read
}

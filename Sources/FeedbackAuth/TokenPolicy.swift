/// The token rules that feedbackd's verifier and the gateway's pre-check share: one source of truth for
/// the algorithms, the clock-skew leeway and the size of a token.
public struct TokenPolicy: Hashable, Sendable {
    /// Every algorithm feedbackd can verify. A verifier accepts the subset its keys sign with (HS256 for a
    /// secret; RS256, ES256, EdDSA for public keys); the gateway, which holds no key, accepts all of them.
    public static let supportedAlgorithms: Set<String> = ["HS256", "RS256", "ES256", "EdDSA"]

    /// The largest token accepted, in bytes. A call's metadata block holds at most 8,192 bytes
    /// (protocol/SPEC.md); this leaves room for the method, request id and trace context beside it.
    public static let maxTokenBytes = 7168

    /// The default ``leeway``, in seconds: `--jwt-leeway-s` of feedbackd and of the gateway.
    public static let defaultLeewaySeconds = 30

    /// Algorithms accepted in a token's `alg` header.
    public var algorithms: Set<String>
    /// Clock skew tolerated on `exp` and `nbf`.
    public var leeway: Duration

    public init(algorithms: Set<String> = Self.supportedAlgorithms, leeway: Duration = .seconds(Self.defaultLeewaySeconds)) {
        self.algorithms = algorithms
        self.leeway = leeway
    }

    public var leewaySeconds: Double {
        Double(self.leeway.components.seconds) + Double(self.leeway.components.attoseconds) / 1e18
    }
}

/// What a verified token says about its caller.
public struct VerifiedToken: Hashable, Sendable {
    /// The `sub` claim, or an empty string when the token has none.
    public var subject: String
    public var scopes: Set<String>
    public var expiresAt: Double
}

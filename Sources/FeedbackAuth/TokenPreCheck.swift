import Foundation

/// The pre-check of a party that holds no key (the gateway): ``UnverifiedToken`` against one policy,
/// remembering the tokens that passed, so that a token seen before is checked again for its times
/// only instead of being decoded (JSON) on every request. The signature is not checked here: feedbackd
/// verifies every token itself.
public final class TokenPreCheck: Sendable {
    public let policy: TokenPolicy
    private struct Times: Sendable {
        var expiresAt: Double
        var notBefore: Double?
    }

    private let passed = TokenCache<Times>(capacity: 4096)

    public init(policy: TokenPolicy) {
        self.policy = policy
    }

    /// Checks `token`; returns it when it passes.
    /// - Throws: ``AuthError/unauthenticated(_:)`` with the reasons of ``UnverifiedToken``.
    public func check(_ token: String, now: Date = Date()) throws(AuthError) -> String {
        if let times = self.passed.lookup(token) {
            try UnverifiedToken.checkTimes(expiresAt: times.expiresAt, notBefore: times.notBefore, policy: self.policy, now: now)
            return token
        }
        let unverified = try UnverifiedToken(token, policy: self.policy, now: now)
        self.passed.insert(token, Times(expiresAt: unverified.expiresAt, notBefore: unverified.notBefore))
        return unverified.compact
    }
}

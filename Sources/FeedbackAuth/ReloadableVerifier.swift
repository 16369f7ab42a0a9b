import Synchronization

/// The token verifier in force, replaced as a whole when the keys are reloaded (feedbackd's SIGHUP): a
/// call checks its token against the verifier current when it arrives. A new verifier starts with empty
/// caches, so a token verified under the old keys is checked again under the new ones.
public final class ReloadableVerifier: Sendable {
    private let current: Mutex<TokenVerifier>

    public init(_ verifier: TokenVerifier) {
        self.current = Mutex(verifier)
    }

    /// The verifier in force.
    public var verifier: TokenVerifier {
        self.current.withLock { $0 }
    }

    /// Puts `verifier` in force for every call from now on.
    public func replace(with verifier: TokenVerifier) {
        self.current.withLock { $0 = verifier }
    }
}

import Logging

/// What a handler knows about its call besides the request message.
public struct ServerContext: Sendable {
    /// `/SERVICE/METHOD`.
    public var method: String
    /// The call's request id: the caller's `x-request-id`, or one the server made. Echoed in the response.
    public var requestID: String
    /// The request metadata (pseudo-keys excluded), in order.
    public var metadata: Metadata
    /// When the call must be answered by, from the caller's `:timeout`.
    public var deadline: ContinuousClock.Instant?
    /// The peer's kernel credentials, when the transport has them.
    public var peer: PeerCredentials?
    /// The authenticated caller (a JWT's `sub`), set by an authentication interceptor.
    public var principal: String?
    /// When the caller's credentials stop being valid, in seconds since 1970 (a token's `exp` with the
    /// verifier's leeway), set by the authentication interceptor: a call that outlives them (a stream)
    /// ends then.
    public var principalValidUntil: Double?
    /// A logger tagged with `rpc.method`, `rpc.request_id`, `rpc.call_id` and the peer.
    public var logger: Logger

    public init(
        method: String,
        requestID: String,
        metadata: Metadata = Metadata(),
        deadline: ContinuousClock.Instant? = nil,
        peer: PeerCredentials? = nil,
        principal: String? = nil,
        logger: Logger
    ) {
        self.method = method
        self.requestID = requestID
        self.metadata = metadata
        self.deadline = deadline
        self.peer = peer
        self.principal = principal
        self.logger = logger
    }

    /// The first text value of a metadata key, or nil.
    public func metadataValue(_ key: String) -> String? {
        self.metadata.first(key)
    }
}

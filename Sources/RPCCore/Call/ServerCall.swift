/// One call as a transport read it: what ``ServerCallExecutor`` needs to run it. Every transport (the
/// Unix socket, the in-process transport) builds one and hands it to the same executor.
public struct ServerCall: Sendable {
    /// The call's id on its connection (for logs).
    public var callID: UInt32
    /// `/SERVICE/METHOD`.
    public var method: String
    /// The serialized request message.
    public var message: [UInt8]
    /// The request metadata (pseudo-keys excluded), in order.
    public var metadata: Metadata
    /// The caller's `:timeout`, counted from ``receivedAt``; nil for none.
    public var timeout: Duration?
    /// When the transport read the call.
    public var receivedAt: ContinuousClock.Instant
    /// The peer's kernel credentials, when the transport has them.
    public var peer: PeerCredentials?
    /// The connection the call came on (for logs).
    public var connectionID: Int
    /// Whether the caller asked for a stream of messages (a server-streaming call) rather than one answer.
    public var isStream: Bool

    public init(
        callID: UInt32,
        method: String,
        message: [UInt8],
        metadata: Metadata,
        timeout: Duration?,
        receivedAt: ContinuousClock.Instant = .now,
        peer: PeerCredentials? = nil,
        connectionID: Int = 0,
        isStream: Bool = false
    ) {
        self.callID = callID
        self.method = method
        self.message = message
        self.metadata = metadata
        self.timeout = timeout
        self.receivedAt = receivedAt
        self.peer = peer
        self.connectionID = connectionID
        self.isStream = isStream
    }

    /// When the call must be answered by.
    public var deadline: ContinuousClock.Instant? {
        self.timeout.map { self.receivedAt + $0 }
    }
}

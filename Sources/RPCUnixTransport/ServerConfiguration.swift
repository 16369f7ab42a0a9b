import NIOCore
import RPCCodec
import RPCCore

/// Everything a ``UnixSocketServer`` needs besides its handlers.
public struct ServerConfiguration: Sendable {
    /// The socket file to create (at most 107 bytes).
    public var socketPath: String
    /// Permission bits of the socket file; 0660 lets the owner and group connect.
    public var socketMode: UInt32 = 0o660
    /// This side's receive limits, announced in HELLO.
    public var limits: WireLimits = .defaults
    /// Calls run at once on one connection; more get RESOURCE_EXHAUSTED. Announced in HELLO as
    /// `MAX_CONCURRENT_CALLS`, so at least 1 (SPEC.md 4.1: a client refuses a HELLO announcing 0).
    public var maxConcurrentCallsPerConnection: Int = 100 {
        didSet {
            precondition(
                (1...Int(Hello.maxConcurrentCallsRange.upperBound)).contains(self.maxConcurrentCallsPerConnection),
                "maxConcurrentCallsPerConnection must be 1 to \(UInt32.max)"
            )
        }
    }
    /// Connections at once; more are refused with GOAWAY REFUSED.
    public var maxConnections: Int = 1024
    /// Calls in flight on all connections together; more get RESOURCE_EXHAUSTED. Bounds the memory that
    /// queued calls take (about 1.5 KiB each), whatever the number of connections.
    public var maxCallsInFlight: Int = 10_000
    /// A connection must send HELLO within this.
    public var handshakeTimeout: Duration = .seconds(5)
    /// A connection with no call in flight for this long is closed with GOAWAY NO_ERROR.
    public var idleTimeout: Duration = .seconds(300)
    /// The call rules this server's executor applies: the interrupt grace, which calls are logged, the
    /// encoding of status details.
    public var calls = ServerCallExecutor.Configuration()
    /// When set, only peers whose uid is listed (or whose gid is in ``allowedGIDs``) may connect.
    public var allowedUIDs: Set<UInt32>?
    /// When set, only peers whose gid is listed (or whose uid is in ``allowedUIDs``) may connect.
    public var allowedGIDs: Set<UInt32>?

    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// Whether a peer with these credentials may connect.
    func admits(uid: UInt32, gid: UInt32) -> Bool {
        if self.allowedUIDs == nil, self.allowedGIDs == nil { return true }
        return self.allowedUIDs?.contains(uid) == true || self.allowedGIDs?.contains(gid) == true
    }
}

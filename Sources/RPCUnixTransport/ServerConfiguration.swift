import NIOCore
import RPCCodec
import RPCCore

/// Everything a ``UnixSocketServer`` needs besides its handlers.
public struct ServerConfiguration: Sendable {
    /// The socket file to create (at most 107 bytes).
    public var socketPath: String
    /// Permission bits of the socket file; 0660 lets the owner and group connect.
    public var socketMode: UInt32 = 0o660
    /// A listening Unix socket to serve instead of binding ``socketPath``: one handed over by a service
    /// manager (socket activation, systemd's `LISTEN_FDS`), which keeps it open, and queues connections
    /// on it, while the server restarts. Its file is the manager's: the server neither sets its mode nor
    /// removes it (``socketPath`` then only names it in logs).
    public var inheritedListener: Int32?
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
    /// Server-streaming calls at once on all connections together (each also holds a call slot); more
    /// get RESOURCE_EXHAUSTED. A stream is long-lived: this keeps watchers from taking every slot.
    public var maxStreams: Int = 64
    /// The most unused credit a stream may hold, announced in HELLO as `MAX_STREAM_CREDIT`: a stream's
    /// messages in flight (written, not yet read by the client) are at most this many.
    public var maxStreamCredit: Int = Int(Hello.defaultMaxStreamCredit) {
        didSet {
            precondition(
                (1...Int(Hello.maxStreamCreditRange.upperBound)).contains(self.maxStreamCredit),
                "maxStreamCredit must be 1 to \(Hello.maxStreamCreditRange.upperBound)"
            )
        }
    }
    /// The highest protocol version offered in HELLO: 2 (streams) by default; 1 serves unary calls only,
    /// as a version-1 server does.
    public var protocolVersion: UInt16 = Hello.currentVersion {
        didSet { precondition((1...Hello.currentVersion).contains(self.protocolVersion), "protocolVersion must be 1 to \(Hello.currentVersion)") }
    }
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

/// What one client connection of an HTTP listener may hold: time to send a request's head and body, time
/// idle between requests, header bytes, and how many connections the listener keeps open at once.
public struct HTTPConnectionLimits: Hashable, Sendable {
    /// A request's head must arrive within this of its first byte (of the connection opening, for
    /// the first request).
    public var headTimeout: Duration = .seconds(10)
    /// A request's body must arrive within this of its head; a response must be taken by the peer within
    /// this of its start.
    public var bodyTimeout: Duration = .seconds(30)
    /// A keep-alive connection with no request in flight is closed after this.
    public var idleTimeout: Duration = .seconds(60)
    /// Connections open at once; one more is answered 503 and closed at once. Fit it to the process's
    /// descriptor limit (`DescriptorLimit.connectionCap`), with the caps of the process's other listeners.
    public var maxConnections = 4096
    /// The request line and headers together, in bytes; more gets 400.
    public var maxHeaderBytes = 64 * 1024

    public init() {}

    public init(headTimeout: Duration, bodyTimeout: Duration, idleTimeout: Duration, maxConnections: Int, maxHeaderBytes: Int) {
        self.headTimeout = headTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxHeaderBytes = maxHeaderBytes
    }

    var timeouts: SlowClientStateMachine.Timeouts {
        .init(head: self.headTimeout, body: self.bodyTimeout, idle: self.idleTimeout)
    }
}

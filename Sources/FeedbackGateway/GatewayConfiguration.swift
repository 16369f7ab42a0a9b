import FeedbackAuth

/// Everything `feedback-gateway` needs.
public struct GatewayConfiguration: Sendable {
    /// feedbackd's socket.
    public var socketPath: String
    /// Origins whose pages may call the gateway (CORS), e.g. `https://chat.example.com`.
    public var allowedOrigins: [String] = []
    /// Whether every request gets an `http.access` log line; otherwise only those answered 4xx or 5xx.
    public var logAllRequests = false
    /// A directory holding `feedback.js` and `demo.html` to serve (at `/widget/feedback.js` and `/`)
    /// instead of the ones compiled into the gateway; nil for those.
    public var widgetDirectory: String?
    /// Bodies over this many bytes get 413 (and a declared `Content-Length` over it, at once, with the
    /// connection closed unread).
    public var maxBodyBytes: Int = 64 * 1024
    /// Deadline of each call to feedbackd; past it the browser gets 504. Longer than feedbackd's busy
    /// timeout (5 s), so that a locked database is answered 503, as by the original.
    public var upstreamTimeout: Duration = .seconds(6)
    /// Deadlines and caps of client connections.
    public var connectionLimits = ConnectionLimits()
    /// What a token must be before its body is read: the pre-check feedbackd's verifier also applies.
    /// Give it feedbackd's `--jwt-leeway-s`; the algorithms are all that feedbackd can verify.
    public var tokenPolicy = TokenPolicy()
    /// Connections to feedbackd, each multiplexing many calls.
    public var poolSize: Int = 2

    public init(socketPath: String) {
        self.socketPath = socketPath
    }
}

extension GatewayConfiguration {
    /// What one client connection may hold: time to send a request's head and body, time idle between
    /// requests, header bytes, and how many connections may be open at once.
    public struct ConnectionLimits: Hashable, Sendable {
        /// A request's head must arrive within this of its first byte (of the connection opening, for
        /// the first request).
        public var headTimeout: Duration = .seconds(10)
        /// A request's body must arrive within this of its head.
        public var bodyTimeout: Duration = .seconds(30)
        /// A keep-alive connection with no request in flight is closed after this.
        public var idleTimeout: Duration = .seconds(60)
        /// Connections open at once; one more is answered 503 and closed. Keep it below the process's
        /// descriptor limit (`ulimit -n`), which the gateway raises to its hard limit at start-up.
        public var maxConnections = 4096
        /// The request line and headers together, in bytes; more gets 400.
        public var maxHeaderBytes = 64 * 1024

        public init() {}

        var timeouts: SlowClientStateMachine.Timeouts {
            .init(head: self.headTimeout, body: self.bodyTimeout, idle: self.idleTimeout)
        }
    }
}

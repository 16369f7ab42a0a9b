import FeedbackAuth
import HTTPConnectionGuard

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
    /// Whether `/` serves the demo page (`--no-demo-page`: a production gateway serves the widget's
    /// script only, and `/` is 404).
    public var servesDemoPage = true
    /// Bodies over this many bytes get 413 (and a declared `Content-Length` over it, at once, with the
    /// connection closed unread).
    public var maxBodyBytes: Int = 64 * 1024
    /// Deadline of each request's call to feedbackd, counted from when it asks for a call slot (see
    /// ``queueTimeout``); past it the browser gets 504. Longer than ``queueTimeout`` plus feedbackd's busy
    /// timeout (5 s), so that a locked database is answered 503, as by the original.
    public var upstreamTimeout: Duration = .seconds(6)
    /// Calls kept in flight on each connection to feedbackd: at most feedbackd's `--max-concurrent-calls`
    /// (100), so that no call waits on a connection, where nothing bounds its wait but its deadline.
    public var callsPerConnection = 100
    /// How long a request may wait for a call slot while every connection has ``callsPerConnection``
    /// calls in flight; then it is answered 503 (`Feedback store unavailable.`) without reaching feedbackd.
    public var queueTimeout: Duration = .milliseconds(500)
    /// Deadlines and caps of client connections.
    public var connectionLimits = HTTPConnectionLimits()
    /// What a token must be before its body is read: the pre-check feedbackd's verifier also applies.
    /// Give it feedbackd's `--jwt-leeway-s`; the algorithms are all that feedbackd can verify.
    public var tokenPolicy = TokenPolicy()
    /// Connections to feedbackd, each multiplexing many calls.
    public var poolSize: Int = 2

    public init(socketPath: String) {
        self.socketPath = socketPath
    }
}

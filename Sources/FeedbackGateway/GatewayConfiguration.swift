/// Everything `feedback-gateway` needs.
public struct GatewayConfiguration: Sendable {
    /// feedbackd's socket.
    public var socketPath: String
    /// Origins whose pages may call the gateway (CORS), e.g. `https://chat.example.com`.
    public var allowedOrigins: [String] = []
    /// Directory holding `feedback.js` and `demo.html` (served at `/widget/feedback.js` and `/`).
    public var widgetDirectory: String = "clients/widget"
    /// Bodies over this many bytes get 413.
    public var maxBodyBytes: Int = 64 * 1024
    /// Deadline of each call to feedbackd; past it the browser gets 504.
    public var upstreamTimeout: Duration = .seconds(5)
    /// Connections to feedbackd, each multiplexing many calls.
    public var poolSize: Int = 2

    public init(socketPath: String) {
        self.socketPath = socketPath
    }
}

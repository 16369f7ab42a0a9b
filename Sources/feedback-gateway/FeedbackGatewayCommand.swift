import ArgumentParser
import FeedbackGateway
import FeedbackLogging
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

@main
struct FeedbackGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedback-gateway",
        abstract: "HTTP drop-in for the original POST /feedback, forwarding to feedbackd over its Unix socket.",
        discussion: """
            POST /feedback takes {"interaction_id", "rating"} with Authorization: Bearer <jwt> and answers as \
            the original FastAPI endpoint did (204, 401, 404, 422, 503, ...). The token is forwarded to \
            feedbackd, which verifies it; the gateway holds no secret. It also serves the widget at \
            /widget/feedback.js, a demo page at /, and /healthz.

            Example:
              feedback-gateway --listen 127.0.0.1:8080 --socket /run/feedback/feedback.sock \\
                --allowed-origin https://chat.example.com
            """
    )

    @Option(help: "HOST:PORT to listen on (port 0 picks a free port).")
    var listen: String = "127.0.0.1:8080"

    @Option(help: "feedbackd's Unix socket.")
    var socket: String = "/tmp/feedback.sock"

    @Option(help: ArgumentHelp("An origin whose pages may call the gateway (CORS); repeatable.", valueName: "origin"))
    var allowedOrigin: [String] = []

    @Option(help: "Directory with feedback.js and demo.html.")
    var widgetDir: String = "clients/widget"

    @Option(help: "Request bodies over this many bytes get 413.")
    var maxBodyBytes: Int = 65_536

    @Option(help: "Deadline of each call to feedbackd, in milliseconds; past it: 504.")
    var timeoutMs: Int64 = 5000

    @Option(help: "Connections to feedbackd (each multiplexes many calls).")
    var poolSize: Int = 2

    @Option(help: "Log format on stderr: text or json.")
    var logFormat: String = "text"

    @Option(help: "Lowest level logged (every request is one http.access line at info).")
    var logLevel: String = "info"

    func run() async throws {
        guard let colon = self.listen.lastIndex(of: ":"), let port = Int(self.listen[self.listen.index(after: colon)...]) else {
            throw ValidationError("--listen must be HOST:PORT, e.g. 127.0.0.1:8080")
        }
        let host = String(self.listen[..<colon])
        LogOutput.bootstrap(json: self.logFormat == "json", level: Logger.Level(rawValue: self.logLevel) ?? .info)
        let logger = Logger(label: "feedback-gateway")
        var configuration = GatewayConfiguration(socketPath: self.socket)
        configuration.allowedOrigins = self.allowedOrigin
        configuration.widgetDirectory = self.widgetDir
        configuration.maxBodyBytes = self.maxBodyBytes
        configuration.upstreamTimeout = .milliseconds(self.timeoutMs)
        configuration.poolSize = self.poolSize
        let app: any ApplicationProtocol
        do {
            app = try GatewayApplication.application(
                configuration: configuration, host: host, port: port, logger: logger,
                onServerRunning: { port in logger.info("gateway.listening", metadata: ["http.address": "\(host):\(port)"]) }
            )
        } catch {
            FileHandle.standardError.write(Data("feedback-gateway: cannot load the widget from \(self.widgetDir): \(error)\n".utf8))
            throw ExitCode(2)
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
    }
}

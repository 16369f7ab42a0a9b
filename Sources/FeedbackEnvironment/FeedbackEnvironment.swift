#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What every command of feedback-rpc (feedbackd, feedback-gateway, feedbackctl) reads from the
/// environment when a flag does not say it: one place, so that the three agree.
///
/// - `FEEDBACK_SOCKET`: feedbackd's Unix socket, for every `--socket`; else ``defaultSocketPath``.
/// - `FEEDBACK_TOKEN`: the JWT feedbackctl sends, for every `--token` (an environment variable is not
///   visible in the process list, as a flag is).
public enum FeedbackEnvironment {
    /// feedbackd's socket when neither `--socket` nor `FEEDBACK_SOCKET` says: where the systemd units of
    /// `deploy/systemd` put it (`RuntimeDirectory=feedback`).
    public static let defaultSocketPath = "/run/feedback/feedback.sock"

    /// `FEEDBACK_SOCKET` when set and not empty, else ``defaultSocketPath``.
    public static var socketPath: String {
        Self.value(of: "FEEDBACK_SOCKET") ?? Self.defaultSocketPath
    }

    /// `FEEDBACK_TOKEN` when set and not empty.
    public static var token: String? {
        Self.value(of: "FEEDBACK_TOKEN")
    }

    /// The help text of a `--socket` flag: the same words in every command.
    public static let socketHelp = "feedbackd's Unix socket (or set FEEDBACK_SOCKET)."

    static func value(of name: String) -> String? {
        guard let pointer = getenv(name) else { return nil }
        let value = String(cString: pointer)
        return value.isEmpty ? nil : value
    }
}

import Logging

/// Bootstraps swift-log once for an executable: text (control characters escaped) or JSON on stderr.
public enum LogOutput {
    public static func bootstrap(json: Bool, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : TextLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

import Logging
import Synchronization

/// Log events kept in memory: tests log here instead of the terminal, so a passing run prints only
/// its summary, and a test can still look at what was logged.
public final class CapturedLogs: Sendable {
    public init() {}

    public struct Event: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: Logger.Metadata
    }

    /// Most events kept; older ones are dropped.
    public static let capacity = 10_000
    private let events = Mutex<[Event]>([])

    public var all: [Event] { self.events.withLock { $0 } }

    public func append(_ event: Event) {
        self.events.withLock { events in
            if events.count >= Self.capacity { events.removeFirst(events.count / 2) }
            events.append(event)
        }
    }

    /// A logger writing into these logs, at `level`.
    public func logger(label: String = "test", level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { _ in Handler(logs: self) }
        logger.logLevel = level
        return logger
    }

    private struct Handler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            self.logs.append(
                Event(level: event.level, message: event.message.description, metadata: self.metadata.merging(event.metadata ?? [:]) { $1 })
            )
        }
    }
}

/// A logger for tests that do not look at their logs: kept in memory, never printed.
public func quietLogger(level: Logger.Level = .info) -> Logger {
    CapturedLogs().logger(level: level)
}

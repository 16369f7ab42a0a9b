import CSystemd
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// systemd's notifications for a `Type=notify` unit, sent through libsystemd (sd_notify(3)): `READY=1`
/// with a `STATUS=` once the process serves, `WATCHDOG=1` while every event loop still turns (when the
/// unit sets `WatchdogSec=`), and `STOPPING=1` as soon as graceful shutdown begins. Outside systemd (no
/// `NOTIFY_SOCKET`) it sends nothing. Put it last among the group's services: the group shuts its
/// services down last first, so `STOPPING=1` goes out before the others drain.
public struct SystemdNotifier: Service {
    private let ready: @Sendable () async throws -> String
    private let logger: Logger

    /// `ready` returns once the process serves, with the status line to show (`systemctl status`).
    public init(logger: Logger, ready: @escaping @Sendable () async throws -> String) {
        self.ready = ready
        self.logger = logger
    }

    /// Whether systemd (or another service manager) asked for notifications.
    public static var isExpected: Bool { getenv("NOTIFY_SOCKET") != nil }

    public func run() async throws {
        guard Self.isExpected else { return }
        let status = try await self.ready()
        self.notify("READY=1\nSTATUS=\(status)")
        var microseconds: UInt64 = 0
        // WATCHDOG_USEC beyond what a Duration counts (or 0) is no watchdog at all.
        let watchdog = sd_watchdog_enabled(0, &microseconds) > 0 ? Int64(exactly: microseconds).map(Duration.microseconds) : nil
        await withGracefulShutdownHandler {
            guard let watchdog else {
                try? await gracefulShutdown()
                return
            }
            // Twice per interval, as sd_watchdog_enabled(3) advises; ends when graceful shutdown begins.
            try? await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: watchdog / 2)
                    try await Self.eventLoopsTurn()
                    self.notify("WATCHDOG=1")
                }
            }
        } onGracefulShutdown: {
            self.notify("STOPPING=1\nSTATUS=stopping: finishing the requests in progress")
        }
    }

    /// Returns once every event loop of the process ran a task just given to it: a loop that is stuck
    /// (blocked by a bug, deadlocked) never lets the watchdog be pinged, and systemd restarts the service.
    static func eventLoopsTurn() async throws {
        let turns = MultiThreadedEventLoopGroup.singleton.makeIterator().map { loop in loop.submit {} }
        guard let first = turns.first else { return }
        try await EventLoopFuture.andAllSucceed(turns, on: first.eventLoop).get()
    }

    private func notify(_ state: String) {
        let result = sd_notify(0, state)
        if result < 0 {
            self.logger.warning("systemd.notify_failed", metadata: ["state": "\(state.prefix { $0 != "\n" })", "error": "\(-result)"])
        }
    }
}

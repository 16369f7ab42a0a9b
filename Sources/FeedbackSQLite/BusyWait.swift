import Foundation
import Synchronization

/// How long SQLite's busy handler waits for a lock another process holds: asked again each time SQLite
/// finds the lock taken, so the answer can change while it waits (the writer's queue emptying because
/// its calls were cancelled). Outside ``waiting(_:_:)`` it never waits.
///
/// Read on the thread that runs SQLite (GRDB's writer queue); set by the writer around each statement
/// that may need a lock.
final class BusyWait: Sendable {
    /// Until when to keep waiting; nil to give up now.
    typealias Rule = @Sendable () -> ContinuousClock.Instant?

    private let rule = Mutex<Rule?>(nil)
    private let isWaiting = Atomic<Bool>(false)

    /// Runs `body` with lock waits bounded by `rule`, then stops waiting again.
    func waiting<T>(_ rule: @escaping Rule, _ body: () throws -> T) rethrows -> T {
        self.rule.withLock { $0 = rule }
        defer {
            self.rule.withLock { $0 = nil }
            self.isWaiting.store(false, ordering: .releasing)
        }
        return try body()
    }

    /// Runs `body` with lock waits that end at `deadline`.
    func waiting<T>(until deadline: ContinuousClock.Instant, _ body: () throws -> T) rethrows -> T {
        try self.waiting({ deadline }, body)
    }

    /// Whether SQLite is waiting for another process's lock right now.
    var isWaitingForLock: Bool { self.isWaiting.load(ordering: .acquiring) }

    /// SQLite's busy handler: sleeps a little and returns true to try again, or false to give up
    /// (the statement then fails with SQLITE_BUSY). `tries` is how often it was called for this lock.
    func shouldRetry(tries: Int) -> Bool {
        guard let rule = self.rule.withLock({ $0 }), let deadline = rule() else { return false }
        let now = ContinuousClock.now
        guard now < deadline else { return false }
        self.isWaiting.store(true, ordering: .releasing)
        // Short sleeps first, then 10 ms, as SQLite's own busy handler backs off; short enough that a
        // queue emptied by cancellations is noticed at once.
        let steps = [1, 2, 5, 10]
        let pause = min(deadline - now, .milliseconds(steps[min(tries, steps.count - 1)]))
        let micros = pause.components.seconds * 1_000_000 + pause.components.attoseconds / 1_000_000_000_000
        usleep(useconds_t(max(micros, 1)))
        return true
    }
}

import AsyncOneShot
import CoreMetrics
import Synchronization

/// The window of one piece of work of ``PostgresFeedbackStore/bounded(_:)``: when it had its
/// connection and sent its latest statement, or that the store gave up on it. Giving up and starting a
/// statement exclude each other: work given up on before it sent a statement never sends one.
final class StatementStart: Sendable {
    private enum State {
        case waiting
        case started(ContinuousClock.Instant)
        case givenUp
    }

    private let state = Mutex(State.waiting)

    /// A statement is about to be sent now (the latest one counts). Returns false, and the statement
    /// must not be sent, once the store gave up on the work.
    func starts() -> Bool {
        self.state.withLock { state in
            if case .givenUp = state { return false }
            state = .started(.now)
            return true
        }
    }

    /// For the timer: gives up on the work unless a statement started since `known` (nil: none yet),
    /// and returns nil; otherwise returns that statement's start, whose window is then waited for.
    func giveUp(unlessStartedSince known: ContinuousClock.Instant?) -> ContinuousClock.Instant? {
        self.state.withLock { state in
            if case .started(let instant) = state, instant != known { return instant }
            state = .givenUp
            return nil
        }
    }

    /// Gives up on the work whatever it did (its caller was cancelled): it sends no statement from now on.
    func giveUpNow() {
        self.state.withLock { $0 = .givenUp }
    }
}

/// The store's work it gave up on and left running (a PostgresNIO lease or query may outlive its
/// cancellation): counted in `feedback_store_work_left_behind`, and awaited on shutdown.
final class LeftBehindWork: Sendable {
    private struct State {
        var next: UInt64 = 0
        var running: [UInt64: Task<Void, Never>] = [:]
        var givenUp: Set<UInt64> = []
        /// Set once no task runs, for ``waitForAll(atMost:)``.
        var drained: OneShot<Void>?
    }

    private let state = Mutex(State())
    private let gauge: Gauge

    init(store: String) {
        self.gauge = Gauge(label: "feedback_store_work_left_behind", dimensions: [("store", store)])
    }

    /// Runs `work` in a task of its own; returns its token, for ``giveUp(_:)``.
    func start(_ work: @escaping @Sendable () async -> Void) -> UInt64 {
        self.state.withLock { state in
            state.next += 1
            let token = state.next
            state.running[token] = Task {
                await work()
                self.finished(token)
            }
            return token
        }
    }

    /// The work of `token` is given up on: its task is cancelled and counted until it ends.
    func giveUp(_ token: UInt64) {
        let (task, count): (Task<Void, Never>?, Int) = self.state.withLock { state in
            guard let task = state.running[token] else { return (nil, state.givenUp.count) }
            state.givenUp.insert(token)
            return (task, state.givenUp.count)
        }
        task?.cancel()
        if task != nil { self.gauge.record(count) }
    }

    /// Waits until no task runs (those given up on included), or for `limit` at most: a task that
    /// ignores its cancellation for ever must not hold shutdown. Returns how many still run.
    @discardableResult
    func waitForAll(atMost limit: Duration) async -> Int {
        let drained = OneShot<Void>()
        let idle = self.state.withLock { state in
            state.drained = drained
            return state.running.isEmpty
        }
        if !idle {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    try? await Task.sleep(for: limit)
                    drained.set(())
                }
                await drained.value()
                group.cancelAll()
            }
        }
        return self.state.withLock { $0.running.count }
    }

    /// How many tasks given up on still run.
    var count: Int { self.state.withLock { $0.givenUp.count } }

    private func finished(_ token: UInt64) {
        let (count, drained): (Int?, OneShot<Void>?) = self.state.withLock { state in
            state.running[token] = nil
            let count = state.givenUp.remove(token) == nil ? nil : state.givenUp.count
            return (count, state.running.isEmpty ? state.drained : nil)
        }
        if let count { self.gauge.record(count) }
        drained?.set(())
    }
}

/// Work of ``PostgresFeedbackStore/bounded(connectTimeout:abandon:_:)`` on a server the store stopped
/// writing to (a failover): fired, the work is given up on at once, as on a timeout, and left behind.
final class AbandonSignal: Sendable {
    private let state = Mutex<(fired: Bool, action: (@Sendable () -> Void)?)>((false, nil))

    /// Runs `action` when the signal fires (at once if it has).
    func onFire(_ action: @escaping @Sendable () -> Void) {
        let fired = self.state.withLock { state in
            if !state.fired { state.action = action }
            return state.fired
        }
        if fired { action() }
    }

    func fire() {
        let action = self.state.withLock { state in
            defer { (state.fired, state.action) = (true, nil) }
            return state.fired ? nil : state.action
        }
        action?()
    }
}

/// The work was given up on because the store now writes to another server.
struct PrimaryChanged: Error, CustomStringConvertible {
    var from: String
    var description: String { "feedbackd stopped waiting for \(self.from), no longer the server written to (a failover)" }
}

/// The caller of ``PostgresFeedbackStore/bounded(_:)`` was cancelled; the work is left behind.
struct WorkCancelled: Error {}

/// PostgreSQL did not answer in time.
struct PostgresUnavailable: Error, CustomStringConvertible {
    var description: String
}

/// The store gave up on the work before it sent its statement: it was never sent.
struct WorkGivenUp: Error, CustomStringConvertible {
    var description: String { "given up on before its statement was sent" }
}

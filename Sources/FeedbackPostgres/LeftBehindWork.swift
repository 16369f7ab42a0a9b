import AsyncOneShot
import CoreMetrics
import Synchronization

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

import Dispatch
import Synchronization

/// Wakes the one thread that waits for work (a store's writer thread: ``GroupCommitWriter/run(onDedicatedThread:name:)``).
/// Signals that arrive while it is awake coalesce into one wake-up: the waiter looks at its work after
/// each wake, so one wake covers everything queued before it looked.
///
/// The waiter must clear the signal before it looks at its work (``wait(timeout:)`` does): a signal sent
/// after that look then wakes it again, one sent before is covered by the look.
final class ThreadWakeup: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let signalled = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    /// Wakes the waiter, or makes its next wait return at once.
    func signal() {
        if !self.signalled.exchange(true, ordering: .sequentiallyConsistent) {
            self.semaphore.signal()
        }
    }

    /// Makes every later wait return false (and wakes one waiting now).
    func finish() {
        self.finished.store(true, ordering: .sequentiallyConsistent)
        self.semaphore.signal()
    }

    /// Blocks until a signal, ``finish()``, or `timeout` has passed. Returns false once finished; true
    /// otherwise (the waiter then looks at its work: there may be none after a timeout).
    func wait(timeout: Duration) -> Bool {
        if self.finished.load(ordering: .sequentiallyConsistent) { return false }
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        if self.semaphore.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .success {
            self.signalled.store(false, ordering: .sequentiallyConsistent)
        }
        return !self.finished.load(ordering: .sequentiallyConsistent)
    }
}

import NIOCore
import RPCCore
import Synchronization

/// A connection as the call executor sees it (``CallConnection``): answers made off the connection's
/// event loop (by a store's writer, a handler's task) are handed back to it in batches, so the answers
/// a commit produces for one connection cost one hop to its event loop and one flush, however many
/// they are; timers run on the event loop. Any thread may respond.
final class ResponseOutbox: CallConnection {
    private let handler: NIOLoopBound<ServerConnectionHandler>
    private let queued = Mutex<[(callID: UInt32, answer: PendingAnswer)]>([])

    init(handler: NIOLoopBound<ServerConnectionHandler>) {
        self.handler = handler
    }

    func respond(callID: UInt32, _ answer: PendingAnswer) {
        let first = self.queued.withLock { queued in
            queued.append((callID, answer))
            return queued.count == 1
        }
        guard first else { return }  // the hop already scheduled takes this one too
        self.handler.eventLoop.execute {
            let batch = self.queued.withLock { queued in
                defer { queued.removeAll(keepingCapacity: true) }
                return queued
            }
            self.handler.value.complete(batch)
        }
    }

    func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) -> CallTimer {
        let scheduled = self.handler.eventLoop.scheduleTask(in: TimeAmount(delay), body)
        return CallTimer { scheduled.cancel() }
    }
}

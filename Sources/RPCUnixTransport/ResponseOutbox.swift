import NIOCore
import RPCCore
import Synchronization

/// A connection as the call executor sees it (``StreamConnection``): answers and stream messages made
/// off the connection's event loop (by a store's writer, a handler's task) are handed back to it in
/// batches, in the order they were made, so the answers a commit produces for one connection cost one
/// hop to its event loop and one flush, however many they are, and a stream's messages always go out
/// before its answer; timers run on the event loop. Any thread may respond or deliver.
final class ResponseOutbox: StreamConnection {
    /// What waits for the event loop.
    enum Outgoing {
        case answer(callID: UInt32, PendingAnswer)
        case message(callID: UInt32, [UInt8])
    }

    private let handler: NIOLoopBound<ServerConnectionHandler>
    private let queued = Mutex<[Outgoing]>([])
    /// The channel's writability, set by the handler: streams wait while the peer does not read.
    let writability: WritabilityGate? = WritabilityGate()

    init(handler: NIOLoopBound<ServerConnectionHandler>) {
        self.handler = handler
    }

    func respond(callID: UInt32, _ answer: PendingAnswer) {
        self.enqueue(.answer(callID: callID, answer))
    }

    func deliver(callID: UInt32, message: [UInt8]) {
        self.enqueue(.message(callID: callID, message))
    }

    private func enqueue(_ outgoing: Outgoing) {
        let first = self.queued.withLock { queued in
            queued.append(outgoing)
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

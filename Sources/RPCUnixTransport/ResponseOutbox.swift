import NIOCore
import RPCCodec
import Synchronization

/// Answers made off a connection's event loop (by a store's writer, a handler's task), handed back to
/// it in batches: the answers a commit produces for one connection cost one hop to its event loop and
/// one flush, however many they are. Any thread may respond.
final class ResponseOutbox: Sendable {
    /// A call's answer: ready, or built on the event loop (so that turning a store's results into
    /// RESPONSEs is spread over the event loops instead of holding up the store's writer).
    enum Answer: Sendable {
        case response(Response)
        case build(@Sendable () -> Response)

        var response: Response {
            switch self {
            case .response(let response): response
            case .build(let build): build()
            }
        }
    }

    private let handler: NIOLoopBound<ServerConnectionHandler>
    private let queued = Mutex<[(callID: UInt32, answer: Answer)]>([])

    init(handler: NIOLoopBound<ServerConnectionHandler>) {
        self.handler = handler
    }

    func respond(callID: UInt32, _ response: Response) {
        self.respond(callID: callID, .response(response))
    }

    func respond(callID: UInt32, _ answer: Answer) {
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
}

import NIOCore
import RPCCodec
import RPCCore

/// One accepted call, handed from a connection (on its event loop) to the server's task group.
struct CallJob: Sendable {
    var callID: UInt32
    var request: Request
    /// When the REQUEST was read: the `:timeout` counts from here.
    var receivedAt: ContinuousClock.Instant
    var peer: PeerCredentials?
    var connectionID: Int
    var responder: CallResponder
    var cancellation: CallCancellation
}

/// Where a connection hands the calls it reads.
struct CallDispatch: Sendable {
    /// Runs a call in a task of the server; its RESPONSE comes back through the job's responder.
    let enqueue: @Sendable (CallJob) -> Void
    /// Answers a call on the spot when its handler is immediate, returning the RESPONSE; nil otherwise.
    let answerNow: @Sendable (_ callID: UInt32, _ request: Request, _ peer: PeerCredentials?, _ connectionID: Int) -> Response?
}

/// Sends a call's RESPONSE back through the connection it came from, from any thread.
struct CallResponder: Sendable {
    let handler: NIOLoopBound<ServerConnectionHandler>

    func respond(callID: UInt32, _ response: Response) {
        self.handler.eventLoop.execute {
            self.handler.value.complete(callID: callID, response)
        }
    }
}

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
    var outbox: ResponseOutbox
    var cancellation: CallCancellation
}

/// What a connection needs to know about the call it read.
struct IncomingCall {
    var callID: UInt32
    var request: Request
    var peer: PeerCredentials?
    var connectionID: Int
}

/// Where a connection hands the calls it reads, on its event loop. Three paths, tried in order.
struct CallDispatch: Sendable {
    /// Answers a call on the spot when its handler is immediate, returning the RESPONSE; nil otherwise.
    let answerNow: @Sendable (IncomingCall) -> Response?
    /// Starts a call of a deferred handler, whose RESPONSE comes back through the outbox; returns the
    /// call (to interrupt it), or nil when the call must run in a task.
    let startDeferred: @Sendable (IncomingCall, ResponseOutbox) -> DeferredCall?
    /// Runs a call in a task of the server; its RESPONSE comes back through the job's outbox.
    let enqueue: @Sendable (CallJob) -> Void
    /// Where calls the connection answers itself (refused at a limit, malformed) are counted.
    let metrics: ServerMetrics
}

import NIOCore
import RPCCodec
import RPCCore
import Synchronization

/// The client side of one connection, on its event loop: assigns strictly increasing call ids, keeps
/// calls within the server's `MAX_CONCURRENT_CALLS` (queueing the rest), matches RESPONSEs to calls,
/// and fails calls on GOAWAY or close with the right status (SPEC.md sections 5, 8, 9).
final class ClientConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = OutboundFrame

    private struct Pending {
        var key: Int
        var promise: EventLoopPromise<Response>
        /// After its deadline or cancellation: when the call stops waiting for the server's answer.
        var giveUp: Scheduled<Void>?
    }

    private struct Queued {
        var key: Int
        var request: Request
        var promise: EventLoopPromise<Response>
    }

    private enum State {
        case awaitingHello
        case open
        case goingAway
        case closed
    }

    private var peerHello = Hello()
    private var nextCallID: UInt32 = 1
    private var pending: [UInt32: Pending] = [:]
    private var callIDs: [Int: UInt32] = [:]
    private var queue: [Queued] = []
    private var pings: [UInt64: EventLoopPromise<Void>] = [:]
    private var context: ChannelHandlerContext?
    private var flushPending = false
    private let limits: WireLimits
    let helloReceived: EventLoopPromise<Void>
    /// Mirrors ``isUsable`` for readers on other threads.
    let usable: UsableFlag

    init(limits: WireLimits, eventLoop: any EventLoop, usable: UsableFlag) {
        self.limits = limits
        self.helloReceived = eventLoop.makePromise()
        self.usable = usable
    }

    private var state = State.awaitingHello {
        didSet { self.usable.flag.store(self.isUsable, ordering: .relaxed) }
    }

    /// Whether new calls can go on this connection.
    var isUsable: Bool {
        switch self.state {
        case .awaitingHello, .open: true
        case .goingAway, .closed: false
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.sendHello(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.sendHello(context)
        context.fireChannelActive()
    }

    private func sendHello(_ context: ChannelHandlerContext) {
        context.writeAndFlush(self.wrapOutboundOut(.frame(.hello(Hello(limits: self.limits)))), promise: nil)
    }

    // MARK: calls

    /// Starts a call, or queues it while the server's concurrency limit is reached, or, before the
    /// server's HELLO, while it is over ``WireLimits/maxFrameSizeBeforePeerHello`` (SPEC.md 2.1).
    func start(key: Int, request: Request, promise: EventLoopPromise<Response>) {
        guard self.isUsable else {
            promise.fail(ClientConnection.notProcessed("the connection is closing"))
            return
        }
        if !self.queue.isEmpty || !self.canSend(request) {
            self.queue.append(Queued(key: key, request: request, promise: promise))
            return
        }
        self.send(key: key, request: request, promise: promise)
    }

    /// Whether `request` may be written now: a slot is free and, before the server's HELLO, its frame is
    /// one any server accepts.
    private func canSend(_ request: Request) -> Bool {
        guard self.pending.count < Int(self.peerHello.maxConcurrentCalls) else { return false }
        return self.state != .awaitingHello || request.encodedLength <= WireLimits.maxFrameSizeBeforePeerHello
    }

    private func send(key: Int, request: Request, promise: EventLoopPromise<Response>) {
        guard self.nextCallID <= Frame.maxCallID else {
            self.state = .goingAway
            promise.fail(ClientConnection.notProcessed("call ids exhausted on this connection"))
            return
        }
        guard request.encodedLength <= self.peerHello.limits.maxFrameSize else {
            promise.fail(RPCError(code: .resourceExhausted, message: "Request of \(request.encodedLength) bytes is over the server's frame limit of \(self.peerHello.limits.maxFrameSize) bytes."))
            return
        }
        let callID = self.nextCallID
        self.nextCallID += 1
        self.pending[callID] = Pending(key: key, promise: promise)
        self.callIDs[key] = callID
        self.write(.request(callID: callID, request))
    }

    /// The call's deadline passed, or its caller was cancelled (`error`). A call still queued was never
    /// sent: it fails with `error` now. A call sent is left to the server, which answers what really
    /// happened (SPEC.md section 8): on a deadline the server stops it by itself; on a cancellation it
    /// is sent CANCEL. Only when that answer does not come within `answerGrace` is the call given up on,
    /// as UNKNOWN: it may or may not have taken effect.
    func interrupt(key: Int, with error: RPCError, answerGrace: Duration) {
        if let index = self.queue.firstIndex(where: { $0.key == key }) {
            self.queue.remove(at: index).promise.fail(error)
            return
        }
        guard let callID = self.callIDs[key], self.pending[callID]?.giveUp == nil, let eventLoop = self.context?.eventLoop else { return }
        if error.code == .cancelled { self.write(.frame(.cancel(callID: callID))) }
        let what = error.code == .cancelled ? "cancellation" : "deadline"
        self.pending[callID]?.giveUp = eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(answerGrace)) {
            self.abandon(key: key, with: ClientConnection.outcomeUnknown("the server did not answer within \(answerGrace) of the call's \(what)"))
        }
    }

    /// Gives up on a call: fails it with `error` and, if it was sent, tells the server (CANCEL).
    func abandon(key: Int, with error: RPCError) {
        if let index = self.queue.firstIndex(where: { $0.key == key }) {
            self.queue.remove(at: index).promise.fail(error)
            return
        }
        guard let callID = self.callIDs.removeValue(forKey: key), let call = self.pending.removeValue(forKey: callID) else { return }
        call.giveUp?.cancel()
        call.promise.fail(error)
        self.write(.frame(.cancel(callID: callID)))
        self.callFinished()
    }

    func ping(opaque: UInt64, promise: EventLoopPromise<Void>) {
        guard self.state != .closed else {
            promise.fail(ClientConnection.unavailable("connection closed"))
            return
        }
        self.pings[opaque] = promise
        self.write(.frame(.ping(opaque)))
    }

    /// Sends GOAWAY and closes once every call is answered.
    func goAway() {
        guard self.state == .open || self.state == .awaitingHello else { return }
        self.state = .goingAway
        for queued in self.queue { queued.promise.fail(ClientConnection.notProcessed("the connection is closing")) }
        self.queue.removeAll()
        self.write(.frame(.goAway(GoAway(lastCallID: 0, errorCode: .noError))))
        self.closeIfIdle()
    }

    private func write(_ frame: OutboundFrame) {
        guard let context = self.context else { return }
        context.write(self.wrapOutboundOut(frame), promise: nil)
        guard !self.flushPending else { return }
        self.flushPending = true
        context.eventLoop.assumeIsolated().execute {
            self.flushPending = false
            self.context?.flush()
        }
    }

    /// Sends the queued calls that may go now, oldest first (a call never overtakes an earlier one).
    private func callFinished() {
        while let next = self.queue.first, self.isUsable, self.canSend(next.request) {
            self.queue.removeFirst()
            self.send(key: next.key, request: next.request, promise: next.promise)
        }
        self.closeIfIdle()
    }

    private func closeIfIdle() {
        guard self.state == .goingAway, self.pending.isEmpty, let context = self.context else { return }
        self.state = .closed
        context.flush()
        context.close(promise: nil)
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .hello(let hello):
            self.peerHello = hello
            if self.state == .awaitingHello { self.state = .open }
            self.helloReceived.succeed()
            self.callFinished()
        case .response(let callID, let payload):
            guard let call = self.pending.removeValue(forKey: callID) else { return }  // given up on or unknown: ignored
            self.callIDs[call.key] = nil
            call.giveUp?.cancel()
            do {
                call.promise.succeed(try Response(decoding: payload, limits: self.limits))
            } catch {
                call.promise.fail(RPCError(code: .internal, message: "Malformed response: \(error.message)"))
            }
            self.callFinished()
        case .ping(let opaque):
            self.write(.frame(.pong(opaque)))
        case .pong(let opaque):
            self.pings.removeValue(forKey: opaque)?.succeed()
        case .goAway(let goAway):
            self.receivedGoAway(goAway)
        case .request, .cancel:
            break  // the decoder rejects them for a client
        }
    }

    private func receivedGoAway(_ goAway: GoAway) {
        if self.state == .awaitingHello {
            self.helloReceived.fail(TransportError(.connectFailed, "server refused the connection: \(goAway.errorCode) \(goAway.debug)"))
        }
        self.state = .goingAway
        let reason = goAway.errorCode == .noError ? "the server is going away" : "\(goAway.errorCode): \(goAway.debug)"
        for (callID, call) in self.pending where callID > goAway.lastCallID {
            self.pending[callID] = nil
            self.callIDs[call.key] = nil
            call.giveUp?.cancel()
            call.promise.fail(ClientConnection.notProcessed(reason))
        }
        for queued in self.queue { queued.promise.fail(ClientConnection.notProcessed(reason)) }
        self.queue.removeAll()
        self.closeIfIdle()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? WireError {
            context.writeAndFlush(
                self.wrapOutboundOut(.frame(.goAway(GoAway(lastCallID: 0, errorCode: error.goAwayErrorCode, debug: error.message)))),
                promise: nil
            )
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state = .closed
        self.helloReceived.fail(TransportError(.connectionClosed, "the connection closed before the server's HELLO"))
        for call in self.pending.values {
            call.giveUp?.cancel()
            call.promise.fail(ClientConnection.outcomeUnknown("the connection closed before its response"))
        }
        for queued in self.queue { queued.promise.fail(ClientConnection.notProcessed("the connection closed")) }
        for ping in self.pings.values { ping.fail(ClientConnection.unavailable("connection closed")) }
        self.pending.removeAll()
        self.callIDs.removeAll()
        self.queue.removeAll()
        self.pings.removeAll()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // A connect that failed never became active: settle the handshake promise here.
        self.helloReceived.fail(TransportError(.connectionClosed, "the connection closed before the server's HELLO"))
        self.context = nil
    }
}

/// A flag shared between a connection's handler and the threads that ask whether it is usable.
final class UsableFlag: Sendable {
    let flag = Atomic<Bool>(true)
}

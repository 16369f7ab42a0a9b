import Logging
import NIOCore
import RPCCodec
import RPCCore

/// The server side of one connection (SPEC.md sections 3-9), on the connection's event loop.
///
/// Answers HELLO, PING and protocol violations itself; hands each valid REQUEST to ``dispatch`` (answered
/// at once, started as a deferred call, or run in a task) and writes the RESPONSEs that come back through
/// its ``ResponseOutbox``. Enforces strictly increasing call
/// ids, the concurrent-call limit, the handshake and idle timeouts, and GOAWAY draining.
///
/// Backpressure: it stops reading the connection (withholds `read()`) while the channel is not writable
/// (more than its high-water mark, 64 KiB by default, of answers the peer has not read), and reads again
/// once it is. A peer that sends and never reads therefore holds at most a read's worth of frames, its
/// calls and 64 KiB of answers. Calls over the limit are answered RESOURCE_EXHAUSTED rather than left
/// unread, so that CANCEL and PING are always read.
final class ServerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = OutboundFrame
    typealias OutboundOut = OutboundFrame

    private enum State {
        case awaitingHello
        case open
        /// GOAWAY sent: calls above `lastCallID` are ignored; close once in-flight calls are answered.
        case draining(lastCallID: UInt32)
        case closed
    }

    private let configuration: ServerConfiguration
    private let connectionID: Int
    private let peer: PeerCredentials?
    private let dispatch: CallDispatch
    /// Tells the server's registry when the connection goes idle (no call in flight) or busy.
    private let reportIdle: @Sendable (Bool) -> Void
    private var logger: Logger

    private var state = State.awaitingHello
    /// The client's receive limits, from its HELLO: no RESPONSE is sent over them.
    private var peerLimits = WireLimits.defaults
    private var highestCallID: UInt32 = 0
    /// A call in flight, as it can be interrupted.
    private enum RunningCall {
        case task(CallCancellation)
        case deferred(DeferredCall)

        func interrupt(_ reason: CallInterrupt) {
            switch self {
            case .task(let cancellation): cancellation.fire(reason)
            case .deferred(let call): call.interrupt(reason)
            }
        }
    }

    /// Calls in flight, and the timer that interrupts each at its deadline.
    private var calls: [UInt32: (call: RunningCall, deadline: Scheduled<Void>?)] = [:]
    /// Where answers made elsewhere come back (set while the handler is in a pipeline).
    private var outbox: ResponseOutbox?
    /// Inside ``complete(_:)``: one flush at the end instead of one per answer.
    private var completingBatch = false
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var flushPending = false
    /// A `read()` withheld while reading is paused, to be issued when it resumes.
    private var readPending = false
    /// After a connection error nothing more is read (SPEC.md section 9.1).
    private var readsStopped = false
    /// The last RESPONSE or GOAWAY written: the connection closes once it is out.
    private var lastWrite: EventLoopFuture<Void>?
    /// When an immediate call (no slot) was last answered: it keeps the connection from idling out.
    private var lastImmediate: NIODeadline?
    private var lastIdleReport: NIODeadline = .distantPast
    /// How long a closing connection may take to hand its last answers to a slow reader.
    static let closeLinger: TimeAmount = .seconds(5)

    init(
        configuration: ServerConfiguration,
        connectionID: Int,
        peer: PeerCredentials?,
        logger: Logger,
        dispatch: CallDispatch,
        reportIdle: @escaping @Sendable (Bool) -> Void = { _ in }
    ) {
        self.reportIdle = reportIdle
        self.configuration = configuration
        self.connectionID = connectionID
        self.peer = peer
        self.logger = logger
        self.dispatch = dispatch
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.outbox = ResponseOutbox(handler: NIOLoopBound(self, eventLoop: context.eventLoop))
        if context.channel.isActive { self.start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard case .awaitingHello = self.state, self.timer == nil else { return }
        let hello = Hello(limits: self.configuration.limits, maxConcurrentCalls: UInt32(self.configuration.maxConcurrentCallsPerConnection))
        context.writeAndFlush(self.wrapOutboundOut(.frame(.hello(hello))), promise: nil)
        self.arm(after: self.configuration.handshakeTimeout) { handler in
            handler.connectionError(.handshakeFailed, "no HELLO within \(handler.configuration.handshakeTimeout)")
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .hello(let hello):
            guard hello.negotiatedVersion(with: Hello()) >= 1 else {
                self.connectionError(.handshakeFailed, "no common protocol version")
                return
            }
            self.peerLimits = hello.limits
            self.state = .open
            self.armIdleTimer()
        case .request(let callID, let payload):
            self.received(callID: callID, payload: payload)
        case .cancel(let callID):
            self.calls[callID]?.call.interrupt(.cancelled)
        case .ping(let opaque):
            context.writeAndFlush(self.wrapOutboundOut(.frame(.pong(opaque))), promise: nil)
        case .pong:
            break
        case .goAway:
            // The client sends no more calls; close once those in flight are answered.
            guard case .open = self.state else { break }
            self.state = .draining(lastCallID: self.highestCallID)
            self.closeIfDrained()
        case .response:
            break  // the decoder rejects it for a server
        }
    }

    private func received(callID: UInt32, payload: ByteBuffer) {
        guard callID > self.highestCallID else {
            self.connectionError(.protocolError, "call id \(callID) is not above \(self.highestCallID)")
            return
        }
        self.highestCallID = callID
        if case .draining(let last) = self.state, callID > last { return }

        let request: Request
        do {
            request = try Request(decoding: payload, limits: self.configuration.limits)
        } catch {
            self.logger.debug("rpc.malformed_request", metadata: ["rpc.call_id": "\(callID)", "error": "\(error)"])
            self.write(callID: callID, Response(code: error.statusCode, message: error.message))
            return
        }
        let incoming = IncomingCall(callID: callID, request: request, peer: self.peer, connectionID: self.connectionID)
        // Health and the like are answered here and now: no slot, no task.
        if let response = self.dispatch.answerNow(incoming) {
            self.write(callID: callID, response)
            self.immediateAnswered()
            return
        }
        guard self.calls.count < self.configuration.maxConcurrentCallsPerConnection else {
            self.write(
                callID: callID,
                Response(
                    code: StatusCode.resourceExhausted.rawValue,
                    message: "Too many concurrent calls on this connection (limit \(self.configuration.maxConcurrentCallsPerConnection))."
                )
            )
            return
        }
        guard let context = self.context, let outbox = self.outbox else { return }
        let running: RunningCall
        if let call = self.dispatch.startDeferred(incoming, outbox) {
            running = .deferred(call)
        } else {
            let cancellation = CallCancellation()
            running = .task(cancellation)
            self.dispatch.enqueue(
                CallJob(
                    callID: callID, request: request, receivedAt: .now, peer: self.peer, connectionID: self.connectionID,
                    outbox: outbox, cancellation: cancellation
                )
            )
        }
        // The deadline fires on this event loop; the answer to it comes back through the outbox.
        let deadline = request.timeoutMilliseconds.map { timeout in
            context.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout))) { running.interrupt(.deadlineExceeded) }
        }
        if self.calls.isEmpty { self.reportIdle(false) }
        self.calls[callID] = (running, deadline)
        self.timer?.cancel()
        self.timer = nil
    }

    /// Writes the RESPONSEs that came back through the outbox, with one flush.
    func complete(_ batch: [(callID: UInt32, response: Response)]) {
        self.completingBatch = true
        for (callID, response) in batch { self.complete(callID: callID, response) }
        self.completingBatch = false
        self.context?.flush()
    }

    /// Writes a call's RESPONSE (once) and closes a drained connection.
    func complete(callID: UInt32, _ response: Response) {
        guard let call = self.calls.removeValue(forKey: callID) else { return }
        call.deadline?.cancel()
        self.write(callID: callID, response)
        if self.calls.isEmpty {
            self.reportIdle(true)
            if !self.closeIfDrained() { self.armIdleTimer() }
        }
        self.resumeReadingIfPossible()
    }

    // MARK: backpressure

    private var isReadingPaused: Bool {
        guard let context = self.context else { return false }
        return self.readsStopped || !context.channel.isWritable
    }

    /// An immediate call is activity: the connection is not idle (for the idle timeout and for eviction).
    /// The registry hears of it at most once a second.
    private func immediateAnswered() {
        let now = NIODeadline.now()
        self.lastImmediate = now
        if self.calls.isEmpty, now - self.lastIdleReport > .seconds(1) {
            self.lastIdleReport = now
            self.reportIdle(true)
        }
    }

    func read(context: ChannelHandlerContext) {
        if self.isReadingPaused {
            self.readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.resumeReadingIfPossible()
        context.fireChannelWritabilityChanged()
    }

    private func resumeReadingIfPossible() {
        guard self.readPending, !self.isReadingPaused, let context = self.context else { return }
        self.readPending = false
        context.read()
    }

    /// Sends GOAWAY NO_ERROR with the highest call id received, then closes once calls are answered.
    func beginDrain(reason: String = "server shutting down") {
        switch self.state {
        case .open, .awaitingHello:
            self.state = .draining(lastCallID: self.highestCallID)
            self.context?.writeAndFlush(
                self.wrapOutboundOut(.frame(.goAway(GoAway(lastCallID: self.highestCallID, errorCode: .noError, debug: reason)))),
                promise: nil
            )
            self.closeIfDrained()
        case .draining, .closed:
            break
        }
    }

    /// Closes a draining connection once its calls are answered: after its last answer is written (or
    /// ``closeLinger`` has passed, for a peer that does not read), so that no answer is dropped.
    @discardableResult
    private func closeIfDrained() -> Bool {
        guard case .draining = self.state, self.calls.isEmpty, let context = self.context else { return false }
        self.state = .closed
        context.flush()
        let linger = context.eventLoop.scheduleTask(in: Self.closeLinger) { context.close(promise: nil) }
        if let lastWrite = self.lastWrite {
            lastWrite.hop(to: context.eventLoop).assumeIsolated().whenComplete { _ in
                linger.cancel()
                context.close(promise: nil)
            }
        } else {
            linger.cancel()
            context.close(promise: nil)
        }
        return true
    }

    private func write(callID: UInt32, _ response: Response) {
        guard let context = self.context, context.channel.isActive else { return }
        var response = response
        // A response over the client's limits would be a connection error on its side, failing every
        // call: it fails this call only (SPEC.md section 4.1).
        if response.encodedLength > self.peerLimits.maxFrameSize || response.metadata.userEncodedLength > self.peerLimits.maxMetadataSize {
            response = Response(
                code: StatusCode.resourceExhausted.rawValue,
                message: "The response of \(response.encodedLength) bytes is over the client's limits (frame \(self.peerLimits.maxFrameSize), metadata \(self.peerLimits.maxMetadataSize))."
            )
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.write(self.wrapOutboundOut(.response(callID: callID, response)), promise: written)
        self.lastWrite = written.futureResult
        // Responses that complete in the same event-loop tick share one flush (one syscall).
        guard !self.flushPending, !self.completingBatch else { return }
        self.flushPending = true
        context.eventLoop.assumeIsolated().execute {
            self.flushPending = false
            self.context?.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After a connection error the decoder refuses whatever bytes still come; the calls GOAWAY named
        // are being answered, so those refusals are not a reason to close early.
        if self.readsStopped, !(error is IOError) { return }
        if let error = error as? WireError {
            self.logger.info("rpc.connection_error", metadata: ["error.code": "\(error.code)", "error.message": "\(error.message)"])
            self.connectionError(error.goAwayErrorCode, error.message)
        } else {
            self.logger.debug("rpc.connection_failed", metadata: ["error": "\(error)"])
            self.state = .closed
            context.close(promise: nil)
        }
    }

    /// Sends GOAWAY with `code`, reads nothing more, answers the calls already running (the GOAWAY's
    /// `last_call_id` names the highest of them: each will be answered), then closes (SPEC.md 9.1).
    private func connectionError(_ code: GoAway.ErrorCode, _ message: String) {
        guard let context = self.context, !self.readsStopped else { return }
        if case .closed = self.state { return }
        self.readsStopped = true
        let lastCallID = self.calls.keys.max() ?? 0
        self.state = .draining(lastCallID: lastCallID)
        let goAway = GoAway(lastCallID: lastCallID, errorCode: code, debug: message)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(.frame(.goAway(goAway))), promise: written)
        self.lastWrite = written.futureResult
        self.closeIfDrained()
    }

    /// The peer shut down its sending side (or closed): with no partial frame left, that is the end of
    /// its calls, and those already received are answered before the connection closes.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            switch self.state {
            case .awaitingHello:
                self.state = .closed
                context.close(promise: nil)
            case .open:
                self.state = .draining(lastCallID: self.highestCallID)
                self.closeIfDrained()
            case .draining, .closed:
                break
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state = .closed
        self.timer?.cancel()
        for call in self.calls.values {
            call.deadline?.cancel()
            call.call.interrupt(.cancelled)
        }
        self.calls.removeAll()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.outbox = nil  // it refers back to this handler
    }

    private func armIdleTimer(after delay: Duration? = nil) {
        guard case .open = self.state else { return }
        self.arm(after: delay ?? self.configuration.idleTimeout) { handler in
            // Immediate calls do not re-arm the timer (that would cost a timer per call): it checks them
            // when it fires.
            if let last = handler.lastImmediate {
                let quiet = NIODeadline.now() - last
                let idle = TimeAmount(handler.configuration.idleTimeout)
                if quiet < idle {
                    handler.armIdleTimer(after: .nanoseconds((idle - quiet).nanoseconds))
                    return
                }
            }
            handler.logger.debug("rpc.connection_idle")
            handler.beginDrain(reason: "idle timeout")
        }
    }

    private func arm(after delay: Duration, _ body: @escaping (ServerConnectionHandler) -> Void) {
        guard let context = self.context else { return }
        self.timer?.cancel()
        let bound = NIOLoopBound((handler: self, body: body), eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(in: TimeAmount(delay)) { bound.value.body(bound.value.handler) }
    }
}

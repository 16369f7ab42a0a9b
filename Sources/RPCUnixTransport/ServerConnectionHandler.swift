import Logging
import NIOCore
import RPCCodec
import RPCCore

/// The server side of one connection, on the connection's event loop: performs what
/// ``ServerConnectionStateMachine`` (where the rules of SPEC.md sections 3-9 live) decides.
///
/// Answers HELLO and PING itself; hands each valid REQUEST to the server's ``ServerCallExecutor``
/// (answered at once, or started, once the connection's and the server's limits admit it) and writes
/// the RESPONSEs that come back through its ``ResponseOutbox``.
///
/// Server-streaming calls (version 2, SPEC.md section 16): a REQUEST with the STREAM flag starts the
/// method's stream handler; its messages come back through the outbox, in order before its answer, as
/// the client's CREDIT allows; a CREDIT that would give a stream more unused credit than the server's
/// `MAX_STREAM_CREDIT` is a connection error. Streams are ended (UNAVAILABLE) when the connection goes
/// away, since they may never end by themselves.
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

    private let configuration: ServerConfiguration
    private let connectionID: Int
    private let peer: PeerCredentials?
    private let executor: ServerCallExecutor
    /// The server-wide bound on calls in flight (the machine decides when a unit is taken and returned).
    private let budget: CallBudget
    /// The server-wide bound on streams.
    private let streamBudget: CallBudget
    /// Tells the server's registry when the connection goes idle (no call in flight) or busy.
    private let reportIdle: @Sendable (Bool) -> Void
    private var logger: Logger

    /// A call in flight: how to interrupt it and, for a stream, where its credit goes.
    struct RunningCall {
        var call: DeferredCall
        var stream: ServerStream?
    }

    private var machine: ServerConnectionStateMachine<RunningCall>
    private var context: ChannelHandlerContext?
    /// Where answers made elsewhere come back (set while the handler is in a pipeline).
    private var outbox: ResponseOutbox?
    /// The handshake or idle timer.
    private var timer: Scheduled<Void>?
    /// The one timer for every call's deadline (``ServerConnectionStateMachine/deadlineTimerFired(now:)``).
    private var deadlineTimer: Scheduled<Void>?
    /// Streams ended for a message over the client's frame limit: their later messages, already on their
    /// way, are dropped until their answer (no gap: nothing after the message that could not go).
    private var failedStreams: Set<UInt32> = []
    /// The last RESPONSE or GOAWAY written: the connection closes once it is out.
    private var lastWrite: EventLoopFuture<Void>?
    /// How long a closing connection may take to hand its last answers to a slow reader.
    static let closeLinger: TimeAmount = .seconds(5)

    init(
        configuration: ServerConfiguration,
        connectionID: Int,
        peer: PeerCredentials?,
        logger: Logger,
        executor: ServerCallExecutor,
        budget: CallBudget,
        streamBudget: CallBudget = CallBudget(limit: 64),
        reportIdle: @escaping @Sendable (Bool) -> Void = { _ in }
    ) {
        self.budget = budget
        self.streamBudget = streamBudget
        self.reportIdle = reportIdle
        self.configuration = configuration
        self.connectionID = connectionID
        self.peer = peer
        self.logger = logger
        self.executor = executor
        self.machine = ServerConnectionStateMachine(
            maxConcurrentCalls: configuration.maxConcurrentCallsPerConnection,
            idleTimeout: TimeAmount(configuration.idleTimeout)
        )
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
        guard self.machine.phase == .awaitingHello, self.timer == nil else { return }
        let hello = Hello(
            limits: self.configuration.limits,
            maxConcurrentCalls: UInt32(self.configuration.maxConcurrentCallsPerConnection),
            maxStreamCredit: UInt32(self.configuration.maxStreamCredit),
            version: self.configuration.protocolVersion
        )
        context.writeAndFlush(self.wrapOutboundOut(.frame(.hello(hello))), promise: nil)
        self.arm(after: TimeAmount(self.configuration.handshakeTimeout)) { handler, _ in
            handler.connectionError(.handshakeFailed, "no HELLO within \(handler.configuration.handshakeTimeout)")
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        _ = self.machine.beginWriting()  // ended by channelReadComplete (or the end of input)
        switch self.unwrapInboundIn(data) {
        case .hello(let hello):
            switch self.machine.receivedHello(hello) {
            case .startIdleTimer: self.armIdleTimer()
            case .connectionError(let code, let message): self.connectionError(code, message)
            }
        case .request(let callID, let payload):
            self.received(callID: callID, payload: payload, isStream: false)
        case .streamRequest(let callID, let payload):
            self.received(callID: callID, payload: payload, isStream: true)
        case .cancel(let callID):
            self.machine.cancelReceived(callID: callID)?.call.interrupt(.cancelled)
        case .credit(let callID, let increment):
            guard let stream = self.machine.runningStream(callID: callID)?.stream else { break }  // crossed the answer: ignored
            if !stream.grant(Int(increment)) {
                self.connectionError(
                    .protocolError, "CREDIT_OVERFLOW: CREDIT of \(increment) on call \(callID) exceeds MAX_STREAM_CREDIT \(stream.maxCredit)"
                )
            }
        case .ping(let opaque):
            context.write(self.wrapOutboundOut(.frame(.pong(opaque))), promise: nil)
            _ = self.machine.wrote()
        case .pong:
            break
        case .goAway:
            if self.machine.goAwayReceived() { self.close() }
        case .response, .streamMessage:
            break  // the decoder rejects them for a server
        }
    }

    /// The end of a read: everything answered while reading goes out in one flush.
    func channelReadComplete(context: ChannelHandlerContext) {
        if self.machine.endWriting(wasDeferred: false) { context.flush() }
        context.fireChannelReadComplete()
    }

    /// A REQUEST (with the STREAM flag when `isStream`): processed, ignored after GOAWAY, or a connection
    /// error when its call id does not increase.
    private func received(callID: UInt32, payload: ByteBuffer, isStream: Bool) {
        switch self.machine.receivedRequest(callID: callID) {
        case .process: self.process(callID: callID, payload: payload, isStream: isStream)
        case .ignore: break
        case .connectionError(let code, let message): self.connectionError(code, message)
        }
    }

    private func process(callID: UInt32, payload: ByteBuffer, isStream: Bool) {
        let request: Request
        do {
            request = try Request(decoding: payload, limits: self.configuration.limits)
        } catch {
            self.logger.debug("rpc.malformed_request", metadata: ["rpc.call_id": "\(callID)", "error": "\(error)"])
            let refusal = RPCError(code: RPCError.Code(StatusCode(rawValue: error.statusCode)) ?? .internal, message: error.message)
            self.write(callID: callID, Response(self.executor.refuse(method: "", refusal, reason: error.code.name)))
            return
        }
        let call = ServerCall(callID: callID, request, peer: self.peer, connectionID: self.connectionID, isStream: isStream)
        // Health and the like are answered here and now: no slot, no task.
        let route: RPCRouter.Route
        switch self.executor.prepare(call) {
        case .answered(let answer):
            self.write(callID: callID, Response(answer))
            self.immediateAnswered()
            return
        case .start(let found):
            route = found
        }
        let refusal: RPCError
        let admission = self.machine.admitCall(
            stream: isStream, acquireBudget: self.budget.acquire, acquireStreamUnit: self.streamBudget.acquire,
            releaseStreamUnit: { self.streamBudget.release() }
        )
        switch admission {
        case .start:
            guard let context = self.context, let outbox = self.outbox else {
                self.budget.release()
                if isStream { self.streamBudget.release() }
                return
            }
            self.start(call, route: route, timeoutMilliseconds: request.timeoutMilliseconds, outbox: outbox, on: context.eventLoop)
            return
        case .refuseStreamLimit:
            refusal = RPCError(code: .resourceExhausted, message: "The server is at its limit of \(self.streamBudget.limit) streams; retry later.")
        case .refuseConnectionLimit:
            refusal = RPCError(
                code: .resourceExhausted,
                message: "Too many concurrent calls on this connection (limit \(self.configuration.maxConcurrentCallsPerConnection))."
            )
        case .refuseServerLimit:
            refusal = RPCError(code: .resourceExhausted, message: "The server is at its limit of \(self.budget.limit) calls in flight; retry later.")
        }
        self.write(callID: callID, Response(self.executor.refuse(call, refusal)))
    }

    private func start(_ call: ServerCall, route: RPCRouter.Route, timeoutMilliseconds: UInt32?, outbox: ResponseOutbox, on eventLoop: any EventLoop) {
        let callID = call.callID
        let running: RunningCall
        if case .streaming(let handler) = route {
            let (deferred, stream) = self.executor.startStream(
                call, handler: handler, initialCredit: 0, maxCredit: self.configuration.maxStreamCredit, on: outbox
            )
            running = RunningCall(call: deferred, stream: stream)
        } else {
            running = RunningCall(call: self.executor.start(call, route: route, on: outbox))
        }
        let deadline = timeoutMilliseconds.map { eventLoop.now + .milliseconds(Int64($0)) }
        let started = self.machine.callStarted(callID, running, deadline: deadline, stream: running.stream != nil)
        if started.becameBusy {
            self.reportIdle(false)
            self.timer?.cancel()
            self.timer = nil
        }
        if let at = started.armDeadlineTimer { self.armDeadlineTimer(at: at, on: eventLoop) }
    }

    /// Writes the STREAM_MESSAGEs and RESPONSEs that came back through the outbox, in order, with one flush.
    func complete(_ batch: [ResponseOutbox.Outgoing]) {
        let wasDeferred = self.machine.beginWriting()
        for outgoing in batch {
            switch outgoing {
            case .answer(let callID, let answer): self.complete(callID: callID, answer)
            case .message(let callID, let message): self.writeStreamMessage(callID: callID, message)
            }
        }
        if self.machine.endWriting(wasDeferred: wasDeferred) { self.context?.flush() }
    }

    /// Writes one message of a stream still in flight (a message of a call answered or abandoned is
    /// dropped). One over the client's frame limit ends the stream RESOURCE_EXHAUSTED instead (SPEC.md 16).
    private func writeStreamMessage(callID: UInt32, _ message: [UInt8]) {
        guard let context = self.context, context.channel.isActive, let running = self.machine.runningStream(callID: callID),
            !self.failedStreams.contains(callID)
        else { return }
        guard message.count <= self.machine.peerLimits.maxFrameSize else {
            self.failedStreams.insert(callID)
            running.stream?.interrupt()
            running.call.finish(
                .failure(
                    RPCError(
                        code: .resourceExhausted,
                        message: "A stream message of \(message.count) bytes is over the client's frame limit of \(self.machine.peerLimits.maxFrameSize) bytes."
                    )
                )
            )
            return
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.write(self.wrapOutboundOut(.streamMessage(callID: callID, message)), promise: written)
        self.lastWrite = written.futureResult
        if self.machine.wrote() { context.flush() }
    }

    /// Writes a call's RESPONSE (once) and closes a drained connection.
    private func complete(callID: UInt32, _ answer: PendingAnswer) {
        if self.machine.streamEnded(callID) {
            self.streamBudget.release()
            self.failedStreams.remove(callID)
        }
        switch self.machine.callAnswered(callID) {
        case .write(let becameIdle, let close, let startIdleTimer):
            self.budget.release()
            self.write(callID: callID, Response(answer.resolve()))
            if becameIdle { self.reportIdle(true) }
            if close { self.close() }
            if startIdleTimer { self.armIdleTimer() }
            self.resumeReadingIfPossible()
        case .releaseOnly:
            // A call of a closed connection: nobody to answer, but it is counted as it really ended.
            self.budget.release()
            _ = answer.resolve()
        case .none:
            break
        }
    }

    // MARK: backpressure

    /// An immediate call is activity: the connection is not idle (for the idle timeout and for eviction).
    private func immediateAnswered() {
        guard let context = self.context else { return }
        if self.machine.immediateCallAnswered(at: context.eventLoop.now) { self.reportIdle(true) }
    }

    func read(context: ChannelHandlerContext) {
        if self.machine.readRequested(isWritable: context.channel.isWritable) { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.outbox?.writability?.set(writable: context.channel.isWritable)
        self.resumeReadingIfPossible()
        context.fireChannelWritabilityChanged()
    }

    private func resumeReadingIfPossible() {
        guard let context = self.context, self.machine.readMayResume(isWritable: context.channel.isWritable) else { return }
        context.read()
    }

    // MARK: ending

    /// Sends GOAWAY NO_ERROR with the highest call id received, then closes once calls are answered.
    func beginDrain(reason: String = "server shutting down") {
        guard let context = self.context, case .sendGoAway(let lastCallID, let close) = self.machine.beginDrain() else { return }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(
            self.wrapOutboundOut(.frame(.goAway(GoAway(lastCallID: lastCallID, errorCode: .noError, debug: reason)))),
            promise: written
        )
        self.lastWrite = written.futureResult
        self.endStreams()
        if close { self.close() }
    }

    /// The connection goes away: its streams, which may never end by themselves, end now (UNAVAILABLE:
    /// the client calls again on a new connection, from where it left off); unary calls are answered.
    private func endStreams() {
        for running in self.machine.streamsInFlight { running.call.interrupt(.goingAway) }
    }

    /// Closes the connection after its last answer is written (or ``closeLinger`` has passed, for a peer
    /// that does not read), so that no answer is dropped.
    private func close() {
        guard let context = self.context else { return }
        context.flush()
        let channel = context.channel
        let linger = context.eventLoop.scheduleTask(in: Self.closeLinger) { channel.close(promise: nil) }
        if let lastWrite = self.lastWrite {
            lastWrite.hop(to: context.eventLoop).assumeIsolated().whenComplete { _ in
                linger.cancel()
                context.close(promise: nil)
            }
        } else {
            linger.cancel()
            context.close(promise: nil)
        }
    }

    private func write(callID: UInt32, _ response: Response) {
        guard let context = self.context, context.channel.isActive else { return }
        var response = response
        if !self.machine.fitsPeerLimits(frameSize: response.encodedLength, metadataSize: response.metadata.userEncodedLength) {
            let limits = self.machine.peerLimits
            response = Response(
                code: StatusCode.resourceExhausted.rawValue,
                message: "The response of \(response.encodedLength) bytes is over the client's limits (frame \(limits.maxFrameSize), metadata \(limits.maxMetadataSize))."
            )
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.write(self.wrapOutboundOut(.response(callID: callID, response)), promise: written)
        self.lastWrite = written.futureResult
        if self.machine.wrote() { context.flush() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After a connection error the decoder refuses whatever bytes still come; the calls GOAWAY named
        // are being answered, so those refusals are not a reason to close early.
        if self.machine.ignoresDecodingErrors, !(error is IOError) { return }
        if let error = error as? WireError {
            self.logger.info("rpc.connection_error", metadata: ["error.code": "\(error.code)", "error.message": "\(error.message)"])
            self.connectionError(error.goAwayErrorCode, error.message)
        } else {
            self.logger.debug("rpc.connection_failed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    /// Sends GOAWAY with `code`, reads nothing more, answers the calls already running (the GOAWAY's
    /// `last_call_id` names the highest of them: each will be answered), then closes (SPEC.md 9.1).
    private func connectionError(_ code: GoAway.ErrorCode, _ message: String) {
        guard let context = self.context, case .sendGoAway(let goAway, let close) = self.machine.connectionError(code, message) else {
            return
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(.frame(.goAway(goAway))), promise: written)
        self.lastWrite = written.futureResult
        self.endStreams()
        if close { self.close() }
    }

    /// The peer shut down its sending side (or closed): with no partial frame left, that is the end of
    /// its calls, and those already received are answered before the connection closes.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            // Frames decoded at the end of the stream may come without a channelReadComplete.
            if self.machine.endWriting(wasDeferred: false) { context.flush() }
            if self.machine.inputClosed() == .close { self.close() }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.deadlineTimer?.cancel()
        for running in self.machine.channelClosed() { running.call.interrupt(.cancelled) }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.outbox = nil  // it refers back to this handler
    }

    // MARK: timers

    private func armDeadlineTimer(at deadline: NIODeadline, on eventLoop: any EventLoop) {
        self.deadlineTimer?.cancel()
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        self.deadlineTimer = eventLoop.scheduleTask(deadline: deadline) {
            let handler = bound.value
            let (expired, next) = handler.machine.deadlineTimerFired(now: eventLoop.now)
            for running in expired { running.call.interrupt(.deadlineExceeded) }
            if let next { handler.armDeadlineTimer(at: next, on: eventLoop) } else { handler.deadlineTimer = nil }
        }
    }

    private func armIdleTimer(after delay: TimeAmount? = nil) {
        guard self.machine.phase == .open else { return }
        self.arm(after: delay ?? TimeAmount(self.configuration.idleTimeout)) { handler, now in
            switch handler.machine.idleTimerFired(now: now) {
            case .drain:
                handler.logger.debug("rpc.connection_idle")
                handler.beginDrain(reason: "idle timeout")
            case .armAgain(let after):
                handler.armIdleTimer(after: after)
            case .none:
                break
            }
        }
    }

    /// Sets the handshake or idle timer; `body` gets the event loop's time when it fires.
    private func arm(after delay: TimeAmount, _ body: @escaping (ServerConnectionHandler, NIODeadline) -> Void) {
        guard let context = self.context else { return }
        self.timer?.cancel()
        let eventLoop = context.eventLoop
        let bound = NIOLoopBound((handler: self, body: body), eventLoop: eventLoop)
        self.timer = eventLoop.scheduleTask(in: delay) { bound.value.body(bound.value.handler, eventLoop.now) }
    }
}

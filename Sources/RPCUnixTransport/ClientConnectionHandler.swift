import NIOCore
import RPCCodec
import RPCCore
import Synchronization

/// The client side of one connection, on its event loop: performs what ``ClientConnectionStateMachine``
/// (where the rules of SPEC.md sections 2.1, 5, 8 and 9 live) decides: writes REQUESTs, CANCELs and
/// GOAWAY, completes each call's promise, runs the timers that give up on a call whose answer does not
/// come after its deadline or cancellation, and answers PINGs.
final class ClientConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = OutboundFrame

    private var machine: ClientConnectionStateMachine<PendingCall> {
        didSet { self.usable.flag.store(self.machine.isUsable, ordering: .relaxed) }
    }
    /// The credit a stream starts with (at most the server's `MAX_STREAM_CREDIT`); read messages are
    /// granted back once half of it is read.
    private let streamWindow: Int
    /// Per stream: messages read and not yet granted back.
    private var readSinceGrant: [UInt32: Int] = [:]
    /// The give-up timers of calls past their deadline or cancellation, by call id.
    private var giveUpTimers: [UInt32: Scheduled<Void>] = [:]
    private var pings: [UInt64: EventLoopPromise<Void>] = [:]
    private var context: ChannelHandlerContext?
    private var flushPending = false
    private let limits: WireLimits
    let helloReceived: EventLoopPromise<Void>
    /// Mirrors the machine's ``ClientConnectionStateMachine/isUsable`` for readers on other threads.
    let usable: UsableFlag

    init(limits: WireLimits, eventLoop: any EventLoop, usable: UsableFlag, version: UInt16 = Hello.currentVersion, streamWindow: Int = 64) {
        self.machine = ClientConnectionStateMachine(version: version)
        self.streamWindow = max(1, streamWindow)
        self.limits = limits
        self.helloReceived = eventLoop.makePromise()
        self.usable = usable
    }

    /// Whether new calls can go on this connection.
    var isUsable: Bool { self.machine.isUsable }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.sendHello(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.sendHello(context)
        context.fireChannelActive()
    }

    private func sendHello(_ context: ChannelHandlerContext) {
        context.writeAndFlush(self.wrapOutboundOut(.frame(.hello(Hello(limits: self.limits, version: self.machine.ownVersion)))), promise: nil)
    }

    // MARK: calls

    /// Starts a call, or queues it while the server's concurrency limit is reached, or, before the
    /// server's HELLO, while it is over ``WireLimits/maxFrameSizeBeforePeerHello`` (SPEC.md 2.1).
    func start(key: Int, request: Request, call: PendingCall) {
        switch self.machine.start(key: key, request: request, call: call) {
        case .send(let callID, let request): self.send(callID: callID, request)
        case .queued: break
        case .fail(let call, let error): call.fail(error)
        }
    }

    /// Writes a REQUEST; a stream's is followed by its first CREDIT (SPEC.md section 16).
    private func send(callID: UInt32, _ request: Request) {
        self.write(.request(callID: callID, request))
        guard request.isStream else { return }
        self.readSinceGrant[callID] = 0
        self.write(.frame(.credit(callID: callID, increment: UInt32(min(self.streamWindow, self.machine.maxStreamCredit)))))
    }

    /// The caller read one message of stream `key`: once half the window is read, it is granted back.
    func streamMessageRead(key: Int) {
        guard let callID = self.machine.creditCallID(key: key), let read = self.readSinceGrant[callID] else { return }
        let window = min(self.streamWindow, self.machine.maxStreamCredit)
        guard read + 1 >= max(1, window / 2) else {
            self.readSinceGrant[callID] = read + 1
            return
        }
        self.readSinceGrant[callID] = 0
        self.write(.frame(.credit(callID: callID, increment: UInt32(read + 1))))
    }

    /// The call's deadline passed, or its caller was cancelled (`error`). A call still queued was never
    /// sent: it fails with `error` now. A call sent is left to the server, which answers what really
    /// happened (SPEC.md section 8): on a deadline the server stops it by itself; on a cancellation it
    /// is sent CANCEL. Only when that answer does not come within `answerGrace` is the call given up on,
    /// as UNKNOWN: it may or may not have taken effect.
    func interrupt(key: Int, with error: RPCError, answerGrace: Duration) {
        switch self.machine.interrupt(key: key, error: error) {
        case .fail(let call, let error):
            call.fail(error)
        case .awaitAnswer(let callID, let sendCancel):
            guard let eventLoop = self.context?.eventLoop else { return }
            if sendCancel { self.write(.frame(.cancel(callID: callID))) }
            let what = sendCancel ? "cancellation" : "deadline"
            self.giveUpTimers[callID] = eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(answerGrace)) {
                self.giveUp(key: key, with: ClientConnection.outcomeUnknown("the server did not answer within \(answerGrace) of the call's \(what)"))
            }
        case .none:
            break
        }
    }

    /// Gives up on a call: fails it with `error` and, if it was sent, tells the server (CANCEL).
    func giveUp(key: Int, with error: RPCError) {
        switch self.machine.giveUp(key: key, error: error) {
        case .fail(let call, let error):
            call.fail(error)
        case .failSent(let call, let error, let callID):
            self.giveUpTimers.removeValue(forKey: callID)?.cancel()
            self.readSinceGrant[callID] = nil
            call.fail(error)
            self.write(.frame(.cancel(callID: callID)))
            self.callFinished()
        case .none:
            break
        }
    }

    func ping(opaque: UInt64, promise: EventLoopPromise<Void>) {
        guard self.machine.phase != .closed else {
            promise.fail(ClientConnection.unavailable("connection closed"))
            return
        }
        self.pings[opaque] = promise
        self.write(.frame(.ping(opaque)))
    }

    /// Sends GOAWAY and closes once every call is answered.
    func goAway() {
        guard let failed = self.machine.goAway() else { return }
        for (call, error) in failed { call.fail(error) }
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

    /// A slot is free (or the connection opened): sends the queued calls that may go now.
    private func callFinished() {
        while let next = self.machine.nextToSend() {
            switch next {
            case .send(let callID, let request): self.send(callID: callID, request)
            case .fail(let call, let error): call.fail(error)
            }
        }
        self.closeIfIdle()
    }

    private func closeIfIdle() {
        guard let context = self.context, self.machine.closeIfIdle() else { return }
        context.flush()
        context.close(promise: nil)
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .hello(let hello):
            self.machine.receivedHello(hello)
            self.helloReceived.succeed()
            self.callFinished()
        case .response(let callID, let payload):
            guard let call = self.machine.receivedResponse(callID: callID) else { return }  // given up on or unknown: ignored
            self.giveUpTimers.removeValue(forKey: callID)?.cancel()
            self.readSinceGrant[callID] = nil
            do {
                call.succeed(try Response(decoding: payload, limits: self.limits))
            } catch {
                call.fail(RPCError(code: .internal, message: "Malformed response: \(error.message)"))
            }
            self.callFinished()
        case .streamMessage(let callID, let payload):
            // Not a stream still read (unknown, answered, cancelled): ignored.
            guard case .stream(let source)? = self.machine.receivedStreamMessage(callID: callID) else { return }
            source.yield(Array(payload.readableBytesView))
        case .ping(let opaque):
            self.write(.frame(.pong(opaque)))
        case .pong(let opaque):
            self.pings.removeValue(forKey: opaque)?.succeed()
        case .goAway(let goAway):
            let outcome = self.machine.receivedGoAway(goAway)
            if outcome.beforeHello {
                if goAway.errorCode == .noError {
                    self.helloReceived.fail(TransportError(.serverGoingAway, "the server is shutting down: \(goAway.debug)"))
                } else {
                    self.helloReceived.fail(TransportError(.connectFailed, "server refused the connection: \(goAway.errorCode) \(goAway.debug)"))
                }
            }
            for callID in outcome.notProcessedIDs { self.giveUpTimers.removeValue(forKey: callID)?.cancel() }
            for (call, error) in outcome.notProcessed { call.fail(error) }
            self.closeIfIdle()
        case .request, .streamRequest, .cancel, .credit:
            break  // the decoder rejects them for a client
        }
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
        self.helloReceived.fail(TransportError(.connectionClosed, "the connection closed before the server's HELLO"))
        for timer in self.giveUpTimers.values { timer.cancel() }
        self.giveUpTimers.removeAll()
        for (call, error) in self.machine.channelClosed() { call.fail(error) }
        for ping in self.pings.values { ping.fail(ClientConnection.unavailable("connection closed")) }
        self.pings.removeAll()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // A connect that failed never became active: settle the handshake promise here.
        self.helloReceived.fail(TransportError(.connectionClosed, "the connection closed before the server's HELLO"))
        self.context = nil
    }
}

/// What a call sent on a connection completes: a unary call's promise, or a stream's source.
enum PendingCall {
    case unary(EventLoopPromise<Response>)
    case stream(ClientStreamSource)

    func fail(_ error: RPCError) {
        switch self {
        case .unary(let promise): promise.fail(error)
        case .stream(let source): source.finish(throwing: error)
        }
    }

    /// The call's RESPONSE: a unary call gets it whole; a stream ends with its status (OK finishes the
    /// messages; any other status is thrown after them, with the response metadata).
    func succeed(_ response: Response) {
        switch self {
        case .unary(let promise):
            promise.succeed(response)
        case .stream(let source):
            if let code = RPCError.Code(StatusCode(rawValue: response.code).normalized) {
                source.finish(throwing: RPCError(code: code, message: response.message, metadata: Metadata(response.metadata)))
            } else {
                source.finish()
            }
        }
    }
}

/// A flag shared between a connection's handler and the threads that ask whether it is usable.
final class UsableFlag: Sendable {
    let flag = Atomic<Bool>(true)
}

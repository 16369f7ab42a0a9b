import NIOCore

/// The first handler of every guarded HTTP connection (``GuardedHTTP1Channel``), on its raw bytes: runs the deadlines of
/// ``SlowClientStateMachine`` (closing a connection whose head, body or idle time runs out) and a write
/// deadline (a response must be taken by the peer within the body timeout of its head: a client that
/// never reads is cut), refuses a connection over the cap with a 503, and closes a connection after a
/// `Connection: close` request or response without reading the rest of an unread body.
///
/// ``RequestPhaseHandler``, after the HTTP codec, tells it when a head, a request end and a response end
/// pass, as ``RequestPhase`` user outbound events. Both run on the connection's event loop.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How long a connection being closed may keep its read side, so that the peer reads the last
    /// response before the close resets the connection.
    static let linger: TimeAmount = .seconds(1)

    private let timeouts: SlowClientStateMachine.Timeouts
    private let isOverCapacity: Bool
    private var machine = SlowClientStateMachine()
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var running: SlowClientStateMachine.Timer = .none
    /// Runs from a response's head to its end.
    private var writeTimer: Scheduled<Void>?
    private var started = false
    /// Once closing, nothing more is read from the peer.
    private var closing = false

    init(timeouts: SlowClientStateMachine.Timeouts, isOverCapacity: Bool) {
        self.timeouts = timeouts
        self.isOverCapacity = isOverCapacity
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.start(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.writeTimer?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.writeTimer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if self.closing { return }  // an unread body after the answer: dropped, never parsed
        self.apply(self.machine.bytesReceived())
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        if !self.closing { context.read() }
    }

    // MARK: events from RequestPhaseHandler

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let phase = event as? RequestPhase else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch phase {
        case .attach: break
        case .headReceived: self.headReceived()
        case .requestEnded: self.requestEnded()
        case .responseStarted: self.responseStarted()
        case .responseEnded(let close): self.responseEnded(close: close)
        }
        promise?.succeed()
    }

    private func headReceived() {
        self.apply(self.machine.headReceived())
    }

    private func requestEnded() {
        self.apply(self.machine.requestEnded())
    }

    /// A response's head is being written: the peer must take the whole response within the body timeout.
    private func responseStarted() {
        guard let context, self.writeTimer == nil else { return }
        self.writeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(self.timeouts.body)) {
            context.close(promise: nil)
        }
    }

    /// A response was written to its end; `close` when it or its request said `Connection: close`.
    private func responseEnded(close: Bool) {
        self.writeTimer?.cancel()
        self.writeTimer = nil
        if close {
            self.closeGracefully()
        } else {
            self.apply(self.machine.responseEnded())
        }
    }

    // MARK: actions

    private func start(context: ChannelHandlerContext) {
        guard !self.started else { return }
        self.started = true
        if self.isOverCapacity {
            // Closed as soon as the answer is out, without lingering: a flood of refused connections must
            // not hold descriptors.
            self.closing = true
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: Self.overCapacityResponse))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            self.apply(self.machine.connectionOpened())
        }
    }

    private func apply(_ timer: SlowClientStateMachine.Timer?) {
        // A timer that is already running keeps its deadline: a fresh connection's head is due from
        // the moment it opened, not from its first byte. Once closing, only the linger timer runs.
        guard !self.closing, let timer, timer != self.running, let context else { return }
        self.timer?.cancel()
        self.timer = nil
        self.running = timer
        let duration: Duration
        switch timer {
        case .head: duration = self.timeouts.head
        case .body: duration = self.timeouts.body
        case .idle: duration = self.timeouts.idle
        case .none: return
        }
        self.timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(duration)) {
            context.close(promise: nil)
        }
    }

    /// Stops reading, ends the output (the peer sees the response, then EOF) and closes for good after
    /// ``linger``: an unread request body is never read.
    private func closeGracefully() {
        guard !self.closing, let context else { return }
        self.closing = true
        self.timer?.cancel()
        context.close(mode: .output, promise: nil)
        self.timer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.linger) {
            context.close(promise: nil)
        }
    }

    /// What a connection over the cap gets: the gateway's error shape (FastAPI's `detail`), on every listener.
    static let overCapacityResponse: String = {
        let body = #"{"detail":"Too many connections; retry shortly."}"#
        return "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n"
            + "retry-after: 1\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n" + body
    }()
}

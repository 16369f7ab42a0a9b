import NIOCore
import NIOPosix
import RPCCodec
import RPCCore
import Synchronization

/// One client connection to an RPC server on a Unix socket, multiplexing any number of concurrent calls.
///
/// Calls beyond the server's `MAX_CONCURRENT_CALLS` wait their turn on the client. A connection that
/// received GOAWAY or closed is no longer ``isUsable``: make a new one.
public final class ClientConnection: Sendable {
    /// The ``RPCError/cause`` of calls that the server did not process (GOAWAY before they ran, or never
    /// sent): they are always safe to retry on a new connection.
    public struct NotProcessed: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { "not processed: \(self.reason)" }
    }

    private let channel: any Channel
    private let handler: NIOLoopBound<ClientConnectionHandler>
    private let usable: UsableFlag
    private let nextKey = Atomic<Int>(1)
    /// How long a call sent waits for the server's answer after its deadline or cancellation.
    public let answerGrace: Duration

    private init(channel: any Channel, handler: NIOLoopBound<ClientConnectionHandler>, usable: UsableFlag, answerGrace: Duration) {
        self.channel = channel
        self.handler = handler
        self.usable = usable
        self.answerGrace = answerGrace
    }

    /// Connects and waits for the server's HELLO.
    /// - Parameters:
    ///   - version: the highest protocol version to offer (2: streams; 1 behaves as a version-1 client).
    ///   - streamWindow: the credit each stream starts with (at most the server's `MAX_STREAM_CREDIT`):
    ///     how many of its messages may be in flight or unread.
    /// - Throws: ``TransportError`` when the socket cannot be reached, is refused, or does not speak
    ///   the protocol within `timeout`.
    public static func connect(
        to path: String,
        limits: WireLimits = .defaults,
        timeout: Duration = .seconds(5),
        answerGrace: Duration = ClientConnection.defaultAnswerGrace,
        version: UInt16 = Hello.currentVersion,
        streamWindow: Int = 64,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(TransportError) -> ClientConnection {
        try UnixSocketPath.checkLength(path)
        let usable = UsableFlag()
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(TimeAmount(timeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(ByteToMessageHandler(FrameDecoder(role: .client, limits: limits, version: version)))
                        try sync.addHandler(MessageToByteHandler(FrameEncoder()))
                        try sync.addHandler(
                            ClientConnectionHandler(
                                limits: limits, eventLoop: channel.eventLoop, usable: usable, version: version, streamWindow: streamWindow
                            )
                        )
                    }
                }
                .connect(unixDomainSocketPath: path)
                .get()
        } catch {
            throw TransportError(.connectFailed, "cannot connect to \(path): \(SocketErrorText.connect(error))")
        }
        do {
            let (handler, hello) = try await channel.eventLoop.submit {
                let handler = try channel.pipeline.syncOperations.handler(type: ClientConnectionHandler.self)
                return (NIOLoopBound(handler, eventLoop: channel.eventLoop), handler.helloReceived.futureResult)
            }.get()
            let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                handler.value.helloReceived.fail(TransportError(.connectFailed, "no HELLO from \(path) within \(timeout)"))
            }
            defer { timer.cancel() }
            try await hello.get()
            return ClientConnection(channel: channel, handler: handler, usable: usable, answerGrace: answerGrace)
        } catch {
            channel.close(promise: nil)
            if let error = error as? TransportError { throw error }
            // The channel closed under the handshake (its handlers gone with it).
            if !channel.isActive { throw TransportError(.connectionClosed, "the connection closed before the server's HELLO") }
            throw TransportError(.connectFailed, "handshake with \(path) failed: \(error)")
        }
    }

    /// Whether new calls can be made on this connection (no GOAWAY received, not closed).
    public var isUsable: Bool {
        self.usable.flag.load(ordering: .relaxed)
    }

    /// By default, how long a call sent waits for the server's answer after its deadline or its task's
    /// cancellation (the server answers at once: it stops the call, SPEC.md section 8).
    public static let defaultAnswerGrace: Duration = .seconds(1)

    /// Runs one call and returns the server's RESPONSE, whatever its status code.
    ///
    /// - Parameter timeout: sent as `:timeout`: the server stops the call then, and answers
    ///   DEADLINE_EXCEEDED (or OK, if its work could no longer be stopped).
    /// - Throws: ``RPCError``: UNAVAILABLE with a ``NotProcessed`` cause when the call was never
    ///   processed (the connection closed or the server went away before it); UNKNOWN when the call was
    ///   sent and no answer came (the connection closed, or none within ``answerGrace`` of its deadline or
    ///   of the task's cancellation); DEADLINE_EXCEEDED or CANCELLED when the call was never sent, or when
    ///   the server says so; RESOURCE_EXHAUSTED for a request over the server's frame limit; INTERNAL for
    ///   a malformed response.
    public func call(_ request: Request, timeout: Duration? = nil) async throws(RPCError) -> Response {
        var request = request
        if let timeout { request.timeoutMilliseconds = Self.milliseconds(timeout) }
        let key = self.nextKey.wrappingAdd(1, ordering: .relaxed).oldValue
        let eventLoop = self.channel.eventLoop
        let promise = eventLoop.makePromise(of: Response.self)
        let handler = self.handler
        let sendable = request
        eventLoop.execute { handler.value.start(key: key, request: sendable, call: .unary(promise)) }
        // A deadline or a cancellation ends a call that was never sent at once; one that was sent waits
        // for the server's answer, which says what really happened (ClientConnectionHandler.interrupt).
        let answerGrace = self.answerGrace
        let timer = timeout.map { timeout in
            eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                handler.value.interrupt(key: key, with: RPCError(code: .deadlineExceeded, message: "Deadline exceeded."), answerGrace: answerGrace)
            }
        }
        defer { timer?.cancel() }
        do {
            return try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                eventLoop.execute {
                    handler.value.interrupt(key: key, with: RPCError(code: .cancelled, message: "The call was cancelled."), answerGrace: answerGrace)
                }
            }
        } catch {
            throw RPCError(converting: error)
        }
    }

    /// Calls a server-streaming method (protocol version 2, SPEC.md section 16): its messages as they are
    /// read, then its end (``ClientStream``). Each message read is credit given back to the server (the
    /// connection's stream window), so a caller that stops reading stops the stream. `timeout` covers
    /// the whole stream; the rules of ``call(_:timeout:)`` for a deadline, a cancellation (the reading
    /// task's, or the iterator dropped) and a connection that closes hold alike. On a version-1
    /// connection the stream fails UNIMPLEMENTED, having sent nothing.
    public func serverStream(_ request: Request, timeout: Duration? = nil) -> ClientStream {
        var request = request
        request.isStream = true
        if let timeout { request.timeoutMilliseconds = Self.milliseconds(timeout) }
        let key = self.nextKey.wrappingAdd(1, ordering: .relaxed).oldValue
        let eventLoop = self.channel.eventLoop
        let (handler, answerGrace) = (self.handler, self.answerGrace)
        let source = ClientStreamSource(
            consumed: { eventLoop.execute { handler.value.streamMessageRead(key: key) } },
            abandoned: {
                eventLoop.execute {
                    handler.value.interrupt(key: key, with: RPCError(code: .cancelled, message: "The call was cancelled."), answerGrace: answerGrace)
                }
            }
        )
        let sendable = request
        eventLoop.execute { handler.value.start(key: key, request: sendable, call: .stream(source)) }
        if let timeout {
            // Fires for nothing (the key is gone) when the stream ended first.
            eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                handler.value.interrupt(key: key, with: RPCError(code: .deadlineExceeded, message: "Deadline exceeded."), answerGrace: answerGrace)
            }
        }
        return ClientStream(source)
    }

    private static func milliseconds(_ timeout: Duration) -> UInt32 {
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        return UInt32(clamping: max(0, milliseconds))
    }

    /// Sends PING and returns the round-trip time.
    public func ping() async throws(RPCError) -> Duration {
        let start = ContinuousClock.now
        let promise = self.channel.eventLoop.makePromise(of: Void.self)
        let handler = self.handler
        let opaque = UInt64.random(in: .min ... .max)
        self.channel.eventLoop.execute { handler.value.ping(opaque: opaque, promise: promise) }
        do {
            try await promise.futureResult.get()
        } catch {
            throw RPCError(converting: error)
        }
        return .now - start
    }

    /// Sends GOAWAY, lets calls in flight finish, then closes.
    public func close() async {
        let handler = self.handler
        self.channel.eventLoop.execute { handler.value.goAway() }
        try? await self.channel.closeFuture.get()
    }

    /// Closes at once; calls in flight fail with UNKNOWN (they were sent), calls queued with UNAVAILABLE.
    public func closeNow() async {
        try? await self.channel.close()
    }

    static func notProcessed(_ reason: String) -> RPCError {
        RPCError(code: .unavailable, message: "Call not processed: \(reason).", cause: NotProcessed(reason: reason))
    }

    /// A call sent whose answer will never come: UNKNOWN, never UNAVAILABLE (which says the call had no
    /// effect, SPEC.md section 10).
    static func outcomeUnknown(_ reason: String) -> RPCError {
        RPCError(code: .unknown, message: "No answer: \(reason); the call may or may not have taken effect.")
    }

    static func unavailable(_ reason: String) -> RPCError {
        RPCError(code: .unavailable, message: "Server unavailable: \(reason).")
    }
}

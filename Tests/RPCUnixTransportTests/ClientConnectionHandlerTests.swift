import FeedbackTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import RPCCodec
import RPCCore
import Testing

@testable import RPCUnixTransport

/// The client's connection handler below the socket: frames in, frames out, on an `EmbeddedChannel`.
@Suite("Client connection handler")
struct ClientConnectionHandlerTests {
    /// A REQUEST for `/a/b` whose payload is `payloadLength` bytes.
    private static func request(payloadLength: Int) -> Request {
        let overhead = 4 + 1 + ":method".utf8.count + 2 + "/a/b".utf8.count
        let request = Request(method: "/a/b", body: ByteBuffer(repeating: 0, count: payloadLength - overhead))
        #expect(request.encodedLength == payloadLength)
        return request
    }

    /// The REQUESTs written so far: call id and payload length.
    private static func writtenRequests(_ channel: EmbeddedChannel) throws -> [(callID: UInt32, length: Int)] {
        channel.embeddedEventLoop.run()  // the handler flushes on the next turn of the loop
        var requests: [(UInt32, Int)] = []
        while let frame = try channel.readOutbound(as: OutboundFrame.self) {
            if case .request(let callID, let request) = frame { requests.append((callID, request.encodedLength)) }
        }
        return requests
    }

    @Test("before the server's HELLO no REQUEST over 16,384 bytes is written (SPEC.md 2.1); it goes once the HELLO is in, calls in order")
    func largeRequestWaitsForHello() throws {
        let channel = EmbeddedChannel()
        let handler = ClientConnectionHandler(limits: .defaults, eventLoop: channel.eventLoop, usable: UsableFlag())
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(unixDomainSocketPath: "/x")).wait()
        let promises = (0..<3).map { _ in channel.eventLoop.makePromise(of: Response.self) }
        handler.start(key: 1, request: Self.request(payloadLength: WireLimits.maxFrameSizeBeforePeerHello), call: .unary(promises[0]))
        handler.start(key: 2, request: Self.request(payloadLength: 65_644), call: .unary(promises[1]))
        handler.start(key: 3, request: Self.request(payloadLength: 100), call: .unary(promises[2]))
        #expect(try Self.writtenRequests(channel).map { [Int($0.callID), $0.length] } == [[1, 16_384]])

        try channel.writeInbound(Frame.hello(Hello(limits: WireLimits(maxFrameSize: 1_048_576), maxConcurrentCalls: 100)))
        #expect(try Self.writtenRequests(channel).map { [Int($0.callID), $0.length] } == [[2, 65_644], [3, 100]])

        _ = try? channel.close().wait()  // fails the three calls: every promise is completed
        for promise in promises { #expect(throws: (any Error).self) { try promise.futureResult.wait() } }
    }

    /// A handler on an open connection (the server's HELLO received, `maxConcurrentCalls` slots).
    private static func openConnection(maxConcurrentCalls: UInt32 = 100) throws -> (EmbeddedChannel, ClientConnectionHandler) {
        let channel = EmbeddedChannel()
        let handler = ClientConnectionHandler(limits: .defaults, eventLoop: channel.eventLoop, usable: UsableFlag())
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(unixDomainSocketPath: "/x")).wait()
        try channel.writeInbound(Frame.hello(Hello(limits: .defaults, maxConcurrentCalls: maxConcurrentCalls)))
        channel.embeddedEventLoop.run()
        while try channel.readOutbound(as: OutboundFrame.self) != nil {}
        return (channel, handler)
    }

    /// The frames written so far, as call ids: REQUEST ids and CANCEL ids.
    private static func written(_ channel: EmbeddedChannel) throws -> (requests: [UInt32], cancels: [UInt32]) {
        channel.embeddedEventLoop.run()
        var written: (requests: [UInt32], cancels: [UInt32]) = ([], [])
        while let frame = try channel.readOutbound(as: OutboundFrame.self) {
            switch frame {
            case .request(let callID, _): written.requests.append(callID)
            case .frame(.cancel(let callID)): written.cancels.append(callID)
            default: break
            }
        }
        return written
    }

    /// The server's RESPONSE with `code` for `callID`, as the decoder hands it to the handler.
    private static func response(callID: UInt32, code: StatusCode) throws -> Frame {
        var buffer = ByteBuffer()
        try buffer.writeResponseFrame(callID: callID, Response(code: UInt32(code.rawValue)))
        var decoder = FrameDecoder(role: .client, helloReceived: true)
        return try #require(try decoder.decode(buffer: &buffer))
    }

    private static func code(_ promise: EventLoopPromise<Response>) -> StatusCode? {
        do {
            return StatusCode(rawValue: try promise.futureResult.wait().code)
        } catch {
            return (error as? RPCError)?.code.status
        }
    }

    @Test("a connection that closes before a sent call's RESPONSE: the call is UNKNOWN (it may have run); a queued one is UNAVAILABLE, not processed")
    func closedConnectionTellsSentFromQueued() throws {
        let (channel, handler) = try Self.openConnection(maxConcurrentCalls: 1)
        let sent = channel.eventLoop.makePromise(of: Response.self)
        let queued = channel.eventLoop.makePromise(of: Response.self)
        handler.start(key: 1, request: Request(method: "/a/b", body: ByteBuffer()), call: .unary(sent))
        handler.start(key: 2, request: Request(method: "/a/b", body: ByteBuffer()), call: .unary(queued))
        #expect(try Self.written(channel).requests == [1])
        _ = try? channel.close().wait()
        #expect(Self.code(sent) == .unknown)
        let notProcessed = #expect(throws: RPCError.self) { try queued.futureResult.wait() }
        #expect(notProcessed?.code == .unavailable)
        #expect(notProcessed?.cause is ClientConnection.NotProcessed)
    }

    @Test("a sent call past its deadline waits for the server's answer, and reports it: DEADLINE_EXCEEDED, or OK when the work could not be stopped")
    func deadlineWaitsForTheServersAnswer() throws {
        let (channel, handler) = try Self.openConnection()
        let promises = (1...2).map { _ in channel.eventLoop.makePromise(of: Response.self) }
        for (index, promise) in promises.enumerated() { handler.start(key: index + 1, request: Request(method: "/a/b", body: ByteBuffer()), call: .unary(promise)) }
        #expect(try Self.written(channel).requests == [1, 2])
        let deadline = RPCError(code: .deadlineExceeded, message: "Deadline exceeded.")
        handler.interrupt(key: 1, with: deadline, answerGrace: .seconds(1))
        handler.interrupt(key: 2, with: deadline, answerGrace: .seconds(1))
        #expect(try Self.written(channel).cancels == [], "the server stops a call at its :timeout by itself")
        try channel.writeInbound(try Self.response(callID: 1, code: .deadlineExceeded))
        try channel.writeInbound(try Self.response(callID: 2, code: .ok))
        #expect(Self.code(promises[0]) == .deadlineExceeded)
        #expect(Self.code(promises[1]) == .ok)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))  // the give-up timers were cancelled
        #expect(try Self.written(channel).cancels == [])
        _ = try? channel.close().wait()
    }

    @Test("a cancelled call is sent CANCEL and reports the server's answer; with no answer within the grace it is UNKNOWN")
    func cancellationWaitsForTheServersAnswer() throws {
        let (channel, handler) = try Self.openConnection()
        let promises = (1...2).map { _ in channel.eventLoop.makePromise(of: Response.self) }
        for (index, promise) in promises.enumerated() { handler.start(key: index + 1, request: Request(method: "/a/b", body: ByteBuffer()), call: .unary(promise)) }
        #expect(try Self.written(channel).requests == [1, 2])
        let cancelled = RPCError(code: .cancelled, message: "The call was cancelled.")
        handler.interrupt(key: 1, with: cancelled, answerGrace: .seconds(1))
        handler.interrupt(key: 2, with: cancelled, answerGrace: .seconds(1))
        #expect(try Self.written(channel).cancels == [1, 2])
        try channel.writeInbound(try Self.response(callID: 1, code: .cancelled))
        #expect(Self.code(promises[0]) == .cancelled)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(999))
        let answered = NIOLockedValueBox(false)
        promises[1].futureResult.whenComplete { _ in answered.withLockedValue { $0 = true } }
        #expect(!answered.withLockedValue { $0 })
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        let unknown = #expect(throws: RPCError.self) { try promises[1].futureResult.wait() }
        #expect(unknown?.code == .unknown)
        // The server's late answer is ignored: the call was given up on.
        try channel.writeInbound(try Self.response(callID: 2, code: .ok))
        _ = try? channel.close().wait()
    }

    @Test("a call interrupted while still queued was never sent: it ends at once with the interruption's code, and is never written")
    func interruptedWhileQueued() throws {
        let (channel, handler) = try Self.openConnection(maxConcurrentCalls: 1)
        let first = channel.eventLoop.makePromise(of: Response.self)
        let queued = channel.eventLoop.makePromise(of: Response.self)
        handler.start(key: 1, request: Request(method: "/a/b", body: ByteBuffer()), call: .unary(first))
        handler.start(key: 2, request: Request(method: "/a/b", body: ByteBuffer()), call: .unary(queued))
        handler.interrupt(key: 2, with: RPCError(code: .deadlineExceeded, message: "Deadline exceeded."), answerGrace: .seconds(1))
        #expect(Self.code(queued) == .deadlineExceeded)
        try channel.writeInbound(try Self.response(callID: 1, code: .ok))
        #expect(Self.code(first) == .ok)
        #expect(try Self.written(channel) == ([1], []))
        _ = try? channel.close().wait()
    }
}

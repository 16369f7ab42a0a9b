import FeedbackTestSupport
import NIOCore
import NIOEmbedded
import RPCCodec
import RPCCore
import Synchronization
import Testing

@testable import RPCUnixTransport

/// The server's connection handler below the socket: frames in, frames out, on an `EmbeddedChannel`
/// whose event loop has a manual clock, so timers (handshake, deadlines, idle) are driven by the test,
/// never by the wall clock.
@Suite("Server connection handler")
struct ServerConnectionHandlerTests {
    /// One connection: the handler between the test and a counter of the flushes and reads that reach
    /// the socket.
    struct Connection {
        let channel: EmbeddedChannel
        let handler: ServerConnectionHandler
        let socket: SocketSide
        let budget: CallBudget
        let service: RuleService
        let idleReports: IdleReports

        var loop: EmbeddedEventLoop { self.channel.embeddedEventLoop }

        /// Frames written and flushed so far.
        func written() throws -> [OutboundFrame] {
            self.loop.run()  // answers from the executor come back through the loop
            var frames: [OutboundFrame] = []
            while let frame = try self.channel.readOutbound(as: OutboundFrame.self) { frames.append(frame) }
            return frames
        }

        func responses() throws -> [(callID: UInt32, code: StatusCode)] {
            try self.written().compactMap { frame in
                if case .response(let callID, let response) = frame { (callID, StatusCode(rawValue: response.code)) } else { nil }
            }
        }

        func request(_ callID: UInt32, _ method: String, timeoutMilliseconds: UInt32? = nil) throws {
            var payload = ByteBuffer()
            try payload.writeRequestFrame(callID: callID, Request(method: method, timeoutMilliseconds: timeoutMilliseconds, body: ByteBuffer()))
            payload.moveReaderIndex(forwardBy: Frame.headerSize)
            try self.channel.writeInbound(Frame.request(callID: callID, payload: payload))
        }
    }

    /// What the handler told the registry: idle (true) or busy (false), in order.
    final class IdleReports: Sendable {
        private let reports = Mutex<[Bool]>([])
        var all: [Bool] { self.reports.withLock { $0 } }
        func append(_ idle: Bool) { self.reports.withLock { $0.append(idle) } }
    }

    /// Counts what reaches the socket: flushes and reads.
    final class SocketSide: ChannelOutboundHandler, Sendable {
        typealias OutboundIn = Any
        private let counts = Mutex((flushes: 0, reads: 0))
        var flushes: Int { self.counts.withLock { $0.flushes } }
        var reads: Int { self.counts.withLock { $0.reads } }

        func flush(context: ChannelHandlerContext) {
            self.counts.withLock { $0.flushes += 1 }
            context.flush()
        }

        func read(context: ChannelHandlerContext) {
            self.counts.withLock { $0.reads += 1 }
            context.read()
        }
    }

    /// An open connection (HELLO exchanged) to a server of ``RuleService``.
    static func open(
        maxConcurrentCalls: Int = 100, budget: Int = 100, sendHello: Bool = true, configure: (inout ServerConfiguration) -> Void = { _ in }
    ) throws -> Connection {
        var configuration = ServerConfiguration(socketPath: "/unused")
        configuration.maxConcurrentCallsPerConnection = maxConcurrentCalls
        configure(&configuration)
        let service = RuleService()
        let executor = ServerCallExecutor(router: RPCRouter(services: [service]), configuration: configuration.calls, logger: quietLogger())
        let callBudget = CallBudget(limit: budget)
        let reports = IdleReports()
        let channel = EmbeddedChannel()
        let socket = SocketSide()
        let handler = ServerConnectionHandler(
            configuration: configuration, connectionID: 1, peer: nil, logger: quietLogger(), executor: executor, budget: callBudget,
            reportIdle: { idle in reports.append(idle) }
        )
        try channel.pipeline.syncOperations.addHandler(socket)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(unixDomainSocketPath: "/x")).wait()
        let connection = Connection(channel: channel, handler: handler, socket: socket, budget: callBudget, service: service, idleReports: reports)
        let hello = try connection.written()
        guard case .frame(.hello) = hello.first, hello.count == 1 else { throw ProcessFailure(message: "expected HELLO, got \(hello)") }
        if sendHello { try channel.writeInbound(Frame.hello(Hello())) }
        return connection
    }

    @Test("the server's HELLO goes first; a peer that sends none gets GOAWAY HANDSHAKE_FAILED once the handshake timeout passes")
    func handshakeTimeout() throws {
        let connection = try Self.open(sendHello: false) { $0.handshakeTimeout = .seconds(5) }
        connection.loop.advanceTime(by: .milliseconds(4999))
        #expect(try connection.written().isEmpty)
        connection.loop.advanceTime(by: .milliseconds(1))
        let frames = try connection.written()
        guard case .frame(.goAway(let goAway)) = frames.first else {
            Issue.record("expected GOAWAY, got \(frames)")
            return
        }
        #expect(goAway.errorCode == .handshakeFailed)
        #expect(!connection.channel.isActive)
    }

    @Test("every answer a read produced (calls, PONG) goes out in one flush, at the read's end")
    func oneFlushPerRead() throws {
        let connection = try Self.open()
        let before = connection.socket.flushes
        for callID: UInt32 in 1...3 {
            var payload = ByteBuffer()
            try payload.writeRequestFrame(callID: callID, Request(method: RuleService.immediate, body: ByteBuffer()))
            payload.moveReaderIndex(forwardBy: Frame.headerSize)
            // One read of several frames: channelRead for each, channelReadComplete once (writeInbound
            // would complete each).
            connection.channel.pipeline.fireChannelRead(Frame.request(callID: callID, payload: payload))
        }
        connection.channel.pipeline.fireChannelRead(Frame.ping(7))
        #expect(connection.socket.flushes == before, "nothing flushed mid-read")
        connection.channel.pipeline.fireChannelReadComplete()
        #expect(connection.socket.flushes == before + 1)
        let frames = try connection.written()
        #expect(frames.count == 4)
    }

    @Test("a deadline passes on the event loop's clock: the call's queued work is withdrawn and it is answered DEADLINE_EXCEEDED")
    func deadline() throws {
        let connection = try Self.open()
        try connection.request(1, RuleService.withdrawable, timeoutMilliseconds: 100)
        try connection.request(3, RuleService.withdrawable, timeoutMilliseconds: 300)
        connection.loop.advanceTime(by: .milliseconds(99))
        #expect(try connection.responses().isEmpty)
        connection.loop.advanceTime(by: .milliseconds(1))
        #expect(try connection.responses().map { [Int($0.callID), Int($0.code.rawValue)] } == [[1, 4]])
        connection.loop.advanceTime(by: .milliseconds(200))
        #expect(try connection.responses().map { [Int($0.callID), Int($0.code.rawValue)] } == [[3, 4]])
        #expect(connection.budget.current == 0)
    }

    @Test("a CANCEL withdraws the call's queued work: CANCELLED")
    func cancel() throws {
        let connection = try Self.open()
        try connection.request(1, RuleService.withdrawable)
        #expect(try connection.responses().isEmpty)
        try connection.channel.writeInbound(Frame.cancel(callID: 1))
        #expect(try connection.responses().map { [Int($0.callID), Int($0.code.rawValue)] } == [[1, 1]])
    }

    @Test("a handler that ignores its interrupt is answered UNKNOWN when the grace passes on the event loop's clock")
    func interruptGrace() throws {
        let connection = try Self.open { $0.calls.interruptGrace = .seconds(30) }
        defer { connection.service.probe.release() }
        try connection.request(1, RuleService.stubbornDeferred, timeoutMilliseconds: 10)
        connection.loop.advanceTime(by: .milliseconds(10))
        connection.loop.advanceTime(by: .seconds(29))
        #expect(try connection.responses().isEmpty)
        connection.loop.advanceTime(by: .seconds(1))
        #expect(try connection.responses().map { [Int($0.callID), Int($0.code.rawValue)] } == [[1, 2]])
    }

    @Test("idle: GOAWAY NO_ERROR after the idle timeout with nothing in flight; a call in flight holds it off")
    func idleTimeout() throws {
        let connection = try Self.open { $0.idleTimeout = .seconds(60) }
        defer { connection.service.probe.release() }
        try connection.request(1, RuleService.stubbornDeferred)
        connection.loop.advanceTime(by: .seconds(120))
        #expect(try connection.written().isEmpty, "busy: not idle")
        connection.service.probe.release()
        #expect(try connection.responses().map(\.callID) == [1])
        connection.loop.advanceTime(by: .seconds(59))
        #expect(try connection.written().isEmpty)
        connection.loop.advanceTime(by: .seconds(1))
        let frames = try connection.written()
        guard case .frame(.goAway(let goAway)) = frames.first else {
            Issue.record("expected GOAWAY, got \(frames)")
            return
        }
        #expect(goAway.errorCode == .noError)
        #expect(connection.idleReports.all == [false, true])
    }

    @Test("backpressure: while the peer does not read what was written, reads are held; one is issued when it drains")
    func backpressure() throws {
        let connection = try Self.open()
        let reads = connection.socket.reads
        connection.channel.read()
        #expect(connection.socket.reads == reads + 1)
        connection.channel.isWritable = false
        connection.channel.pipeline.fireChannelWritabilityChanged()
        connection.channel.read()
        connection.channel.read()
        #expect(connection.socket.reads == reads + 1, "held")
        connection.channel.isWritable = true
        connection.channel.pipeline.fireChannelWritabilityChanged()
        #expect(connection.socket.reads == reads + 2, "one read issued")
    }

    @Test("limits: calls over MAX_CONCURRENT_CALLS or over the server's budget are RESOURCE_EXHAUSTED; health-like calls take no slot")
    func limits() throws {
        let connection = try Self.open(maxConcurrentCalls: 1, budget: 1)
        defer { connection.service.probe.release() }
        try connection.request(1, RuleService.stubbornDeferred)
        try connection.request(2, RuleService.stubbornDeferred)
        try connection.request(3, RuleService.immediate)
        #expect(try connection.responses().map { [Int($0.callID), Int($0.code.rawValue)] } == [[2, 8], [3, 0]])

        let other = try Self.open(maxConcurrentCalls: 5, budget: 1)
        defer { other.service.probe.release() }
        try other.request(1, RuleService.stubbornDeferred)  // holds the server's one unit
        try other.request(2, RuleService.stubbornDeferred)
        #expect(try other.responses().map { [Int($0.callID), Int($0.code.rawValue)] } == [[2, 8]])
    }

    @Test("a connection that closes with a call running: the call is interrupted and keeps its unit of the budget until it really ends")
    func closedWithCallRunning() throws {
        let connection = try Self.open()
        try connection.request(1, RuleService.stubbornDeferred)
        #expect(connection.budget.current == 1)
        _ = try? connection.channel.close().wait()
        connection.loop.run()
        #expect(connection.budget.current == 1, "its work may still be done")
        connection.service.probe.release()
        connection.loop.run()
        #expect(connection.budget.current == 0)
    }
}

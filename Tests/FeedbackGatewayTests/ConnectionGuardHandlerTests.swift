import FeedbackTestSupport
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Testing

@testable import HTTPConnectionGuard

/// The HTTP connection guard below the socket: the pipeline every HTTP listener uses (guard, HTTP/1.1
/// codec, phase handler) on an `EmbeddedChannel` whose clock the test drives.
@Suite("HTTP connection guard")
struct ConnectionGuardHandlerTests {
    static let timeouts = SlowClientStateMachine.Timeouts(head: .seconds(10), body: .seconds(30), idle: .seconds(60))

    /// A guarded connection, open. Requests that reach the end of the pipeline are kept in its inbound buffer.
    static func open(isOverCapacity: Bool = false) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(ConnectionGuardHandler(timeouts: Self.timeouts, isOverCapacity: isOverCapacity))
        try sync.configureHTTPServerPipeline(withErrorHandling: false)
        try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
        try sync.addHandler(RequestPhaseHandler())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    static func send(_ channel: EmbeddedChannel, _ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    /// Writes a response: its head, and its end unless `end` is false.
    static func respond(_ channel: EmbeddedChannel, end: Bool = true) throws {
        var fields = HTTPFields()
        fields[.contentLength] = "0"
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .noContent, headerFields: fields)))
        if end { try channel.writeOutbound(HTTPResponsePart.end(nil)) }
    }

    /// Checks that `channel` is still open just before `deadline` from now, and closed at it.
    static func expectClosed(_ channel: EmbeddedChannel, after deadline: TimeAmount, sourceLocation: SourceLocation = #_sourceLocation) {
        channel.embeddedEventLoop.advanceTime(by: deadline - .milliseconds(1))
        #expect(channel.isActive, "open until its deadline", sourceLocation: sourceLocation)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!channel.isActive, "closed at its deadline", sourceLocation: sourceLocation)
    }

    @Test("a head not complete within the head timeout of the connection opening closes it; bytes do not restart the clock")
    func slowHead() throws {
        let channel = try Self.open()
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        try Self.send(channel, "GET / HTTP/1.1\r\nHost: x\r\n")
        Self.expectClosed(channel, after: .seconds(1))
    }

    @Test("a body not complete within the body timeout of its head closes the connection")
    func slowBody() throws {
        let channel = try Self.open()
        try Self.send(channel, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        #expect(try channel.readInbound(as: HTTPRequestPart.self) != nil, "the head went through")
        Self.expectClosed(channel, after: .seconds(30))
    }

    @Test("while a request is answered nothing is timed; after its response the connection idles out")
    func answeringThenIdle() throws {
        let channel = try Self.open()
        try Self.send(channel, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        channel.embeddedEventLoop.advanceTime(by: .seconds(600))
        #expect(channel.isActive, "the handler has its own deadline")
        try Self.respond(channel)
        Self.expectClosed(channel, after: .seconds(60))
    }

    @Test("a response the peer does not take to its end within the body timeout closes the connection")
    func writeDeadline() throws {
        let channel = try Self.open()
        try Self.send(channel, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try Self.respond(channel, end: false)
        Self.expectClosed(channel, after: .seconds(30))
    }

    @Test("a connection over the cap is answered 503 and closed")
    func overCapacity() throws {
        let channel = try Self.open(isOverCapacity: true)
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: written).hasPrefix("HTTP/1.1 503 "))
        #expect(!channel.isActive)
    }

    /// Before: the phase handler found the guard by a `try?` lookup; without one, every deadline was
    /// silently off.
    @Test("a phase handler with no guard below it closes the connection instead of serving it without deadlines")
    func noGuard() throws {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let sync = channel.pipeline.syncOperations
        try sync.configureHTTPServerPipeline(withErrorHandling: false)
        try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
        try sync.addHandler(RequestPhaseHandler())
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }
}

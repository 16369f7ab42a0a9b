import NIOCore
import NIOEmbedded
import RPCCodec
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
        handler.start(key: 1, request: Self.request(payloadLength: WireLimits.maxFrameSizeBeforePeerHello), promise: promises[0])
        handler.start(key: 2, request: Self.request(payloadLength: 65_644), promise: promises[1])
        handler.start(key: 3, request: Self.request(payloadLength: 100), promise: promises[2])
        #expect(try Self.writtenRequests(channel).map { [Int($0.callID), $0.length] } == [[1, 16_384]])

        try channel.writeInbound(Frame.hello(Hello(limits: WireLimits(maxFrameSize: 1_048_576), maxConcurrentCalls: 100)))
        #expect(try Self.writtenRequests(channel).map { [Int($0.callID), $0.length] } == [[2, 65_644], [3, 100]])

        _ = try? channel.close().wait()  // fails the three calls: every promise is completed
        for promise in promises { #expect(throws: (any Error).self) { try promise.futureResult.wait() } }
    }
}

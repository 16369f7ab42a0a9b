import NIOCore
import NIOEmbedded
import NIOTestUtils
import RPCCodec
import Testing

@Suite("FrameDecoder")
struct FrameDecoderTests {
    static let helloBytes: [UInt8] = [
        0x00, 0x00, 0x00, 0x06,  // length 6
        0x00, 0x00, 0x00, 0x00,  // call id 0
        0x01,  // HELLO
        0x00,  // flags
        0x46, 0x42, 0x52, 0x50,  // magic "FBRP"
        0x00, 0x01,  // version 1
    ]
    static let pingBytes: [UInt8] = [
        0x00, 0x00, 0x00, 0x08,  // length 8
        0x00, 0x00, 0x00, 0x00,  // call id 0
        0x05,  // PING
        0x00,  // flags
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // opaque
    ]
    static let cancelBytes: [UInt8] = [
        0x00, 0x00, 0x00, 0x00,  // length 0
        0x00, 0x00, 0x00, 0x07,  // call id 7
        0x04,  // CANCEL
        0x00,  // flags
    ]

    @Test("many frames in one buffer decode in order and leave nothing behind")
    func manyFramesInOneBuffer() throws {
        var buffer = ByteBuffer(bytes: Self.helloBytes)
        for _ in 0..<100 {
            buffer.writeBytes(Self.pingBytes)
            buffer.writeBytes(Self.cancelBytes)
        }
        var decoder = FrameDecoder(role: .server)
        var frames: [Frame] = []
        while let frame = try decoder.decode(buffer: &buffer) { frames.append(frame) }
        #expect(frames.count == 201)
        #expect(frames.first == .hello(Hello(version: 1)))
        #expect(frames[1] == .ping(0x0102_0304_0506_0708))
        #expect(frames[2] == .cancel(callID: 7))
        #expect(frames.last == .cancel(callID: 7))
        #expect(buffer.readableBytes == 0)
    }

    @Test("the handshake limit applies until the HELLO, then the configured limit")
    func handshakeLimitThenConfigured() throws {
        var decoder = FrameDecoder(role: .server, limits: WireLimits(maxFrameSize: 20_000))
        #expect(decoder.currentMaxFrameSize == 1024)
        var buffer = ByteBuffer(bytes: Self.helloBytes)
        _ = try decoder.decode(buffer: &buffer)
        #expect(decoder.helloReceived)
        #expect(decoder.currentMaxFrameSize == 20_000)
        // A 20,000-byte REQUEST header with no body yet: accepted, waiting for bytes.
        buffer.writeMultipleIntegers(UInt32(20_000), UInt32(1), FrameType.request.rawValue, UInt8(0))
        #expect(try decoder.decode(buffer: &buffer) == nil)
        #expect(buffer.readableBytes == 10)
    }

    @Test("an oversized header with no body fails at once without waiting for the body")
    func oversizedHeaderNoBody() {
        var decoder = FrameDecoder(role: .server, helloReceived: true)
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF])  // 4 GiB - 1, only the length
        let error = #expect(throws: WireError.self) { try decoder.decode(buffer: &buffer) }
        #expect(error?.code == .frameTooLarge)
        #expect(error?.message.contains("4294967295") == true)
        #expect(error?.message.contains("1048576") == true)
    }

    @Test("fewer than 4 bytes is never an error")
    func tinyInputs() throws {
        for count in 0..<4 {
            var decoder = FrameDecoder(role: .server)
            var buffer = ByteBuffer(repeating: 0xFF, count: count)
            #expect(try decoder.decode(buffer: &buffer) == nil)
            #expect(buffer.readerIndex == 0)
        }
    }

    @Test("decodeLast at end of stream: nothing left is fine, a partial frame is TRUNCATED")
    func decodeLast() throws {
        var decoder = FrameDecoder(role: .server, helloReceived: true)
        var empty = ByteBuffer()
        #expect(try decoder.decodeLast(buffer: &empty, seenEOF: true) == nil)
        var partial = ByteBuffer(bytes: Self.pingBytes.dropLast())
        #expect(try decoder.decodeLast(buffer: &partial, seenEOF: false) == nil)
        let error = #expect(throws: WireError.self) { try decoder.decodeLast(buffer: &partial, seenEOF: true) }
        #expect(error?.code == .truncated)
        #expect(error?.scope == .connection)
    }

    @Test("NIO's ByteToMessageDecoderVerifier accepts the decoder")
    func verifier() throws {
        var request = ByteBuffer()
        try request.writeRequestFrame(
            callID: 3,
            Request(method: "/a.B/C", timeoutMilliseconds: 250, metadata: try Self.metadata(), body: ByteBuffer(bytes: [8, 1]))
        )
        var payload = request
        payload.moveReaderIndex(forwardBy: Frame.headerSize)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (ByteBuffer(bytes: Self.pingBytes), [.ping(0x0102_0304_0506_0708)]),
                (ByteBuffer(bytes: Self.cancelBytes + Self.pingBytes), [.cancel(callID: 7), .ping(0x0102_0304_0506_0708)]),
                (request, [.request(callID: 3, payload: payload)]),
            ],
            decoderFactory: { FrameDecoder(role: .server, helloReceived: true) }
        )
    }

    @Test("in a pipeline, ByteToMessageHandler turns a connection error into an error event")
    func inPipeline() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(role: .server)))
        try channel.writeInbound(ByteBuffer(bytes: Self.helloBytes + Self.pingBytes))
        #expect(try channel.readInbound(as: Frame.self) == .hello(Hello(version: 1)))
        #expect(try channel.readInbound(as: Frame.self) == .ping(0x0102_0304_0506_0708))
        let error = #expect(throws: WireError.self) { try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n")) }
        #expect(error?.code == .frameTooLarge)
        _ = try? channel.finish()
    }

    static func metadata() throws -> WireMetadata {
        var metadata = WireMetadata()
        try metadata.add("authorization", "Bearer abc.def.ghi")
        try metadata.add("x-request-id", "r-1")
        return metadata
    }
}

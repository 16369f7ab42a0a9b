import NIOCore
import RPCCodec
import Testing

@Suite("Request and Response payloads")
struct RequestResponseTests {
    @Test("a request round-trips with its method, timeout, metadata and body")
    func requestRoundTrip() throws {
        var metadata = WireMetadata()
        try metadata.add("authorization", "Bearer t")
        try metadata.add("x-tag", "one")
        try metadata.add("x-tag", "two")
        try metadata.add("trace-bin", binary: [0, 255, 10])
        let request = Request(
            method: "/feedback.v1.FeedbackService/SubmitFeedback",
            timeoutMilliseconds: 1500,
            metadata: metadata,
            body: ByteBuffer(bytes: [0x08, 0x2A, 0x10, 0x01])
        )
        let decoded = try Self.roundTrip(request)
        #expect(decoded == request)
        #expect(decoded.metadata.first("authorization") == "Bearer t")
        #expect(decoded.metadata["x-tag"] == [.string("one"), .string("two")])
        #expect(decoded.metadata.firstBinary("trace-bin") == [0, 255, 10])
        #expect(decoded.metadata.first(":method") == nil, "pseudo-keys are not metadata")
        #expect(Array(decoded.metadata).map(\.key) == ["authorization", "x-tag", "x-tag", "trace-bin"])
    }

    @Test("a decoded request re-encodes without duplicating its pseudo-keys")
    func reencodeDecoded() throws {
        let decoded = try Self.roundTrip(Request(method: "/a.B/C", timeoutMilliseconds: 7, body: ByteBuffer()))
        let again = try Self.roundTrip(decoded)
        #expect(again == decoded)
        #expect(again.encodedLength == decoded.encodedLength)
    }

    @Test("timeouts above 8 digits are clamped, not rejected", arguments: [UInt32(0), 1, 99_999_999, 100_000_000, .max])
    func timeoutClamp(_ timeout: UInt32) throws {
        let decoded = try Self.roundTrip(Request(method: "/a.B/C", timeoutMilliseconds: timeout, body: ByteBuffer()))
        #expect(decoded.timeoutMilliseconds == min(timeout, 99_999_999))
    }

    @Test("the encoder refuses an invalid method or call id and writes nothing", arguments: ["", "/", "//", "/a/", "a/b", "/a/b/c", "/a b/c"])
    func encoderRefusesBadMethod(_ method: String) {
        var buffer = ByteBuffer()
        let error = #expect(throws: WireError.self) {
            try buffer.writeRequestFrame(callID: 1, Request(method: method, body: ByteBuffer()))
        }
        #expect(error?.code == .invalidMethod)
        #expect(buffer.readableBytes == 0)
    }

    @Test("call ids 0 and above 2^31-1 cannot be encoded", arguments: [UInt32(0), 0x8000_0000, .max])
    func encoderRefusesBadCallID(_ callID: UInt32) {
        var buffer = ByteBuffer()
        #expect(throws: WireError.self) { try buffer.writeResponseFrame(callID: callID, Response(code: 0)) }
        #expect(buffer.readableBytes == 0)
    }

    @Test("metadata refuses bad keys and values at once")
    func metadataValidation() throws {
        var metadata = WireMetadata()
        let cases: [(String, String, WireError.Code)] = [
            ("Authorization", "x", .invalidMetadataKey),
            ("", "x", .invalidMetadataKey),
            (":method", "/a/b", .invalidMetadataKey),
            ("x-note", "line\nbreak", .invalidMetadataValue),
            ("x-note", "café", .invalidMetadataValue),
            ("x-request-id", String(repeating: "r", count: 129), .invalidMetadataValue),
            ("x-request-id", "", .invalidMetadataValue),
            ("data-bin", "text", .invalidMetadataKey),
            (String(repeating: "k", count: 256), "v", .invalidMetadataKey),
        ]
        for (key, value, code) in cases {
            let error = #expect(throws: WireError.self, "\(key)=\(value)") { try metadata.add(key, value) }
            #expect(error?.code == code, "\(key)=\(value)")
        }
        #expect(throws: WireError.self) { try metadata.add("not-binary", binary: [1]) }
        try metadata.add("authorization", "Bearer a")
        let duplicate = #expect(throws: WireError.self) { try metadata.add("authorization", "Bearer b") }
        #expect(duplicate?.code == .duplicateMetadataKey)
        #expect(Array(metadata).count == 1, "a refused entry leaves nothing behind")
    }

    @Test("a response round-trips; a code above 16 is kept as received")
    func responseRoundTrip() throws {
        var metadata = WireMetadata()
        try metadata.add("x-request-id", "abc")
        try metadata.add("status-details-bin", binary: [0x08, 0x05])
        for response in [
            Response(code: 0, metadata: metadata, body: ByteBuffer(bytes: [0x08, 0x01])),
            Response(code: 5, message: "Interaction 42 not found.", metadata: metadata),
            Response(code: 99, message: "ünïcödé ✓"),
        ] {
            var buffer = ByteBuffer()
            try buffer.writeResponseFrame(callID: 9, response)
            var decoder = FrameDecoder(role: .client, helloReceived: true)
            guard case .response(9, let payload) = try decoder.decode(buffer: &buffer) else {
                Issue.record("not a response")
                continue
            }
            #expect(try Response(decoding: payload) == response)
        }
    }

    @Test("a metadata limit lower than the block gives METADATA_TOO_LARGE before anything else is read")
    func metadataLimit() throws {
        var metadata = WireMetadata()
        try metadata.add("x-pad", String(repeating: "p", count: 2000))
        var buffer = ByteBuffer()
        try buffer.writeRequestFrame(callID: 1, Request(method: "/a.B/C", metadata: metadata, body: ByteBuffer()))
        buffer.moveReaderIndex(forwardBy: Frame.headerSize)
        let error = #expect(throws: WireError.self) {
            try Request(decoding: buffer, limits: WireLimits(maxMetadataSize: 1024))
        }
        #expect(error?.code == .metadataTooLarge)
        #expect(error?.statusCode == 8)
        #expect(try Request(decoding: buffer, limits: WireLimits(maxMetadataSize: 4096)).metadata.first("x-pad")?.count == 2000)
    }

    @Test("hello settings: limits and concurrency come from settings or defaults")
    func helloSettings() {
        let hello = Hello(limits: WireLimits(maxFrameSize: 65536, maxMetadataSize: 2048), maxConcurrentCalls: 7)
        #expect(hello.limits == WireLimits(maxFrameSize: 65536, maxMetadataSize: 2048))
        #expect(hello.maxConcurrentCalls == 7)
        #expect(Hello().limits == .defaults)
        #expect(Hello().maxConcurrentCalls == 100)
        #expect(Hello(version: 3).negotiatedVersion(with: Hello(version: 1)) == 1)
    }

    static func roundTrip(_ request: Request, callID: UInt32 = 1) throws -> Request {
        var buffer = ByteBuffer()
        try buffer.writeRequestFrame(callID: callID, request)
        var decoder = FrameDecoder(role: .server, helloReceived: true)
        guard case .request(callID, let payload) = try decoder.decode(buffer: &buffer) else {
            throw WireError(.unexpectedFrame, "not a request")
        }
        #expect(buffer.readableBytes == 0)
        return try Request(decoding: payload)
    }
}

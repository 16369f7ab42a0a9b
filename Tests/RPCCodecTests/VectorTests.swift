import NIOCore
import RPCCodec
import Testing

@Suite("Golden vectors (protocol/vectors/frames.json)")
struct VectorTests {
    @Test("the vectors cover every error the codec can return")
    func coverage() {
        let names = Set(GoldenVectors.shared.invalid.map(\.error))
        let all = [
            "TRUNCATED", "FRAME_TOO_LARGE", "UNKNOWN_FRAME_TYPE", "RESERVED_BITS_SET", "EXPECTED_HELLO",
            "UNEXPECTED_FRAME", "INVALID_CALL_ID", "INVALID_PAYLOAD_LENGTH", "BAD_MAGIC", "UNSUPPORTED_VERSION",
            "INVALID_SETTING", "TRUNCATED_PAYLOAD", "METADATA_TOO_LARGE", "METADATA_OVERRUN", "INVALID_METADATA_KEY",
            "INVALID_METADATA_VALUE", "DUPLICATE_METADATA_KEY", "MISSING_METHOD", "INVALID_METHOD", "INVALID_TIMEOUT",
            "MESSAGE_OVERRUN", "INVALID_MESSAGE", "UNEXPECTED_BODY",
        ]
        for name in all {
            #expect(WireError.Code(name: name) != nil, "\(name) is not a codec error")
            #expect(names.contains(name), "no vector for \(name)")
        }
        #expect(names.allSatisfy { WireError.Code(name: $0) != nil })
    }

    @Test("a valid vector decodes to its fields and encodes back to its bytes", arguments: GoldenVectors.shared.valid)
    func valid(_ vector: GoldenVectors.Valid) throws {
        var decoder = vector.decoder
        var buffer = vector.bytes
        let frame = try #require(try decoder.decode(buffer: &buffer))
        #expect(buffer.readableBytes == 0)
        #expect(frame.type.description == vector.frame.type)
        #expect(frame.callID == vector.frame.callId)
        #expect(frame.payloadLength == vector.frame.length)
        if vector.canonical {
            #expect(frame == (try vector.expectedFrame()))
        }

        #expect(frame.flags == vector.frame.flags)
        switch frame {
        case .request(_, let payload), .streamRequest(_, let payload):
            var request = try Request(decoding: payload)
            request.isStream = frame.flags == Frame.streamFlag
            #expect(request == (try vector.expectedRequest()))
        case .response(_, let payload):
            #expect(try Response(decoding: payload) == vector.expectedResponse())
        default:
            break
        }

        var encoded = ByteBuffer()
        encoded.writeFrame(frame)
        #expect(encoded.hex == vector.hex)
        var structured = ByteBuffer()
        try FrameEncoder().encode(data: Self.structured(frame, vector), out: &structured)
        if vector.canonical {
            #expect(structured.hex == vector.hex)
        } else {
            var decoder = vector.decoder
            let reencoded = try #require(try decoder.decode(buffer: &structured))
            #expect(Self.requestOrResponse(reencoded) == Self.requestOrResponse(frame))
        }
    }

    private static func requestOrResponse(_ frame: Frame) -> AnyHashable? {
        switch frame {
        case .request(_, let payload), .streamRequest(_, let payload): try? Request(decoding: payload)
        case .response(_, let payload): try? Response(decoding: payload)
        default: nil
        }
    }

    /// The frame re-expressed through ``Request``/``Response``, so the in-place encoders are checked too.
    private static func structured(_ frame: Frame, _ vector: GoldenVectors.Valid) throws -> OutboundFrame {
        switch frame {
        case .request(let id, _), .streamRequest(let id, _): .request(callID: id, try vector.expectedRequest()!)
        case .response(let id, _): .response(callID: id, try vector.expectedResponse()!)
        default: .frame(frame)
        }
    }

    @Test("a valid vector decodes the same when split at every byte", arguments: GoldenVectors.shared.valid)
    func validSplit(_ vector: GoldenVectors.Valid) throws {
        let bytes = vector.bytes
        var whole = bytes
        var reference = vector.decoder
        let expected = try #require(try reference.decode(buffer: &whole))
        for split in 0...bytes.readableBytes {
            var decoder = vector.decoder
            var buffer = bytes.getSlice(at: 0, length: split)!
            let early = try decoder.decode(buffer: &buffer)
            if split < bytes.readableBytes {
                #expect(early == nil, "decoded at \(split) of \(bytes.readableBytes) bytes")
                #expect(buffer.readerIndex == 0, "reader index moved on an incomplete frame")
                buffer.writeImmutableBuffer(bytes.getSlice(at: split, length: bytes.readableBytes - split)!)
                #expect(try decoder.decode(buffer: &buffer) == expected)
            } else {
                #expect(early == expected)
            }
        }
    }

    @Test("a valid vector decodes when fed one byte at a time", arguments: GoldenVectors.shared.valid)
    func validByteByByte(_ vector: GoldenVectors.Valid) throws {
        var decoder = vector.decoder
        var buffer = ByteBuffer()
        var frames: [Frame] = []
        for byte in vector.bytes.readableBytesView {
            buffer.writeInteger(byte)
            if let frame = try decoder.decode(buffer: &buffer) { frames.append(frame) }
        }
        var whole = vector.bytes
        var reference = vector.decoder
        #expect(frames == [try #require(try reference.decode(buffer: &whole))])
        #expect(try decoder.decodeLast(buffer: &buffer, seenEOF: true) == nil)
    }

    @Test("an invalid vector fails with its error", arguments: GoldenVectors.shared.invalid)
    func invalid(_ vector: GoldenVectors.Invalid) throws {
        let expected = try #require(WireError.Code(name: vector.error))
        #expect(expected.scope.rawValue == vector.scope)
        var decoder = vector.decoder
        var buffer = vector.bytes

        switch expected.scope {
        case .connection where expected == .truncated:
            #expect(try decoder.decode(buffer: &buffer) == nil)
            let error = #expect(throws: WireError.self) { try decoder.decodeLast(buffer: &buffer, seenEOF: true) }
            #expect(error?.code == .truncated)
            #expect(error?.goAwayErrorCode.rawValue == vector.goaway)
        case .connection:
            let error = #expect(throws: WireError.self) { try decoder.decode(buffer: &buffer) }
            #expect(error?.code == expected, "\(String(describing: error))")
            #expect(error?.goAwayErrorCode.rawValue == vector.goaway)
        case .call:
            let frame = try #require(try decoder.decode(buffer: &buffer))
            #expect(frame.callID == vector.callId)
            let error = #expect(throws: WireError.self) {
                switch frame {
                case .request(_, let payload): _ = try Request(decoding: payload)
                case .response(_, let payload): _ = try Response(decoding: payload)
                default: Issue.record("call error vector is a \(frame.type) frame")
                }
            }
            #expect(error?.code == expected, "\(String(describing: error))")
            if let status = vector.status {
                #expect(error?.statusCode == status)
            }
        }
    }

    @Test("the codec's limits are the vectors' defaults")
    func defaults() {
        let defaults = GoldenVectors.shared.defaults
        #expect(WireLimits.handshakeMaxFrameSize == defaults.handshakeMaxFrameSize)
        #expect(WireLimits.maxFrameSizeBeforePeerHello == defaults.maxFrameSizeBeforePeerHello)
        #expect(WireLimits.defaults == WireLimits(maxFrameSize: defaults.maxFrameSize, maxMetadataSize: defaults.maxMetadataSize))
        #expect(Hello.defaultMaxConcurrentCalls == defaults.maxConcurrentCalls)
    }

    @Test("a length over the limit is rejected from the first 4 bytes, before the rest arrives")
    func lengthCheckedFirst() throws {
        for vector in GoldenVectors.shared.invalid where vector.error == "FRAME_TOO_LARGE" {
            var decoder = vector.decoder
            var buffer = vector.bytes.getSlice(at: 0, length: 4)!
            #expect(throws: WireError.self) { try decoder.decode(buffer: &buffer) }
        }
    }
}

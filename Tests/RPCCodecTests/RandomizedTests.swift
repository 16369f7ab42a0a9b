import NIOCore
import RPCCodec
import Testing

/// A small deterministic generator, so a failure reproduces from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Randomized codec properties")
struct RandomizedTests {
    static let seeds: [UInt64] = [1, 2, 3, 0xFEED, 0xBACC]

    @Test("random frames round-trip through one buffer decoded in random chunks", arguments: seeds)
    func roundTrip(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        for role in [ConnectionRole.server, .client] {
            let frames = (0..<300).map { _ in Self.randomFrame(for: role, using: &rng) }
            var wire = ByteBuffer()
            wire.writeFrame(.hello(Hello(settings: [.init(id: 1, value: 16_384 + UInt32.random(in: 0...100_000, using: &rng))])))
            for frame in frames { wire.writeFrame(frame) }

            var decoder = FrameDecoder(role: role)
            var buffer = ByteBuffer()
            var decoded: [Frame] = []
            while wire.readableBytes > 0 {
                var chunk = wire.readSlice(length: min(wire.readableBytes, Int.random(in: 1...700, using: &rng)))!
                buffer.writeBuffer(&chunk)
                while let frame = try decoder.decode(buffer: &buffer) { decoded.append(frame) }
            }
            #expect(buffer.readableBytes == 0)
            #expect(Array(decoded.dropFirst()) == frames)
            for (sent, received) in zip(frames, decoded.dropFirst()) {
                if case .request(_, let payload) = received {
                    guard case .request(_, let original) = sent else { continue }
                    #expect(try Request(decoding: payload) == Request(decoding: original))
                }
            }
        }
    }

    @Test("random bytes give a frame, 'need more bytes' or a typed error, never a crash", arguments: seeds)
    func randomBytes(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<3000 {
            let count = Int.random(in: 0...64, using: &rng)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Make small lengths likely, so bodies are reached and parsed too.
            if count >= 10, Bool.random(using: &rng) {
                bytes.replaceSubrange(0..<4, with: [0, 0, 0, UInt8(count - 10)])  // length = the rest
                bytes[8] = UInt8.random(in: 1...7, using: &rng)  // a known type
                bytes[9] = 0  // no flags
            }
            Self.exercise(bytes, rng: &rng)
        }
    }

    @Test("mutated golden vectors never crash", arguments: seeds)
    func mutatedVectors(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for vector in GoldenVectors.shared.valid {
            let original = Array(vector.bytes.readableBytesView)
            for _ in 0..<200 {
                var bytes = original
                switch Int.random(in: 0..<4, using: &rng) {
                case 0:
                    for _ in 0..<Int.random(in: 1...3, using: &rng) {
                        bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                    }
                case 1:
                    bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
                case 2:
                    bytes += (0..<Int.random(in: 1...20, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                default:
                    // Mutate inside the payload only, keeping the header valid, to reach the payload parsers.
                    if bytes.count > 10 {
                        bytes[Int.random(in: 10..<bytes.count, using: &rng)] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
                    }
                }
                Self.exercise(bytes, rng: &rng)
            }
        }
    }

    /// Decodes `bytes` in random chunks with every role and state; every outcome must be typed.
    static func exercise(_ bytes: [UInt8], rng: inout SplitMix64) {
        for role in [ConnectionRole.server, .client] {
            for helloReceived in [false, true] {
                var decoder = FrameDecoder(role: role, helloReceived: helloReceived)
                var input = ByteBuffer(bytes: bytes)
                var buffer = ByteBuffer()
                do {
                    while input.readableBytes > 0 {
                        var chunk = input.readSlice(length: min(input.readableBytes, Int.random(in: 1...16, using: &rng)))!
                        buffer.writeBuffer(&chunk)
                        while let frame = try decoder.decode(buffer: &buffer) {
                            Self.parsePayload(frame)
                        }
                    }
                    while let frame = try decoder.decodeLast(buffer: &buffer, seenEOF: true) {
                        Self.parsePayload(frame)
                    }
                } catch {
                    #expect(error.scope == .connection)
                }
            }
        }
    }

    static func parsePayload(_ frame: Frame) {
        do {
            switch frame {
            case .request(_, let payload): _ = try Request(decoding: payload)
            case .response(_, let payload): _ = try Response(decoding: payload)
            default: return
            }
        } catch {
            #expect(error.scope == .call)
        }
    }

    static func randomFrame(for role: ConnectionRole, using rng: inout SplitMix64) -> Frame {
        let callID = UInt32.random(in: 1...Frame.maxCallID, using: &rng)
        switch Int.random(in: 0..<5, using: &rng) {
        case 0 where role == .server:
            let request = Request(
                method: "/svc.\(Int.random(in: 0...99, using: &rng))/M",
                timeoutMilliseconds: Bool.random(using: &rng) ? UInt32.random(in: 0...99_999_999, using: &rng) : nil,
                metadata: Self.randomMetadata(using: &rng),
                body: ByteBuffer(bytes: (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            )
            var frame = ByteBuffer()
            try! frame.writeRequestFrame(callID: callID, request)
            frame.moveReaderIndex(forwardBy: Frame.headerSize)
            return .request(callID: callID, payload: frame)
        case 0:
            var frame = ByteBuffer()
            let code = UInt32.random(in: 0...20, using: &rng)
            try! frame.writeResponseFrame(
                callID: callID,
                Response(
                    code: code, message: code == 0 ? "" : "msg ✓ \(code)", metadata: Self.randomMetadata(using: &rng),
                    body: code == 0 ? ByteBuffer(bytes: [8, UInt8.random(in: 0...3, using: &rng)]) : ByteBuffer()
                )
            )
            frame.moveReaderIndex(forwardBy: Frame.headerSize)
            return .response(callID: callID, payload: frame)
        case 1:
            return role == .server ? .cancel(callID: callID) : .pong(rng.next())
        case 2:
            return .ping(rng.next())
        case 3:
            return .pong(rng.next())
        default:
            return .goAway(GoAway(lastCallID: callID, errorCode: .init(rawValue: UInt32.random(in: 0...9, using: &rng)), debug: "bye \(callID)"))
        }
    }

    static func randomMetadata(using rng: inout SplitMix64) -> WireMetadata {
        var metadata = WireMetadata()
        for index in 0..<Int.random(in: 0...5, using: &rng) {
            if Bool.random(using: &rng) {
                try! metadata.add("k\(index)-bin", binary: (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            } else {
                try! metadata.add("key.\(index)_x", String(repeating: "v", count: Int.random(in: 0...40, using: &rng)))
            }
        }
        return metadata
    }
}

import NIOCore

/// One frame of SPEC.md section 2, as the decoder produces it and the encoder consumes it.
///
/// REQUEST and RESPONSE payloads are kept as bytes: parse them with ``Request/init(decoding:limits:)``
/// and ``Response/init(decoding:limits:)``, whose errors are call errors, not connection errors.
/// The payload buffers are slices of the received bytes (no copy); the frame owns them.
public enum Frame: Hashable, Sendable {
    case hello(Hello)
    case request(callID: UInt32, payload: ByteBuffer)
    case response(callID: UInt32, payload: ByteBuffer)
    case cancel(callID: UInt32)
    /// PING with its 8 opaque bytes, read as a big-endian integer.
    case ping(UInt64)
    /// PONG echoing a PING's 8 bytes.
    case pong(UInt64)
    case goAway(GoAway)

    /// The size of every frame header.
    public static let headerSize = 10
    /// The largest call id: bit 31 is reserved.
    public static let maxCallID: UInt32 = 0x7FFF_FFFF

    public var type: FrameType {
        switch self {
        case .hello: .hello
        case .request: .request
        case .response: .response
        case .cancel: .cancel
        case .ping: .ping
        case .pong: .pong
        case .goAway: .goAway
        }
    }

    /// The frame's call id: 0 for connection frames.
    public var callID: UInt32 {
        switch self {
        case .request(let id, _), .response(let id, _), .cancel(let id): id
        case .hello, .ping, .pong, .goAway: 0
        }
    }

    /// The number of payload bytes (the header's `length`).
    public var payloadLength: Int {
        switch self {
        case .hello(let hello): hello.encodedLength
        case .request(_, let payload), .response(_, let payload): payload.readableBytes
        case .cancel: 0
        case .ping, .pong: 8
        case .goAway(let goAway): goAway.encodedLength
        }
    }
}

import NIOCore

/// One frame of SPEC.md section 2, as the decoder produces it and the encoder consumes it.
///
/// REQUEST and RESPONSE payloads are kept as bytes: parse them with ``Request/init(decoding:limits:)``
/// and ``Response/init(decoding:limits:)``, whose errors are call errors, not connection errors.
/// The payload buffers are slices of the received bytes (no copy); the frame owns them.
public enum Frame: Hashable, Sendable {
    case hello(Hello)
    case request(callID: UInt32, payload: ByteBuffer)
    /// Version 2: a REQUEST with the STREAM flag, which calls a server-streaming method.
    case streamRequest(callID: UInt32, payload: ByteBuffer)
    case response(callID: UInt32, payload: ByteBuffer)
    /// Version 2: one message of a server-streaming call (the serialized protobuf message).
    case streamMessage(callID: UInt32, payload: ByteBuffer)
    /// Version 2: the client grants the stream `increment` more messages (1 to 2^31-1).
    case credit(callID: UInt32, increment: UInt32)
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
    /// The REQUEST flag of a server-streaming call (version 2).
    public static let streamFlag: UInt8 = 0x01
    /// The largest CREDIT increment, and the most unused credit a stream can ever hold.
    public static let maxCredit: UInt32 = 0x7FFF_FFFF

    public var type: FrameType {
        switch self {
        case .hello: .hello
        case .request, .streamRequest: .request
        case .response: .response
        case .streamMessage: .streamMessage
        case .credit: .credit
        case .cancel: .cancel
        case .ping: .ping
        case .pong: .pong
        case .goAway: .goAway
        }
    }

    /// The frame's call id: 0 for connection frames.
    public var callID: UInt32 {
        switch self {
        case .request(let id, _), .streamRequest(let id, _), .response(let id, _), .streamMessage(let id, _), .cancel(let id),
            .credit(let id, _):
            id
        case .hello, .ping, .pong, .goAway: 0
        }
    }

    /// The header's flags: ``streamFlag`` for a stream's REQUEST, 0 otherwise.
    public var flags: UInt8 {
        if case .streamRequest = self { Frame.streamFlag } else { 0 }
    }

    /// The number of payload bytes (the header's `length`).
    public var payloadLength: Int {
        switch self {
        case .hello(let hello): hello.encodedLength
        case .request(_, let payload), .streamRequest(_, let payload), .response(_, let payload), .streamMessage(_, let payload):
            payload.readableBytes
        case .cancel: 0
        case .credit: 4
        case .ping, .pong: 8
        case .goAway(let goAway): goAway.encodedLength
        }
    }
}

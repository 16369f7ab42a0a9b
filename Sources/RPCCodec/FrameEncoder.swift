import NIOCore

extension ByteBuffer {
    /// Appends `frame`, header and payload.
    public mutating func writeFrame(_ frame: Frame) {
        self.writeHeader(length: frame.payloadLength, callID: frame.callID, type: frame.type, flags: frame.flags)
        switch frame {
        case .hello(let hello):
            hello.write(into: &self)
        case .request(_, let payload), .streamRequest(_, let payload), .response(_, let payload), .streamMessage(_, let payload):
            self.writeImmutableBuffer(payload)
        case .cancel:
            break
        case .credit(_, let increment):
            self.writeInteger(increment)
        case .ping(let opaque), .pong(let opaque):
            self.writeInteger(opaque)
        case .goAway(let goAway):
            goAway.write(into: &self)
        }
    }

    /// Appends a REQUEST frame for `request`, encoding the payload in place (no intermediate buffer).
    /// - Throws: ``WireError/Code/invalidMethod`` if the method is not `/SERVICE/METHOD`;
    ///   ``WireError/Code/invalidCallID`` for call id 0 or above 2^31-1. Nothing is written then.
    public mutating func writeRequestFrame(callID: UInt32, _ request: Request) throws(WireError) {
        try Self.checkCallID(callID)
        try request.writeFrame(callID: callID, flags: request.isStream ? Frame.streamFlag : 0, into: &self)
    }

    /// Appends a STREAM_MESSAGE frame carrying `message` (version 2).
    /// - Throws: ``WireError/Code/invalidCallID`` for call id 0 or above 2^31-1.
    public mutating func writeStreamMessageFrame(callID: UInt32, _ message: [UInt8]) throws(WireError) {
        try Self.checkCallID(callID)
        self.writeHeader(length: message.count, callID: callID, type: .streamMessage, flags: 0)
        self.writeBytes(message)
    }

    /// Appends a RESPONSE frame for `response`, encoding the payload in place.
    /// - Throws: ``WireError/Code/invalidCallID`` for call id 0 or above 2^31-1.
    public mutating func writeResponseFrame(callID: UInt32, _ response: Response) throws(WireError) {
        try Self.checkCallID(callID)
        response.writeFrame(callID: callID, into: &self)
    }

    private static func checkCallID(_ callID: UInt32) throws(WireError) {
        guard callID != 0, callID <= Frame.maxCallID else {
            throw WireError(.invalidCallID, "call id \(callID) is outside 1...\(Frame.maxCallID)")
        }
    }

    private mutating func writeHeader(length: Int, callID: UInt32, type: FrameType, flags: UInt8) {
        self.writeMultipleIntegers(UInt32(length), callID, type.rawValue, flags)
    }
}

/// What a connection writes: a raw ``Frame``, or a structured request or response encoded in place.
public enum OutboundFrame: Sendable {
    case frame(Frame)
    case request(callID: UInt32, Request)
    case response(callID: UInt32, Response)
    /// One message of a server-streaming call (version 2).
    case streamMessage(callID: UInt32, [UInt8])
}

/// The encoder as a NIO `MessageToByteEncoder`, for `MessageToByteHandler`. Holds no state.
public struct FrameEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = OutboundFrame

    public init() {}

    public func encode(data: OutboundFrame, out: inout ByteBuffer) throws {
        switch data {
        case .frame(let frame): out.writeFrame(frame)
        case .request(let callID, let request): try out.writeRequestFrame(callID: callID, request)
        case .response(let callID, let response): try out.writeResponseFrame(callID: callID, response)
        case .streamMessage(let callID, let message): try out.writeStreamMessageFrame(callID: callID, message)
        }
    }
}

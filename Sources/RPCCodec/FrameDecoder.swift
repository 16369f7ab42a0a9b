import NIOCore

/// Turns bytes into ``Frame``s, incrementally, checking every limit before it buffers anything.
///
/// A value type with no channel: feed it any chunking of the stream (one byte at a time too) through
/// ``decode(buffer:)``; it returns a frame, or nil when it needs more bytes, in which case the buffer's
/// reader index is left where it was. The transport wraps it in NIO's `ByteToMessageHandler`.
/// Errors are connection errors (SPEC.md section 2.2): after one, the decoder must not be used again.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder, Sendable {
    public typealias InboundOut = Frame

    /// The side this decoder works for: a server decodes what clients send.
    public let role: ConnectionRole
    /// This side's limits, as announced in its HELLO.
    public var limits: WireLimits
    /// Whether the peer's HELLO has been decoded.
    public private(set) var helloReceived: Bool
    /// The highest protocol version this side implements (what its HELLO announces).
    public let ownVersion: UInt16
    /// The connection's version, which decides the frames and flags that exist: this side's own until
    /// the peer's HELLO, then the lower of the two (SPEC.md section 3).
    public private(set) var version: UInt16

    /// - Parameters:
    ///   - role: the side this decoder works for.
    ///   - limits: this side's receive limits.
    ///   - helloReceived: `false` for a new connection; `true` to start as if the HELLO had been read.
    ///   - version: the highest version this side implements; with `helloReceived`, the connection's version.
    public init(role: ConnectionRole, limits: WireLimits = .defaults, helloReceived: Bool = false, version: UInt16 = Hello.currentVersion) {
        self.role = role
        self.limits = limits
        self.helloReceived = helloReceived
        self.ownVersion = version
        self.version = version
    }

    /// The current frame limit: the handshake limit until the HELLO, then ``limits``.
    public var currentMaxFrameSize: Int {
        self.helloReceived ? self.limits.maxFrameSize : WireLimits.handshakeMaxFrameSize
    }

    /// Decodes the next frame, or returns nil (reader index untouched) when more bytes are needed.
    /// - Throws: a connection-scoped ``WireError``.
    public mutating func decode(buffer: inout ByteBuffer) throws(WireError) -> Frame? {
        let start = buffer.readerIndex
        guard let length = buffer.getInteger(at: start, as: UInt32.self) else { return nil }
        guard length <= self.currentMaxFrameSize else {
            throw WireError(
                .frameTooLarge,
                "frame of \(length) bytes is over the limit of \(self.currentMaxFrameSize) bytes"
                    + (self.helloReceived ? "" : " before the handshake")
            )
        }
        guard let (rawCallID, rawType, flags) = buffer.getMultipleIntegers(at: start + 4, as: (UInt32, UInt8, UInt8).self)
        else { return nil }
        let type = FrameType(rawValue: rawType)
        try self.checkHeader(type: type, rawCallID: rawCallID, flags: flags, length: length)
        guard buffer.readableBytes >= Frame.headerSize + Int(length) else { return nil }

        buffer.moveReaderIndex(forwardBy: Frame.headerSize)
        let payload = buffer.readSlice(length: Int(length))!
        switch type {
        case .hello:
            let hello = try Hello.decode(payload)
            self.helloReceived = true
            self.version = min(self.ownVersion, hello.version)
            return .hello(hello)
        case .request:
            return flags == Frame.streamFlag ? .streamRequest(callID: rawCallID, payload: payload) : .request(callID: rawCallID, payload: payload)
        case .response:
            return .response(callID: rawCallID, payload: payload)
        case .streamMessage:
            return .streamMessage(callID: rawCallID, payload: payload)
        case .credit:
            let increment = payload.getInteger(at: payload.readerIndex, as: UInt32.self)!
            guard (1...Frame.maxCredit).contains(increment) else {
                throw WireError(.invalidCredit, "CREDIT of \(increment) on call \(rawCallID): an increment is 1 to \(Frame.maxCredit)")
            }
            return .credit(callID: rawCallID, increment: increment)
        case .cancel:
            return .cancel(callID: rawCallID)
        case .ping:
            return .ping(payload.getInteger(at: payload.readerIndex, as: UInt64.self)!)
        case .pong:
            return .pong(payload.getInteger(at: payload.readerIndex, as: UInt64.self)!)
        default:
            return .goAway(GoAway.decode(payload))
        }
    }

    /// Decodes what is left at the end of the stream.
    /// - Throws: ``WireError/Code/truncated`` when the stream ends inside a frame.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws(WireError) -> Frame? {
        if let frame = try self.decode(buffer: &buffer) {
            return frame
        }
        if seenEOF, buffer.readableBytes > 0 {
            throw WireError(.truncated, "stream ended inside a frame, \(buffer.readableBytes) bytes unread")
        }
        return nil
    }

    /// Steps 2 to 6 of SPEC.md section 2.2.
    private func checkHeader(type: FrameType, rawCallID: UInt32, flags: UInt8, length: UInt32) throws(WireError) {
        guard type.isKnown(inVersion: self.version) else {
            throw WireError(.unknownFrameType, "frame type \(type) is not defined in protocol version \(self.version)")
        }
        let flagsAllowed = flags == 0 || (flags == Frame.streamFlag && type == .request && self.version >= 2)
        guard flagsAllowed, rawCallID <= Frame.maxCallID else {
            throw WireError(.reservedBitsSet, "reserved bits set: flags 0x\(String(flags, radix: 16)), call id 0x\(String(rawCallID, radix: 16))")
        }
        if !self.helloReceived, type != .hello, type != .goAway {
            throw WireError(.expectedHello, "first frame is \(type), expected HELLO")
        }
        if (self.helloReceived && type == .hello) || !self.role.receives(type) {
            throw WireError(.unexpectedFrame, "a \(self.role) does not receive \(type)" + (type == .hello ? " twice" : ""))
        }
        guard type.isCallFrame == (rawCallID != 0) else {
            throw WireError(.invalidCallID, "\(type) on call id \(rawCallID)")
        }
        let lengthAllowed =
            switch type {
            case .cancel: length == 0
            case .credit: length == 4
            case .ping, .pong: length == 8
            case .goAway: length >= 8
            case .hello: length >= 6 && (length - 6) % 6 == 0
            default: true
            }
        guard lengthAllowed else {
            throw WireError(.invalidPayloadLength, "\(type) with a payload of \(length) bytes")
        }
    }
}

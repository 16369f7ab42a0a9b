import NIOCore

/// The GOAWAY payload: the last call id the sender will answer, an error code and debug text
/// (SPEC.md section 8).
public struct GoAway: Hashable, Sendable {
    /// A GOAWAY `error_code`. Unknown values are kept; ``isKnown`` tells them apart.
    public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// Graceful shutdown, idle timeout, or a client going away.
        public static let noError = ErrorCode(rawValue: 0)
        /// Any connection error without a more specific code.
        public static let protocolError = ErrorCode(rawValue: 1)
        /// A frame over the receiver's `MAX_FRAME_SIZE`.
        public static let frameTooLarge = ErrorCode(rawValue: 2)
        /// Bad magic, unsupported version, no HELLO first, or no HELLO in time.
        public static let handshakeFailed = ErrorCode(rawValue: 3)
        /// The sender failed.
        public static let internalError = ErrorCode(rawValue: 4)
        /// Too many connections, or a peer that is not allowed.
        public static let refused = ErrorCode(rawValue: 5)

        public var isKnown: Bool { self.rawValue <= 5 }

        public var description: String {
            switch self.rawValue {
            case 0: "NO_ERROR"
            case 1: "PROTOCOL_ERROR"
            case 2: "FRAME_TOO_LARGE"
            case 3: "HANDSHAKE_FAILED"
            case 4: "INTERNAL_ERROR"
            case 5: "REFUSED"
            default: "PROTOCOL_ERROR(\(self.rawValue))"
            }
        }
    }

    /// The highest call id the sender will still answer (0 from a client).
    public var lastCallID: UInt32
    public var errorCode: ErrorCode
    /// Free text for logs. Invalid UTF-8 is repaired, not rejected.
    public var debug: String

    public init(lastCallID: UInt32, errorCode: ErrorCode, debug: String = "") {
        self.lastCallID = lastCallID
        self.errorCode = errorCode
        self.debug = debug
    }

    var encodedLength: Int { 8 + self.debug.utf8.count }

    func write(into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(self.lastCallID, self.errorCode.rawValue)
        buffer.writeString(self.debug)
    }

    /// Parses a GOAWAY payload whose length (at least 8) was already checked.
    static func decode(_ payload: ByteBuffer) -> GoAway {
        var payload = payload
        let (last, code) = payload.readMultipleIntegers(as: (UInt32, UInt32).self) ?? (0, 1)
        let debug = payload.readableBytesView.isEmpty ? "" : String(decoding: payload.readableBytesView, as: UTF8.self)
        return GoAway(lastCallID: last, errorCode: ErrorCode(rawValue: code), debug: debug)
    }
}

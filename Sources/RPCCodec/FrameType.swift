/// The `type` byte of a frame header (SPEC.md section 2).
public struct FrameType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let hello = FrameType(rawValue: 0x01)
    public static let request = FrameType(rawValue: 0x02)
    public static let response = FrameType(rawValue: 0x03)
    public static let cancel = FrameType(rawValue: 0x04)
    public static let ping = FrameType(rawValue: 0x05)
    public static let pong = FrameType(rawValue: 0x06)
    public static let goAway = FrameType(rawValue: 0x07)
    /// Version 2: one message of a server-streaming call (server to client).
    public static let streamMessage = FrameType(rawValue: 0x08)
    /// Version 2: credit for a stream's messages (client to server).
    public static let credit = FrameType(rawValue: 0x09)

    /// Whether protocol `version` defines this type: 0x01-0x07 in version 1, up to 0x09 from version 2.
    public func isKnown(inVersion version: UInt16) -> Bool {
        version >= 2 ? (0x01...0x09).contains(self.rawValue) : (0x01...0x07).contains(self.rawValue)
    }

    /// Every frame but HELLO, PING, PONG and GOAWAY belongs to a call and needs a non-zero call id.
    public var isCallFrame: Bool { self != .hello && self != .ping && self != .pong && self != .goAway }

    public var description: String {
        switch self {
        case .hello: "HELLO"
        case .request: "REQUEST"
        case .response: "RESPONSE"
        case .cancel: "CANCEL"
        case .ping: "PING"
        case .pong: "PONG"
        case .goAway: "GOAWAY"
        case .streamMessage: "STREAM_MESSAGE"
        case .credit: "CREDIT"
        default: "0x" + String(self.rawValue, radix: 16)
        }
    }
}

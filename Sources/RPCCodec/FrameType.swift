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

    /// Whether version 1 defines this type.
    public var isKnown: Bool { (0x01...0x07).contains(self.rawValue) }

    /// REQUEST, RESPONSE and CANCEL belong to a call and need a non-zero call id.
    public var isCallFrame: Bool { self == .request || self == .response || self == .cancel }

    public var description: String {
        switch self {
        case .hello: "HELLO"
        case .request: "REQUEST"
        case .response: "RESPONSE"
        case .cancel: "CANCEL"
        case .ping: "PING"
        case .pong: "PONG"
        case .goAway: "GOAWAY"
        default: "0x" + String(self.rawValue, radix: 16)
        }
    }
}

/// Which side of a connection a decoder or encoder works for.
public enum ConnectionRole: Hashable, Sendable {
    /// The side that connected: sends REQUEST, CANCEL and CREDIT, receives RESPONSE and STREAM_MESSAGE.
    case client
    /// The side that accepted: receives REQUEST, CANCEL and CREDIT, sends RESPONSE and STREAM_MESSAGE.
    case server

    /// Whether a peer of the other role may send this frame type to this role.
    func receives(_ type: FrameType) -> Bool {
        switch self {
        case .server: type != .response && type != .streamMessage
        case .client: type != .request && type != .cancel && type != .credit
        }
    }
}

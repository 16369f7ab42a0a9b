/// Which side of a connection a decoder or encoder works for.
public enum ConnectionRole: Hashable, Sendable {
    /// The side that connected: sends REQUEST and CANCEL, receives RESPONSE.
    case client
    /// The side that accepted: receives REQUEST and CANCEL, sends RESPONSE.
    case server

    /// Whether a peer of the other role may send this frame type to this role.
    func receives(_ type: FrameType) -> Bool {
        switch self {
        case .server: type != .response
        case .client: type != .request && type != .cancel
        }
    }
}

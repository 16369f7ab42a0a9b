/// A failure to start or run a server or to reach one: lifecycle, not an RPC status.
public struct TransportError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case socketPathTooLong, socketInUse, socketPathNotASocket, bindFailed, connectFailed, connectionClosed, serverGoingAway
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { self.value.rawValue }

        /// The path does not fit `sun_path` (107 bytes and a NUL on Linux).
        public static let socketPathTooLong = Code(.socketPathTooLong)
        /// A live server answers on the path; it was left alone.
        public static let socketInUse = Code(.socketInUse)
        /// Something that is not a socket sits at the path; it was left alone.
        public static let socketPathNotASocket = Code(.socketPathNotASocket)
        /// bind(2), listen(2) or chmod(2) failed.
        public static let bindFailed = Code(.bindFailed)
        /// connect(2) failed or the handshake did not complete.
        public static let connectFailed = Code(.connectFailed)
        /// The connection closed.
        public static let connectionClosed = Code(.connectionClosed)
        /// The server answered a new connection with GOAWAY `NO_ERROR` instead of its HELLO: it is
        /// shutting down (SPEC.md section 3). Nothing was sent; connecting again may reach the server
        /// that takes its place (socket activation keeps the socket).
        public static let serverGoingAway = Code(.serverGoingAway)
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { self.message }
}

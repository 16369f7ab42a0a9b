import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// The listening socket a service manager handed over (socket activation, sd_listen_fds(3)): systemd
/// keeps it open while the service restarts, so a connection made meanwhile waits in its backlog instead
/// of being refused.
public enum SocketActivation {
    /// A Unix stream socket handed over: its descriptor, and the path it is bound to.
    public struct UnixListener: Sendable {
        public var descriptor: Int32
        public var path: String
    }

    /// What was handed over is not one listening Unix stream socket.
    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
    }

    /// The listening Unix stream socket handed over to this process (`LISTEN_FDS`, `LISTEN_PID`), or nil
    /// when none was. The variables are unset, so that no child process takes them for its own.
    /// - Throws: ``Refusal`` when the manager passed more than one descriptor, or one that is not a
    ///   listening Unix stream socket (the `.socket` unit must have exactly one `ListenStream=` path).
    public static func unixListener() throws -> UnixListener? {
        let count = sd_listen_fds(1)
        if count < 0 { throw Refusal(description: "LISTEN_FDS cannot be read: \(String(cString: strerror(-count)))") }
        if count == 0 { return nil }
        guard count == 1 else {
            throw Refusal(description: "the service manager passed \(count) sockets; feedbackd serves one (one ListenStream= in its .socket unit)")
        }
        let descriptor: Int32 = 3  // SD_LISTEN_FDS_START
        guard sd_is_socket_unix(descriptor, Int32(SOCK_STREAM.rawValue), 1, nil, 0) > 0 else {
            throw Refusal(description: "the socket the service manager passed is not a listening Unix stream socket (ListenStream= must be a path)")
        }
        return UnixListener(descriptor: descriptor, path: Self.path(of: descriptor))
    }

    /// The path a Unix socket is bound to ("" when unnamed).
    static func path(of descriptor: Int32) -> String {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { return "" }
        return withUnsafeBytes(of: address.sun_path) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

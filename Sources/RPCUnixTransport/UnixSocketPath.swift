#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks and prepares the path a server binds to.
enum UnixSocketPath {
    /// `sun_path` holds 108 bytes on Linux, one of them the terminating NUL.
    static let maxLength = 107

    /// Refuses a path that is too long, that a live server answers on, or that is not a socket;
    /// removes a stale socket file (one nobody listens on).
    /// - Throws: ``TransportError``.
    static func prepareForBind(_ path: String) throws(TransportError) {
        try self.checkLength(path)
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // nothing there
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw TransportError(.socketPathNotASocket, "\(path) exists and is not a socket; refusing to replace it")
        }
        if self.isLive(path) {
            throw TransportError(.socketInUse, "another server is listening on \(path); refusing to start")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw TransportError(.bindFailed, "cannot remove the stale socket \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func checkLength(_ path: String) throws(TransportError) {
        let length = path.utf8.count
        guard length > 0, length <= self.maxLength else {
            throw TransportError(
                .socketPathTooLong,
                "socket path is \(length) bytes; a Unix socket path must be 1 to \(self.maxLength) bytes: \(path)"
            )
        }
    }

    /// Whether something accepts connections on `path` (a blocking connect, local and immediate).
    static func isLive(_ path: String) -> Bool {
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(self.maxLength).enumerated() { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    /// Sets the socket file's permission bits.
    static func setMode(_ path: String, _ mode: UInt32) throws(TransportError) {
        guard chmod(path, mode_t(mode)) == 0 else {
            throw TransportError(.bindFailed, "chmod \(String(mode, radix: 8)) \(path) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Removes the socket file if it is still a socket.
    static func remove(_ path: String) {
        var info = stat()
        if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK {
            unlink(path)
        }
    }
}

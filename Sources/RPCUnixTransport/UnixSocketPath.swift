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

    /// A Unix stream socket bound at `path` and listening, made here rather than by NIO's bootstrap, whose
    /// server socket unlinks whatever file is at its path when it closes (even one another process put
    /// there since): this server removes its file itself, only if it is still the one it made
    /// (``remove(_:ifStill:)``).
    static func makeListeningSocket(_ path: String, backlog: Int32) throws(TransportError) -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw TransportError(.bindFailed, "cannot listen on \(path): \(SocketErrorText.bind(errno: errno))")
        }
        let bound = Self.withAddress(path) { bind(descriptor, $0, $1) }
        guard bound == 0, listen(descriptor, backlog) == 0 else {
            let code = errno
            close(descriptor)
            throw TransportError(.bindFailed, "cannot listen on \(path): \(SocketErrorText.bind(errno: code))")
        }
        return descriptor
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
        return Self.withAddress(path) { connect(fd, $0, $1) } == 0
    }

    /// Calls `body` with `path` as a `sockaddr_un` (at most ``maxLength`` bytes of it) and its length.
    static func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(self.maxLength).enumerated() { raw[index] = byte }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Sets the socket file's permission bits.
    static func setMode(_ path: String, _ mode: UInt32) throws(TransportError) {
        guard chmod(path, mode_t(mode)) == 0 else {
            throw TransportError(.bindFailed, "chmod \(String(mode, radix: 8)) \(path) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// The file at `path`: device, inode and status-change time (an inode number is reused as soon as a
    /// file is deleted, so a file made at the path since has the same one often; not the same ctime to
    /// the nanosecond).
    struct FileIdentity: Equatable, Sendable {
        var device: UInt64
        var inode: UInt64
        var changed: timespec

        init(_ info: stat) {
            self.device = UInt64(info.st_dev)
            self.inode = UInt64(info.st_ino)
            self.changed = info.st_ctim
        }

        static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.device == rhs.device && lhs.inode == rhs.inode
                && lhs.changed.tv_sec == rhs.changed.tv_sec && lhs.changed.tv_nsec == rhs.changed.tv_nsec
        }
    }

    static func identity(of path: String) -> FileIdentity? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return FileIdentity(info)
    }

    /// Removes the socket file if it is still a socket, and still the one `made` names (the file this
    /// server bound): a file another process put there since (a newer feedbackd, systemd's socket unit)
    /// is left alone.
    static func remove(_ path: String, ifStill made: FileIdentity?) {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return }
        guard let made, made == FileIdentity(info) else { return }
        unlink(path)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Which file a path names right now: device and inode. Two identities differ when the file at a path
/// was deleted, replaced (`mv other.db chat.db`) or its directory removed, even though an open handle
/// still writes happily to the old one.
struct FileIdentity: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64

    /// The identity of the file at `path`, or nil when there is none (or it cannot be stat'ed).
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
    }
}

/// Bytes free for an unprivileged writer in the file system holding `path`, or nil when unknown.
func availableBytes(at path: String) -> UInt64? {
    var info = statvfs()
    guard statvfs(path, &info) == 0 else { return nil }
    return UInt64(info.f_bavail) * UInt64(info.f_frsize)
}

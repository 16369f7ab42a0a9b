/// Who is on the other end of a Unix socket, from the kernel (SO_PEERCRED), not from the peer.
public struct PeerCredentials: Hashable, Sendable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    public var description: String { "pid=\(self.pid) uid=\(self.uid) gid=\(self.gid)" }
}

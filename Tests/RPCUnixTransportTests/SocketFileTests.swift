import FeedbackTestSupport
import Foundation
import Logging
import RPCCore
import RPCUnixTransport
import Testing

@Suite("The socket file")
struct SocketFileTests {
    static func server(_ path: String, mode: UInt32 = 0o660) -> UnixSocketServer {
        var configuration = ServerConfiguration(socketPath: path)
        configuration.socketMode = mode
        return UnixSocketServer(configuration: configuration, router: RPCRouter(services: [TestService()]), logger: quietLogger())
    }

    @Test("created with mode 0660 by default, or the configured mode; removed on graceful shutdown")
    func modeAndRemoval() async throws {
        for mode: UInt32 in [0o660, 0o600] {
            let path = try await withServer(services: [TestService()], configure: { $0.socketMode = mode }) { path, _ in
                let attributes = try FileManager.default.attributesOfItem(atPath: path)
                #expect((attributes[.posixPermissions] as? Int).map(UInt32.init) == mode)
                #expect(attributes[.type] as? FileAttributeType == .typeSocket)
                return path
            }
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    @Test("a second server on a live socket refuses to start and leaves the first one serving")
    func liveSocketRefused() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let error = await #expect(throws: TransportError.self) { try await Self.server(path).run() }
            #expect(error?.code == .socketInUse)
            #expect(error?.message.contains(path) == true)
            let raw = try RawConnection(path: path)
            try raw.send(callID: 1, request(TestService.echo, [4]))
            #expect(try await raw.receiveSkippingHello()?.response?.response.code == 0)
        }
    }

    @Test("a stale socket file (nobody listening) is replaced")
    func staleSocketReplaced() async throws {
        let path = uniqueSocketPath()
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(fd)  // the file stays: a crashed server's leftover
        #expect(FileManager.default.fileExists(atPath: path))
        try await withServer(services: [TestService()], configure: { $0.socketPath = path }) { path, _ in
            let raw = try RawConnection(path: path)
            try raw.send(callID: 1, request(TestService.echo))
            #expect(try await raw.receiveSkippingHello()?.response?.response.code == 0)
        }
    }

    @Test("a path that is not a socket is left alone and reported")
    func notASocket() async throws {
        let path = uniqueSocketPath()
        #expect(FileManager.default.createFile(atPath: path, contents: Data("precious".utf8)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = await #expect(throws: TransportError.self) { try await Self.server(path).run() }
        #expect(error?.code == .socketPathNotASocket)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious")
    }

    @Test("a path too long for sun_path is a clear error, for the server and the client")
    func pathTooLong() async throws {
        let path = "/tmp/" + String(repeating: "x", count: 110) + ".sock"
        let error = await #expect(throws: TransportError.self) { try await Self.server(path).run() }
        #expect(error?.code == .socketPathTooLong)
        #expect(error?.message.contains("1 to 107 bytes") == true)
        let clientError = await #expect(throws: TransportError.self) { try await ClientConnection.connect(to: path) }
        #expect(clientError?.code == .socketPathTooLong)
    }

    @Test("a failed connect says why in the system's words and what usually causes it, without NIO's internals")
    func connectFailuresReadable() async throws {
        let missing = uniqueSocketPath()
        let absent = await #expect(throws: TransportError.self) { try await ClientConnection.connect(to: missing) }
        #expect(absent?.code == .connectFailed)
        #expect(absent?.message == "cannot connect to \(missing): no such file or directory (is feedbackd running, and is this its --socket or FEEDBACK_SOCKET?)")

        // A socket file nobody listens on (a server killed with SIGKILL leaves one): ECONNREFUSED.
        let stale = uniqueSocketPath()
        close(try Self.bindSocketFile(at: stale))
        defer { unlink(stale) }
        let refused = await #expect(throws: TransportError.self) { try await ClientConnection.connect(to: stale) }
        #expect(refused?.message == "cannot connect to \(stale): connection refused (a socket file with no server behind it: feedbackd stopped)")
        for message in [absent?.message, refused?.message] {
            let text = message ?? ""
            #expect(!text.contains("errno") && !text.contains("descriptor") && !text.contains("IOError"), "\(text)")
            #expect(text.filter { $0 == "(" }.count == text.filter { $0 == ")" }.count, "\(text)")
        }
    }

    @Test("listening in a directory that does not exist is a clear error")
    func bindInMissingDirectory() async throws {
        let path = "/tmp/fbt-missing-\(UInt32.random(in: .min ... .max))/feedback.sock"
        let error = await #expect(throws: TransportError.self) { try await Self.server(path).run() }
        #expect(error?.code == .bindFailed)
        #expect(error?.message == "cannot listen on \(path): no such file or directory (its directory does not exist: create it, or give another --socket)")
    }

    @Test("on shutdown the server removes its own socket file, never one put at its path since (a newer server's, systemd's)")
    func removesOnlyItsOwnFile() async throws {
        var other: Int32 = -1
        var placed = stat()
        let path = try await withServer(services: [TestService()]) { path, _ in
            #expect(unlink(path) == 0)
            other = try Self.bindSocketFile(at: path)
            #expect(lstat(path, &placed) == 0)
            return path
        }
        defer {
            close(other)
            unlink(path)
        }
        var after = stat()
        #expect(lstat(path, &after) == 0, "the other socket file is still there")
        #expect(after.st_ino == placed.st_ino && after.st_dev == placed.st_dev)
    }

    /// A Unix stream socket bound at `path` (its file made), not listening; the caller closes it.
    static func bindSocketFile(at path: String) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return descriptor
    }
}

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
}

import Foundation
import NIOCore
import RPCCodec

/// A Unix-socket client that speaks raw frames, for tests of the wire behaviour itself.
///
/// The socket is non-blocking and reads poll with short sleeps, so a test never blocks a thread of the
/// cooperative pool that the in-process server also runs on.
public final class RawConnection: @unchecked Sendable {
    private let fd: Int32
    private var decoder = FrameDecoder(role: .client)
    private var buffer = ByteBuffer()
    public private(set) var closedByPeer = false

    public init(path: String, sendHello: Bool = true) throws {
        self.fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(self.fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
        _ = fcntl(self.fd, F_SETFL, fcntl(self.fd, F_GETFL) | O_NONBLOCK)
        if sendHello { self.send(.hello(Hello())) }
    }

    private var isClosed = false

    deinit { if !self.isClosed { close(self.fd) } }

    /// Closes the socket now. With bytes it has not read, the kernel resets the connection: the server's
    /// next read fails (ECONNRESET) instead of seeing an orderly end of stream.
    public func closeNow() {
        guard !self.isClosed else { return }
        self.isClosed = true
        close(self.fd)
    }

    /// Waits until bytes are ready to read (the kernel's signal, through poll(2) on a Dispatch thread, for
    /// at most 10 s), without reading them.
    public func waitUntilReadable() async throws {
        let fd = self.fd
        let ready = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                continuation.resume(returning: poll(&descriptor, 1, 10_000) > 0)
            }
        }
        guard ready else { throw POSIXError(.ETIMEDOUT) }
    }

    /// Ends the sending side (the peer reads end of stream); answers can still be read.
    public func shutdownWrite() {
        shutdown(self.fd, Int32(SHUT_WR))
    }

    /// Writes all of `bytes` (looping over partial writes).
    public func send(bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(self.fd, raw.baseAddress! + offset, raw.count - offset)
                if written > 0 {
                    offset += written
                } else if errno == EAGAIN {
                    usleep(1000)
                } else {
                    return
                }
            }
        }
    }

    public func send(_ frame: Frame) {
        var out = ByteBuffer()
        out.writeFrame(frame)
        self.send(bytes: Array(out.readableBytesView))
    }

    public func send(callID: UInt32, _ request: Request) throws {
        var out = ByteBuffer()
        try out.writeRequestFrame(callID: callID, request)
        self.send(bytes: Array(out.readableBytesView))
    }

    /// The next frame, or nil when the server closed the connection (or 5 s passed).
    public func receive() async throws -> Frame? {
        while true {
            if let frame = try self.decoder.decode(buffer: &self.buffer) { return frame }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let deadline = ContinuousClock.now + .seconds(10)
            var count = 0
            while true {
                count = chunk.withUnsafeMutableBytes { read(self.fd, $0.baseAddress, $0.count) }
                guard count < 0, errno == EAGAIN || errno == EWOULDBLOCK, ContinuousClock.now < deadline else { break }
                try await Task.sleep(for: .milliseconds(2))
            }
            if count <= 0 {
                self.closedByPeer = true
                return nil
            }
            self.buffer.writeBytes(chunk.prefix(count))
        }
    }

    /// The next frame that is not the server's HELLO.
    public func receiveSkippingHello() async throws -> Frame? {
        let frame = try await self.receive()
        if case .hello = frame { return try await self.receive() }
        return frame
    }

    /// Reads until the server closes, returning what came.
    public func receiveUntilClosed() async throws -> [Frame] {
        var frames: [Frame] = []
        while let frame = try await self.receive() { frames.append(frame) }
        return frames
    }
}

extension Frame {
    /// The decoded RESPONSE, or nil.
    public var response: (callID: UInt32, response: Response)? {
        guard case .response(let id, let payload) = self, let response = try? Response(decoding: payload) else { return nil }
        return (id, response)
    }
}

public func request(_ method: String, _ body: [UInt8] = [], timeoutMs: UInt32? = nil, metadata: [(String, String)] = []) throws -> Request {
    var wire = WireMetadata()
    for (key, value) in metadata { try wire.add(key, value) }
    return Request(method: method, timeoutMilliseconds: timeoutMs, metadata: wire, body: ByteBuffer(bytes: body))
}

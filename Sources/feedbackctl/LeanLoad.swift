import FeedbackProtos
import Foundation
import NIOCore
import RPCCodec
import RPCCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The load of `feedbackctl bench --engine lean`: one thread per connection on a blocking Unix socket,
/// its share of the calls always in flight, requests encoded with the codec and written in one
/// `write` per batch of answers read. It spends a few microseconds per call, so that the figures
/// measure feedbackd rather than the load generator (the Swift client library, with a task and a
/// continuation per call, costs as much CPU per call as the server does).
struct LeanLoad: Sendable {
    var socket: String
    var method: Bench.Method
    var token: String
    var rows: Int64
    var timeoutMs: Int64
    var inFlight: Int

    /// Runs one connection until `run` ends and every call it sent is answered.
    func connection(_ run: BenchRun) throws -> WorkerResult {
        let fd = try Self.connect(self.socket)
        defer { Glibc.close(fd) }
        var result = WorkerResult()
        var outgoing = ByteBuffer()
        outgoing.writeFrame(.hello(Hello()))
        var started: [UInt32: ContinuousClock.Instant] = [:]
        started.reserveCapacity(self.inFlight)
        var nextCallID: UInt32 = 1
        var done = false

        func issue() throws {
            while !done, started.count < self.inFlight {
                guard let sequence = run.next() else {
                    done = true
                    return
                }
                try outgoing.writeRequestFrame(callID: nextCallID, try self.request(sequence))
                started[nextCallID] = .now
                nextCallID += 1
            }
        }

        try issue()
        var decoder = FrameDecoder(role: .client)
        var incoming = ByteBuffer()
        incoming.reserveCapacity(1 << 16)
        while !started.isEmpty || outgoing.readableBytes > 0 {
            try Self.writeAll(fd, &outgoing)
            if started.isEmpty { break }
            do {
                try Self.read(fd, into: &incoming)
            } catch {
                // The connection ended under the calls still waiting: each is an error of its own.
                result.errors["UNAVAILABLE", default: 0] += started.count
                for _ in started { run.finished() }
                return result
            }
            while let frame = try decoder.decode(buffer: &incoming) {
                switch frame {
                case .response(let callID, let payload):
                    guard let begun = started.removeValue(forKey: callID) else { continue }
                    result.latencies.append(UInt32(clamping: (ContinuousClock.now - begun).microseconds))
                    let code = payload.getInteger(at: payload.readerIndex, as: UInt32.self).map(StatusCode.init(rawValue:)) ?? .internal
                    if code != .ok { result.errors[code.name, default: 0] += 1 }
                    run.finished()
                case .goAway(let goAway):
                    // Calls above last_call_id were not processed; the rest will still be answered.
                    for id in started.keys where id > goAway.lastCallID {
                        started[id] = nil
                        result.errors["UNAVAILABLE", default: 0] += 1
                    }
                    done = true
                case .ping(let opaque):
                    outgoing.writeFrame(.pong(opaque))
                case .hello, .pong, .request, .streamRequest, .cancel, .streamMessage, .credit:
                    break
                }
            }
            incoming.discardReadBytes()
            try issue()
        }
        return result
    }

    private func request(_ sequence: Int) throws -> Request {
        var metadata = WireMetadata()
        switch self.method {
        case .health:
            return Request(method: MethodPaths.Health.check, timeoutMilliseconds: UInt32(clamping: self.timeoutMs), body: ByteBuffer())
        case .submit:
            try metadata.add("authorization", "Bearer \(self.token)")
            var message = Feedback_V1_SubmitFeedbackRequest()
            message.interactionID = Int64(sequence) % self.rows + 1
            message.rating = sequence % 2 == 0 ? 1 : -1
            return Request(
                method: MethodPaths.Feedback.submitFeedback,
                timeoutMilliseconds: UInt32(clamping: self.timeoutMs),
                metadata: metadata,
                body: ByteBuffer(bytes: try message.serializedBytes() as [UInt8])
            )
        }
    }

    private static func connect(_ path: String) throws -> Int32 {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoadError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            Glibc.close(fd)
            throw LoadError("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes + [0]) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw LoadError("connect \(path): \(reason)")
        }
        return fd
    }

    private static func writeAll(_ fd: Int32, _ buffer: inout ByteBuffer) throws {
        while buffer.readableBytes > 0 {
            let written = buffer.withUnsafeReadableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { throw LoadError("write: \(String(cString: strerror(errno)))") }
            buffer.moveReaderIndex(forwardBy: written)
        }
        buffer.clear()
    }

    private static func read(_ fd: Int32, into buffer: inout ByteBuffer) throws {
        while true {
            var count = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1 << 16) { space in
                count = Glibc.read(fd, space.baseAddress, space.count)
                return max(count, 0)
            }
            if count > 0 { return }
            if count < 0, errno == EINTR { continue }
            throw LoadError(count == 0 ? "feedbackd closed the connection" : "read: \(String(cString: strerror(errno)))")
        }
    }
}

struct LoadError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension LeanLoad {
    /// Runs `connections` connections on threads of their own (they block), splitting `inFlight` calls
    /// over them, and returns what each saw.
    static func run(_ load: LeanLoad, connections: Int, _ run: BenchRun) async throws -> [WorkerResult] {
        final class Results: Sendable {
            let all = Mutex<[Result<WorkerResult, any Error>]>([])
        }
        let results = Results()
        let group = DispatchGroup()
        for index in 0..<connections {
            var share = load
            share.inFlight = load.inFlight / connections + (index < load.inFlight % connections ? 1 : 0)
            group.enter()
            Thread { [share] in
                let result = Result { try share.connection(run) }
                results.all.withLock { $0.append(result) }
                group.leave()
            }.start()
        }
        return try await withCheckedThrowingContinuation { continuation in
            group.notify(queue: .global()) {
                continuation.resume(with: Result { try results.all.withLock { $0 }.map { try $0.get() } })
            }
        }
    }
}

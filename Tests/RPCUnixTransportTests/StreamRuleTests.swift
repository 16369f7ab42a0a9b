import AsyncOneShot
import FeedbackTestSupport
import NIOCore
import RPCCodec
import RPCCore
import RPCUnixTransport
import Synchronization
import Testing

/// Server-streaming calls (protocol version 2, SPEC.md section 16) over both transports: the same rules
/// whether the stream crosses the socket or not; then what only the socket has (versions, credit
/// frames, GOAWAY).
@Suite("Server-streaming calls over the socket and in process", .timeLimit(.minutes(2)))
struct StreamRuleTests {
    static let kinds = TransportKind.allCases

    static func read(_ stream: ClientStream) async throws -> [[UInt8]] {
        var received: [[UInt8]] = []
        for try await message in stream { received.append(message) }
        return received
    }

    @Test("every message, in order, then OK: 1,000 messages cross many grants of credit", arguments: kinds)
    func messagesThenOK(kind: TransportKind) async throws {
        try await withTransport(kind, services: [Counter()]) { transport in
            let received = try await Self.read(await transport.serverStream(method: Counter.count, request: [3, 232], metadata: [], timeout: nil))
            #expect(received.count == 1000)
            #expect(received.enumerated().allSatisfy { index, message in message == Counter.message(index) })
        }
    }

    @Test("a handler's error ends the stream after its messages, with the error's status", arguments: kinds)
    func errorAfterMessages(kind: TransportKind) async throws {
        try await withTransport(kind, services: [Counter()]) { transport in
            var received = 0
            let error = await #expect(throws: RPCError.self) {
                for try await _ in await transport.serverStream(method: Counter.failAfterTwo, request: [], metadata: [], timeout: nil) { received += 1 }
            }
            #expect(error?.code == .notFound)
            #expect(error?.metadata.first("x-trailer") == "kept")
            #expect(received == 2)
        }
    }

    @Test("the deadline ends an endless stream DEADLINE_EXCEEDED, and its handler stops", arguments: kinds)
    func deadline(kind: TransportKind) async throws {
        let counter = Counter()
        try await withTransport(kind, services: [counter]) { transport in
            let error = await #expect(throws: RPCError.self) {
                for try await _ in await transport.serverStream(method: Counter.forever, request: [], metadata: [], timeout: .milliseconds(200)) {}
            }
            #expect(error?.code == .deadlineExceeded)
            await counter.ended.value()
        }
    }

    @Test("a reader that stops reading (break) cancels the call: the handler stops", arguments: kinds)
    func breakCancels(kind: TransportKind) async throws {
        let counter = Counter()
        try await withTransport(kind, services: [counter]) { transport in
            var read = 0
            for try await _ in await transport.serverStream(method: Counter.forever, request: [], metadata: [], timeout: nil) {
                read += 1
                if read == 3 { break }
            }
            await counter.ended.value()
        }
    }

    @Test("the wrong kind of call is UNIMPLEMENTED and runs nothing: a unary method as a stream", arguments: kinds)
    func unaryAsStream(kind: TransportKind) async throws {
        let counter = Counter()
        try await withTransport(kind, services: [counter]) { transport in
            let error = await #expect(throws: RPCError.self) {
                _ = try await Self.read(await transport.serverStream(method: Counter.unary, request: [], metadata: [], timeout: nil))
            }
            #expect(error?.code == .unimplemented)
            let reverse = await #expect(throws: RPCError.self) {
                try await transport.unary(method: Counter.count, request: [0, 1], metadata: [], timeout: nil)
            }
            #expect(reverse?.code == .unimplemented)
        }
        #expect(counter.started == 0)
    }

    // MARK: the socket only

    @Test("a version-1 client of a version-2 server: unary calls work, a stream fails UNIMPLEMENTED having sent nothing")
    func versionOneClient() async throws {
        let counter = Counter()
        try await withServer(services: [counter]) { path, _ in
            let connection = try await ClientConnection.connect(to: path, version: 1)
            let unary = try await connection.call(Request(method: Counter.unary, body: ByteBuffer()))
            #expect(unary.code == 0)
            let error = await #expect(throws: RPCError.self) {
                _ = try await Self.read(connection.serverStream(Request(method: Counter.count, body: ByteBuffer(bytes: [0, 1]))))
            }
            #expect(error?.code == .unimplemented)
            await connection.close()
        }
        #expect(counter.started == 0)
    }

    @Test("a version-2 client of a version-1 server: unary calls work, a stream fails UNIMPLEMENTED having sent nothing")
    func versionOneServer() async throws {
        let counter = Counter()
        try await withServer(services: [counter], configure: { $0.protocolVersion = 1 }) { path, _ in
            let connection = try await ClientConnection.connect(to: path)
            #expect(try await connection.call(Request(method: Counter.unary, body: ByteBuffer())).code == 0)
            let error = await #expect(throws: RPCError.self) {
                _ = try await Self.read(connection.serverStream(Request(method: Counter.count, body: ByteBuffer(bytes: [0, 1]))))
            }
            #expect(error?.code == .unimplemented)
            await connection.close()
        }
        #expect(counter.started == 0)
    }

    @Test("graceful shutdown ends a stream in progress UNAVAILABLE (GOAWAY), and the server stops")
    func shutdownEndsStreams() async throws {
        let counter = Counter()
        try await withServer(services: [counter]) { path, server in
            let connection = try await ClientConnection.connect(to: path)
            var read = 0
            let error = await #expect(throws: RPCError.self) {
                for try await _ in connection.serverStream(Request(method: Counter.forever, body: ByteBuffer())) {
                    read += 1
                    if read == 1 { await server.triggerShutdown() }
                }
            }
            #expect(error?.code == .unavailable)
            await counter.ended.value()
        }
    }

    @Test("a reader that never grants more credit gets one message, then RESOURCE_EXHAUSTED after the stall timeout")
    func stalledReader() async throws {
        let counter = Counter()
        try await withServer(services: [counter], configure: { $0.calls.streamStallTimeout = .milliseconds(300) }) { path, _ in
            let raw = try RawConnection(path: path)
            var request = try request(Counter.forever)
            request.isStream = true
            try raw.send(callID: 1, request)
            raw.send(.credit(callID: 1, increment: 1))
            var messages = 0
            while let frame = try await raw.receiveSkippingHello() {
                if case .streamMessage = frame { messages += 1 }
                if case .response(1, let payload) = frame {
                    let response = try Response(decoding: payload)
                    #expect(response.code == StatusCode.resourceExhausted.rawValue)
                    break
                }
            }
            #expect(messages == 1)
            raw.closeNow()
        }
    }

    @Test("a CREDIT beyond MAX_STREAM_CREDIT is a connection error (GOAWAY PROTOCOL_ERROR); one for an unknown call is ignored")
    func creditOverflow() async throws {
        try await withServer(services: [Counter()], configure: { $0.maxStreamCredit = 8 }) { path, _ in
            let raw = try RawConnection(path: path)
            raw.send(.credit(callID: 99, increment: 1_000))  // no such stream: ignored
            var request = try request(Counter.forever)
            request.isStream = true
            try raw.send(callID: 1, request)
            raw.send(.credit(callID: 1, increment: 9))
            let frames = try await raw.receiveUntilClosed()
            let goAway = frames.compactMap { frame -> GoAway? in if case .goAway(let goAway) = frame { goAway } else { nil } }.first
            #expect(goAway?.errorCode == .protocolError)
            #expect(goAway?.debug.contains("CREDIT_OVERFLOW") == true)
        }
    }
}

/// Streams for the rules above; signals the tests wait on.
final class Counter: RPCService, Sendable {
    static let count = "/stream.v1.Counter/Count"
    static let forever = "/stream.v1.Counter/Forever"
    static let failAfterTwo = "/stream.v1.Counter/FailAfterTwo"
    static let unary = "/stream.v1.Counter/Unary"

    private let startedCount = Atomic<Int>(0)
    let ended = OneShot<Void>()
    var started: Int { self.startedCount.load(ordering: .relaxed) }

    /// The message with index `index`: its two bytes, big-endian.
    static func message(_ index: Int) -> [UInt8] { [UInt8(index >> 8), UInt8(index & 0xFF)] }

    var methods: [String: RPCHandler] {
        [Self.unary: { [self] _, _ in
            _ = self.startedCount.load(ordering: .relaxed)
            return []
        }]
    }

    var streamingMethods: [String: ServerStreamingRPCHandler] {
        [
            // The request's two bytes are how many messages to send.
            Self.count: { [self] request, _, stream in
                self.startedCount.add(1, ordering: .relaxed)
                let count = request.count == 2 ? Int(request[0]) << 8 | Int(request[1]) : 0
                for index in 0..<count { try await stream.send(Self.message(index)) }
            },
            Self.forever: { [self] _, _, stream in
                self.startedCount.add(1, ordering: .relaxed)
                defer { self.ended.set(()) }
                var index = 0
                while true {
                    try await stream.send(Self.message(index & 0xFFFF))
                    index += 1
                }
            },
            Self.failAfterTwo: { [self] _, _, stream in
                self.startedCount.add(1, ordering: .relaxed)
                try await stream.send([0])
                try await stream.send([1])
                throw RPCError(code: .notFound, message: "no more", metadata: [("x-trailer", "kept")])
            },
        ]
    }
}

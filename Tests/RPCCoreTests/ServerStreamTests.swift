import AsyncOneShot
import Logging
import RPCCore
import Synchronization
import Testing

/// Server-streaming calls through the executor, in process: the rules of a stream (credit, deadline,
/// cancellation, the final status) before any transport carries them.
@Suite("Server-streaming calls, in process", .timeLimit(.minutes(1)))
struct ServerStreamTests {
    static func transport(_ service: StreamService, interceptors: [any ServerInterceptor] = []) -> InProcessTransport {
        var logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        logger.logLevel = .critical
        return InProcessTransport(router: RPCRouter(services: [service], interceptors: interceptors), logger: logger)
    }

    @Test("every message, in order, then the end (OK)")
    func messagesThenEnd() async throws {
        let transport = Self.transport(StreamService())
        var received: [[UInt8]] = []
        for try await message in transport.serverStream(method: StreamService.count, request: [5]) { received.append(message) }
        #expect(received == [[0], [1], [2], [3], [4]])
    }

    @Test("credit bounds the sender: with a window of 2 and nothing read, the handler waits after 2 messages; reading lets it go on")
    func creditBoundsTheSender() async throws {
        let service = StreamService()
        let transport = Self.transport(service)
        let stream = transport.serverStream(method: StreamService.count, request: [10], window: 2)
        #expect(await service.probe.blocked.value() == 2, "the handler ran out of credit after the window")
        var count = 0
        for try await _ in stream { count += 1 }
        #expect(count == 10)
    }

    @Test("the deadline ends a stream in progress: DEADLINE_EXCEEDED after the messages sent, and the handler stops")
    func deadline() async throws {
        let service = StreamService()
        let transport = Self.transport(service)
        var received = 0
        let error = await #expect(throws: RPCError.self) {
            for try await _ in transport.serverStream(method: StreamService.forever, request: [], timeout: .milliseconds(50)) { received += 1 }
        }
        #expect(error?.code == .deadlineExceeded)
        await service.probe.ended.value()
    }

    @Test("the reader's cancellation cancels the call: the handler's send throws and it ends")
    func cancelled() async throws {
        let service = StreamService()
        let transport = Self.transport(service)
        let reader = Task {
            for try await _ in transport.serverStream(method: StreamService.forever, request: [], window: 1) {}
        }
        await service.probe.firstSent.value()
        reader.cancel()
        _ = await reader.result
        await service.probe.ended.value()
    }

    /// Before: the handler waited for credit for ever once its reader stopped reading.
    @Test("a reader that stops reading (a break out of its loop) cancels the call: the handler ends")
    func readerStops() async throws {
        let service = StreamService()
        let transport = Self.transport(service)
        var received = 0
        for try await _ in transport.serverStream(method: StreamService.forever, request: [], window: 1) {
            received += 1
            if received == 2 { break }
        }
        await service.probe.ended.value()
    }

    @Test("a handler's error ends the stream with its status, after the messages it sent")
    func handlerError() async throws {
        let transport = Self.transport(StreamService())
        var received: [[UInt8]] = []
        let error = await #expect(throws: RPCError.self) {
            for try await message in transport.serverStream(method: StreamService.failAfterTwo, request: []) { received.append(message) }
        }
        #expect(received == [[0], [1]])
        #expect(error?.code == .notFound)
        #expect(error?.metadata.first("x-request-id") != nil)
    }

    @Test("an interceptor's refusal ends the stream before any message; a unary method is not a stream")
    func refusals() async throws {
        let refused = Self.transport(StreamService(), interceptors: [Refuse()])
        let error = await #expect(throws: RPCError.self) {
            for try await _ in refused.serverStream(method: StreamService.count, request: [3]) { Issue.record("a message went out") }
        }
        #expect(error?.code == .permissionDenied)
        let unary = await #expect(throws: RPCError.self) {
            for try await _ in Self.transport(StreamService()).serverStream(method: StreamService.unary, request: []) {}
        }
        #expect(unary?.code == .unimplemented)
    }
}

/// What the stream handlers did, as signals the tests wait on (the handlers run in tasks of their own).
final class StreamProbe: Sendable {
    private let sent = Mutex(0)
    /// How many messages were sent when the handler first found no credit.
    let blocked = OneShot<Int>()
    let firstSent = OneShot<Void>()
    let ended = OneShot<Void>()

    func sending(_ stream: ServerStream) {
        if stream.credit == 0 { self.blocked.set(self.sent.withLock { $0 }) }
    }

    func didSend() {
        self.sent.withLock { $0 += 1 }
        self.firstSent.set(())
    }

    func end() { self.ended.set(()) }
}

struct StreamService: RPCService {
    static let count = "/stream.v1.Stream/Count"
    static let forever = "/stream.v1.Stream/Forever"
    static let failAfterTwo = "/stream.v1.Stream/FailAfterTwo"
    static let unary = "/stream.v1.Stream/Unary"

    let probe = StreamProbe()

    var methods: [String: RPCHandler] {
        [Self.unary: { _, _ in [] }]
    }

    var streamingMethods: [String: ServerStreamingRPCHandler] {
        [
            // The request's first byte is how many messages to send: [0], [1], …
            Self.count: { [probe] request, _, stream in
                for index in 0..<Int(request.first ?? 0) {
                    probe.sending(stream)
                    try await stream.send([UInt8(index)])
                    probe.didSend()
                }
            },
            Self.forever: { [probe] _, _, stream in
                defer { probe.end() }
                var index: UInt8 = 0
                while true {
                    try await stream.send([index])
                    probe.didSend()
                    index &+= 1
                }
            },
            Self.failAfterTwo: { _, _, stream in
                try await stream.send([0])
                try await stream.send([1])
                throw RPCError(code: .notFound, message: "no more")
            },
        ]
    }
}

private struct Refuse: ServerInterceptor {
    func intercept(
        request: [UInt8], context: ServerContext, next: @Sendable ([UInt8], ServerContext) async throws -> [UInt8]
    ) async throws -> [UInt8] {
        throw RPCError(code: .permissionDenied, message: "refused")
    }
}

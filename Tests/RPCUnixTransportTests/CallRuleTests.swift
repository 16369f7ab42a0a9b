import FeedbackTestSupport
import Logging
import RPCCore
import Synchronization
import Testing

/// Every call rule of ``ServerCallExecutor``, run over the Unix socket and in process: the two
/// transports feed the same executor, so each test must give the same answer over both.
@Suite("Call rules, over the socket and in process", .timeLimit(.minutes(2)))
struct CallRuleTests {
    static let kinds = TransportKind.allCases

    @Test(
        "a call's request id: the caller's x-request-id, or a 16-hex-digit id the server made, seen by the handler and echoed",
        arguments: kinds, [RuleService.immediate, RuleService.deferred, RuleService.task]
    )
    func requestIDs(kind: TransportKind, method: String) async throws {
        try await withTransport(kind, services: [RuleService()]) { transport in
            let given = try await transport.unary(method: method, request: [], metadata: [("x-request-id", "caller-1")], timeout: nil)
            #expect(given.message == Array("caller-1".utf8))
            #expect(given.metadata.first("x-request-id") == "caller-1")

            let made = try await transport.unary(method: method, request: [], metadata: [], timeout: nil)
            let id = String(decoding: made.message, as: UTF8.self)
            #expect(id.count == 16 && id.allSatisfy(\.isHexDigit), "\(id)")
            #expect(made.metadata.first("x-request-id") == id)
        }
    }

    @Test("an unknown method is UNIMPLEMENTED before any interceptor runs", arguments: kinds)
    func unknownMethod(kind: TransportKind) async throws {
        let interceptor = CountingInterceptor()
        try await withTransport(kind, services: [RuleService()], interceptors: [interceptor]) { transport in
            let error = await #expect(throws: RPCError.self) {
                try await transport.unary(method: "/rules.v1.Rules/Nope", request: [], metadata: [], timeout: nil)
            }
            #expect(error?.code == .unimplemented)
            #expect(error?.metadata.first("x-request-id") != nil)
        }
        #expect(interceptor.calls == 0)
    }

    @Test(
        "a deadline already passed: DEADLINE_EXCEEDED and the handler never runs, whatever its kind",
        arguments: kinds, [RuleService.immediate, RuleService.deferred, RuleService.task]
    )
    func expiredDeadline(kind: TransportKind, method: String) async throws {
        let service = RuleService()
        try await withTransport(kind, services: [service]) { transport in
            let error = await #expect(throws: RPCError.self) {
                try await transport.unary(method: method, request: [], metadata: [], timeout: .zero)
            }
            #expect(error?.code == .deadlineExceeded)
        }
        #expect(service.probe.started == 0)
    }

    @Test(
        "the deadline withdraws work not started (deferred) or cancels the handler (task): DEADLINE_EXCEEDED",
        arguments: kinds, [RuleService.withdrawable, RuleService.hang]
    )
    func deadlineStopsWork(kind: TransportKind, method: String) async throws {
        try await withTransport(kind, services: [RuleService()]) { transport in
            let error = await #expect(throws: RPCError.self) {
                try await transport.unary(method: method, request: [], metadata: [], timeout: .milliseconds(20))
            }
            #expect(error?.code == .deadlineExceeded)
        }
    }

    @Test(
        "a cancel withdraws work not started (deferred) or cancels the handler (task): CANCELLED",
        arguments: kinds, [RuleService.withdrawable, RuleService.hang]
    )
    func cancelStopsWork(kind: TransportKind, method: String) async throws {
        let service = RuleService()
        try await withTransport(kind, services: [service]) { transport in
            let call = Task { try await transport.unary(method: method, request: [], metadata: [], timeout: nil) }
            try await waitUntil { service.probe.started == 1 }
            call.cancel()
            let error = await #expect(throws: RPCError.self) { try await call.value }
            #expect(error?.code == .cancelled)
        }
    }

    @Test("work the interrupt can no longer stop is answered with its real outcome, not DEADLINE_EXCEEDED", arguments: kinds)
    func underWay(kind: TransportKind) async throws {
        try await withTransport(kind, services: [RuleService()]) { transport in
            let response = try await transport.unary(method: RuleService.underWay, request: [], metadata: [], timeout: .milliseconds(20))
            #expect(response.message == [42])
        }
    }

    /// Before: in process, the caller of a handler that ignored its interrupt waited for ever.
    @Test(
        "a handler that ignores its interrupt: UNKNOWN once the grace passes (its work may still happen), logged and counted",
        arguments: kinds, [RuleService.stubbornDeferred, RuleService.stubbornTask]
    )
    func abandoned(kind: TransportKind, method: String) async throws {
        let service = RuleService()
        defer { service.probe.release() }
        let logs = CapturedLogs()
        try await withTransport(kind, services: [service], configure: { $0.interruptGrace = .milliseconds(100) }, logger: logs.logger()) {
            transport in
            let error = await #expect(throws: RPCError.self) {
                try await transport.unary(method: method, request: [], metadata: [], timeout: .milliseconds(20))
            }
            #expect(error?.code == .unknown)
            #expect(error?.message.contains("did not stop") == true, "the server's answer, not the client's")
        }
        let abandonedLines = logs.all.filter { $0.message == "rpc.handler_abandoned" }
        #expect(abandonedLines.count == 1)
        #expect(abandonedLines.first?.metadata["rpc.method"] == "\(method)")
    }

    @Test("a refusal by an interceptor that decides without waiting is the call's answer", arguments: kinds)
    func interceptorRefusal(kind: TransportKind) async throws {
        let service = RuleService()
        try await withTransport(kind, services: [service], interceptors: [RefusingInterceptor()]) { transport in
            let error = await #expect(throws: RPCError.self) {
                try await transport.unary(method: RuleService.deferred, request: [], metadata: [], timeout: nil)
            }
            #expect(error?.code == .permissionDenied)
        }
        #expect(service.probe.started == 0)
    }

    @Test("a server-streaming method over protocol version 1 is UNIMPLEMENTED, and its handler never runs")
    func streamOverVersion1() async throws {
        let streams = Streams()
        try await withTransport(.socket, services: [streams]) { transport in
            let error = await #expect(throws: RPCError.self) {
                try await transport.unary(method: Streams.path, request: [], metadata: [], timeout: nil)
            }
            #expect(error?.code == .unimplemented)
        }
        #expect(streams.probe.started == 0)
    }

    @Test("a failed call gets one rpc.call line with its status, request id and duration", arguments: kinds)
    func callLine(kind: TransportKind) async throws {
        let logs = CapturedLogs()
        try await withTransport(kind, services: [RuleService()], logger: logs.logger()) { transport in
            _ = try? await transport.unary(method: RuleService.notFound, request: [], metadata: [("x-request-id", "line-1")], timeout: nil)
            _ = try await transport.unary(method: RuleService.deferred, request: [], metadata: [], timeout: nil)
        }
        let lines = logs.all.filter { $0.message == "rpc.call" }
        #expect(lines.count == 1, "OK calls are not logged by default")
        #expect(lines.first?.metadata["rpc.status"] == "NOT_FOUND")
        #expect(lines.first?.metadata["rpc.request_id"] == "line-1")
        #expect(lines.first?.metadata["rpc.method"] == "\(RuleService.notFound)")
        #expect(lines.first?.metadata["rpc.duration_ms"] != nil)
    }
}

/// What the rule tests watch: how many handlers started, and the calls held by stubborn handlers.
final class RuleProbe: Sendable {
    private let state = Mutex<(started: Int, held: [DeferredCall])>((0, []))
    let gate = TestGate()

    var started: Int { self.state.withLock { $0.started } }

    func start() {
        self.state.withLock { $0.started += 1 }
    }

    func hold(_ call: DeferredCall) {
        self.state.withLock { $0.held.append(call) }
    }

    /// Lets the stubborn handlers end (their late answers are dropped).
    func release() {
        self.gate.open()
        for call in self.state.withLock({ $0.held }) { call.finish(.success([])) }
    }
}

/// One method per handler kind and per way a handler can meet an interrupt.
struct RuleService: RPCService {
    static let immediate = "/rules.v1.Rules/Immediate"
    static let deferred = "/rules.v1.Rules/Deferred"
    static let task = "/rules.v1.Rules/Task"
    /// Deferred; its queued work is withdrawn by an interrupt.
    static let withdrawable = "/rules.v1.Rules/Withdrawable"
    /// Deferred; an interrupt comes too late to stop it, and it finishes OK `[42]`.
    static let underWay = "/rules.v1.Rules/UnderWay"
    /// Deferred; ignores interrupts and never answers (until the test releases it).
    static let stubbornDeferred = "/rules.v1.Rules/StubbornDeferred"
    /// A task that runs until cancelled.
    static let hang = "/rules.v1.Rules/Hang"
    /// A task that ignores its cancellation (until the test releases it).
    static let stubbornTask = "/rules.v1.Rules/StubbornTask"
    /// Deferred; NOT_FOUND at once.
    static let notFound = "/rules.v1.Rules/NotFound"

    let probe = RuleProbe()

    var immediateMethods: [String: ImmediateRPCHandler] {
        [Self.immediate: { [probe] _, context in
            probe.start()
            return Array(context.requestID.utf8)
        }]
    }

    var deferredMethods: [String: DeferredRPCHandler] {
        [
            Self.deferred: { [probe] _, context, call in
                probe.start()
                call.finish(.success(Array(context.requestID.utf8)))
            },
            Self.withdrawable: { [probe] _, _, call in
                call.onInterrupt { call.finish(.failure(RPCError(code: .cancelled, message: "withdrawn"))) }
                probe.start()
            },
            Self.underWay: { _, _, call in
                call.onInterrupt { call.finish(.success([42])) }
            },
            Self.stubbornDeferred: { [probe] _, _, call in
                probe.start()
                probe.hold(call)
            },
            Self.notFound: { _, _, call in
                call.finish(.failure(RPCError(code: .notFound, message: "no such thing")))
            },
        ]
    }

    var methods: [String: RPCHandler] {
        [
            Self.task: { [probe] _, context in
                probe.start()
                return Array(context.requestID.utf8)
            },
            Self.hang: { [probe] _, _ in
                probe.start()
                try await untilCancelled()
            },
            Self.stubbornTask: { [probe] _, _ in
                probe.start()
                await probe.gate.wait()
                return []
            },
        ]
    }
}

/// One server-streaming method.
struct Streams: RPCService {
    static let path = "/rules.v1.Streams/Watch"
    let probe = RuleProbe()

    var streamingMethods: [String: ServerStreamingRPCHandler] {
        [Self.path: { [probe] _, _, stream in
            probe.start()
            try await stream.send([1])
        }]
    }
}

/// Counts the calls it sees, and lets them through.
final class CountingInterceptor: ServerInterceptor {
    private let count = Atomic<Int>(0)
    var calls: Int { self.count.load(ordering: .relaxed) }

    func interceptImmediately(context: ServerContext) throws(RPCError) -> ServerContext? {
        self.count.add(1, ordering: .relaxed)
        return context
    }

    func intercept(
        request: [UInt8], context: ServerContext, next: @Sendable ([UInt8], ServerContext) async throws -> [UInt8]
    ) async throws -> [UInt8] {
        self.count.add(1, ordering: .relaxed)
        return try await next(request, context)
    }
}

/// Refuses every call without waiting.
struct RefusingInterceptor: ServerInterceptor {
    func interceptImmediately(context: ServerContext) throws(RPCError) -> ServerContext? {
        throw RPCError(code: .permissionDenied, message: "refused")
    }

    func intercept(
        request: [UInt8], context: ServerContext, next: @Sendable ([UInt8], ServerContext) async throws -> [UInt8]
    ) async throws -> [UInt8] {
        throw RPCError(code: .permissionDenied, message: "refused")
    }
}

import AsyncOneShot
import Logging
import Synchronization

/// A client transport that hands its calls to a ``ServerCallExecutor`` in the same process: no socket,
/// no frames, no event loop. The calls meet the same executor, and so the same rules, as calls over
/// the Unix socket (handler kinds, deadlines, interrupts and their grace, request ids, logs, metrics),
/// so services, clients and the gateway are tested without a socket. The caller's task cancellation
/// is its CANCEL.
public struct InProcessTransport: ClientTransport {
    public let executor: ServerCallExecutor
    /// The credentials handlers see as the peer's (the socket reads them from the kernel).
    public var peer: PeerCredentials?
    private let callIDs = CallIDs()

    public init(executor: ServerCallExecutor, peer: PeerCredentials? = nil) {
        self.executor = executor
        self.peer = peer
    }

    /// A transport to a new executor of `router`'s methods.
    public init(
        router: RPCRouter,
        configuration: ServerCallExecutor.Configuration = ServerCallExecutor.Configuration(),
        peer: PeerCredentials? = nil,
        logger: Logger = Logger(label: "rpc.in-process")
    ) {
        self.init(executor: ServerCallExecutor(router: router, configuration: configuration, logger: logger), peer: peer)
    }

    public func unary(method: String, request: [UInt8], metadata: Metadata, timeout: Duration?) async throws(RPCError) -> ClientResponse {
        let call = ServerCall(
            callID: self.callIDs.next(), method: method, message: request, metadata: metadata, timeout: timeout, peer: self.peer
        )
        let answer: CallAnswer
        switch self.executor.prepare(call) {
        case .answered(let now): answer = now
        case .start(let route): answer = await self.run(call, route: route)
        }
        guard let code = RPCError.Code(answer.code) else {
            return ClientResponse(message: answer.body, metadata: answer.responseMetadata)
        }
        throw RPCError(code: code, message: answer.message, metadata: answer.responseMetadata)
    }

    /// Calls server-streaming `method`: its messages, in order, as the caller reads them (each read grants
    /// the server credit for one more; `window` to begin with), then its end (``ClientStream``). The
    /// caller's cancellation, or its stopping to read, cancels the call; `timeout` is the whole stream's
    /// deadline.
    public func serverStream(method: String, request: [UInt8], metadata: Metadata, timeout: Duration?) async -> ClientStream {
        self.serverStream(method: method, request: request, metadata: metadata, timeout: timeout, window: 16)
    }

    /// ``serverStream(method:request:metadata:timeout:)`` with the credit granted before the first read.
    public func serverStream(
        method: String, request: [UInt8], metadata: Metadata = Metadata(), timeout: Duration? = nil, window: Int = 16
    ) -> ClientStream {
        let call = ServerCall(
            callID: self.callIDs.next(), method: method, message: request, metadata: metadata, timeout: timeout, peer: self.peer,
            isStream: true
        )
        let connection = InProcessStreamConnection()
        switch self.executor.prepare(call) {
        case .answered(let answer):
            connection.end(with: answer)
        case .start(.streaming(let handler)):
            let (running, stream) = self.executor.startStream(call, handler: handler, initialCredit: window, on: connection)
            connection.attach(running: running, stream: stream, deadline: call.deadline)
        case .start:
            // Not reached: prepare refuses a unary method called as a stream.
            connection.end(with: CallAnswer(code: .internal, message: "Method \(method) did not start as a stream.", requestID: nil))
        }
        return ClientStream(connection.source)
    }

    /// Nothing to release: the executor belongs to whoever made it.
    public func close() async {}

    /// A call that finishes later: interrupted by its deadline or by the caller's cancellation.
    private func run(_ call: ServerCall, route: RPCRouter.Route) async -> CallAnswer {
        let connection = InProcessConnection()
        let running = self.executor.start(call, route: route, on: connection)
        return await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                if let deadline = call.deadline {
                    group.addTask {
                        do {
                            try await Task.sleep(until: deadline)
                            running.interrupt(.deadlineExceeded)
                        } catch {}  // the call ended first
                    }
                }
                let answer = await connection.answer.value().resolve()
                group.cancelAll()
                return answer
            }
        } onCancel: {
            running.interrupt(.cancelled)
        }
    }
}

/// The one call of an in-process "connection": its answer, and timers as tasks.
private final class InProcessConnection: CallConnection {
    let answer = OneShot<PendingAnswer>()

    func respond(callID: UInt32, _ answer: PendingAnswer) {
        self.answer.set(answer)
    }

    func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) -> CallTimer {
        let task = Task {
            guard (try? await Task.sleep(for: delay)) != nil else { return }
            body()
        }
        return CallTimer { task.cancel() }
    }
}

private final class CallIDs: Sendable {
    private let last = Atomic<UInt32>(0)

    func next() -> UInt32 {
        self.last.wrappingAdd(1, ordering: .relaxed).newValue
    }
}

/// One in-process stream: its messages through a ``ClientStreamSource``, credit granted as they are read.
private final class InProcessStreamConnection: StreamConnection {
    /// The call and its stream once started, and its deadline's timer.
    private final class Running: Sendable {
        let state = Mutex<(call: DeferredCall?, stream: ServerStream?, deadline: Task<Void, Never>?)>((nil, nil, nil))
    }

    private let running = Running()
    let source: ClientStreamSource

    init() {
        let running = self.running
        self.source = ClientStreamSource(
            consumed: { _ = running.state.withLock { $0.stream }?.grant(1) },
            abandoned: { running.state.withLock { $0.call }?.interrupt(.cancelled) }
        )
    }

    func attach(running call: DeferredCall, stream: ServerStream, deadline: ContinuousClock.Instant?) {
        let timer = deadline.map { deadline in
            Task {
                guard (try? await Task.sleep(until: deadline)) != nil else { return }
                call.interrupt(.deadlineExceeded)
            }
        }
        self.running.state.withLock { $0 = (call, stream, timer) }
    }

    func deliver(callID: UInt32, message: [UInt8]) {
        self.source.yield(message)
    }

    func respond(callID: UInt32, _ answer: PendingAnswer) {
        self.end(with: answer.resolve())
    }

    func end(with answer: CallAnswer) {
        self.running.state.withLock { $0.deadline }?.cancel()
        if let code = RPCError.Code(answer.code) {
            self.source.finish(throwing: RPCError(code: code, message: answer.message, metadata: answer.responseMetadata))
        } else {
            self.source.finish()
        }
    }

    func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) -> CallTimer {
        let task = Task {
            guard (try? await Task.sleep(for: delay)) != nil else { return }
            body()
        }
        return CallTimer { task.cancel() }
    }
}


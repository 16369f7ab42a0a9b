import Logging

/// Runs calls: every rule of a call from the moment a transport has read it to its answer, in one
/// place, for every transport (SPEC.md section 8). The Unix transport and the in-process transport
/// both hand their calls here, so a call behaves the same over either.
///
/// The rules: an unknown method is UNIMPLEMENTED and a call whose deadline passed before it started is
/// DEADLINE_EXCEEDED, both without running anything; an immediate handler (``ImmediateRPCHandler``) is
/// answered on the calling thread; a deferred handler (``DeferredRPCHandler``) starts on the calling
/// thread and answers later through the call's connection; any other call (an async handler, or an
/// interceptor that must wait) runs in a task of its own. An interrupt (deadline, CANCEL, connection
/// closed) withdraws or cancels the handler's work, and the call is answered once the handler reports
/// what really happened: CANCELLED or DEADLINE_EXCEEDED when nothing was done, the handler's own result
/// when its work went ahead. A handler that has not answered within the interrupt grace is answered
/// UNKNOWN and left behind. Every call gets a request id (the caller's `x-request-id`, or one made
/// here), is counted in the metrics and, per ``Configuration/callLog``, logged as `rpc.call`.
///
/// What the executor does not know: bytes, frames, sockets, slots. A transport decodes the call,
/// applies its own limits, times deadlines on its own clock and calls ``DeferredCall/interrupt(_:)``.
public final class ServerCallExecutor: Sendable {
    public let router: RPCRouter
    public let configuration: Configuration
    let logger: Logger
    let metrics: CallMetrics
    /// The `rpc.call` lines of failed calls, by status code (``StatusCode/normalized``): ten a second each.
    private let failedCallLogs = StatusCode.all.map { _ in LogThrottle(limit: 10, per: .seconds(1)) }

    public init(router: RPCRouter, configuration: Configuration = Configuration(), logger: Logger) {
        self.router = router
        self.configuration = configuration
        self.logger = logger
        self.metrics = CallMetrics(methods: router.methodPaths + router.streamingMethodPaths)
    }

    // MARK: starting a call

    /// What becomes of a call a transport read (``prepare(_:)``).
    package enum Preparation {
        /// Answered on the calling thread (an immediate handler, an unknown method, a deadline of zero):
        /// send it; the call takes no slot.
        case answered(CallAnswer)
        /// Its handler must run: admit it (or refuse it at the transport's limits), then ``start(_:route:on:)``.
        case start(RPCRouter.Route)
    }

    /// Answers `call` on the calling thread when that needs no handler to wait: an immediate handler, an
    /// unknown method, a call of the wrong kind (a stream asked of a unary method, or the reverse: both
    /// UNIMPLEMENTED), a deadline of zero (the call was read just now: any other deadline is ahead).
    package func prepare(_ call: ServerCall) -> Preparation {
        let ending: Result<[UInt8], RPCError>
        let route = self.router.route(for: call.method)
        if let mismatch = Self.kindMismatch(call, route) {
            ending = .failure(mismatch)
        } else if let timeout = call.timeout, timeout <= .zero {
            ending = .failure(CallInterrupt.deadlineExceeded.error)
        } else {
            switch route {
            case .immediate(let handler):
                let context = self.context(for: call, requestID: self.requestID(of: call), logger: self.logger)
                ending = Result { () throws(RPCError) in try handler(call.message, context) }
                return .answered(self.answer(call, requestID: context.requestID, .finished(ending)))
            case .unknown:
                ending = .failure(RPCError(code: .unimplemented, message: "Method \(call.method) is not implemented."))
            case .deferred, .task, .streaming:
                return .start(route)
            }
        }
        return .answered(self.answer(call, requestID: self.requestID(of: call), .finished(ending)))
    }

    /// UNIMPLEMENTED when the call's kind is not the method's: a stream asked of a unary method, or one
    /// answer asked of a streaming method (a version-1 connection cannot carry streams).
    private static func kindMismatch(_ call: ServerCall, _ route: RPCRouter.Route) -> RPCError? {
        let streams: Bool
        switch route {
        case .unknown: return nil
        case .streaming: streams = true
        case .immediate, .deferred, .task: streams = false
        }
        guard streams != call.isStream else { return nil }
        return streams
            ? RPCError(code: .unimplemented, message: "Method \(call.method) streams its answer: call it as a stream (protocol version 2).")
            : RPCError(code: .unimplemented, message: "Method \(call.method) answers once: it is not a streaming method.")
    }

    /// Starts a call ``prepare(_:)`` found must run. Its answer comes through `connection` (once); the
    /// transport interrupts it through the returned call.
    package func start(_ call: ServerCall, route: RPCRouter.Route, on connection: some CallConnection) -> DeferredCall {
        let requestID = self.requestID(of: call)
        let record = CallRecord(call, requestID: requestID)
        let running = DeferredCall(grace: (self.configuration.interruptGrace, connection)) { [self] ending in
            connection.respond(callID: record.callID, PendingAnswer(executor: self, record: record, ending: ending))
        }
        let router = self.router
        if case .deferred(let handler) = route {
            // No per-call logger metadata on this path: the call's line is built only when it is logged.
            let context = self.context(for: call, requestID: requestID, logger: self.logger)
            if router.startDeferred(handler, request: call.message, context: context, call: running) { return running }
        }
        if case .streaming = route {
            // Not reached: prepare refuses a stream called for one answer. Nothing runs.
            running.finish(.failure(Self.kindMismatch(call, route) ?? RPCError(code: .internal, message: "A stream started as a unary call.")))
            return running
        }
        // The task path. The handler runs in a task of its own (not a child of the transport's), so
        // that one ignoring its interrupt can be left behind after the grace.
        let context = self.context(for: call, requestID: requestID, logger: self.taggedLogger(record))
        let message = call.message
        let task = Task {
            do throws(RPCError) {
                running.finish(.success(try await router.handle(request: message, context: context)))
            } catch {
                running.finish(.failure(error))
            }
        }
        running.onInterrupt { task.cancel() }
        return running
    }

    /// Starts a server-streaming call (its route from ``prepare(_:)``): the handler runs in a task of its
    /// own, its messages go to `connection` as the client's credit allows (``ServerStream/grant(_:)``,
    /// `initialCredit` to begin with, never more than `maxCredit` unused), and its status comes through
    /// `connection` last. The transport
    /// interrupts it through the returned call, as a unary one: deadline, CANCEL and the grace hold alike.
    package func startStream(
        _ call: ServerCall, handler: @escaping ServerStreamingRPCHandler, initialCredit: Int, maxCredit: Int = Int(Int32.max),
        on connection: some StreamConnection
    ) -> (call: DeferredCall, stream: ServerStream) {
        let requestID = self.requestID(of: call)
        let record = CallRecord(call, requestID: requestID)
        let running = DeferredCall(grace: (self.configuration.interruptGrace, connection)) { [self] ending in
            connection.respond(callID: record.callID, PendingAnswer(executor: self, record: record, ending: ending))
        }
        let stream = ServerStream(
            initialCredit: initialCredit, maxCredit: maxCredit, stall: (self.configuration.streamStallTimeout, connection),
            writability: connection.writability
        ) { message in connection.deliver(callID: record.callID, message: message) }
        let context = self.context(for: call, requestID: requestID, logger: self.taggedLogger(record))
        let (router, message) = (self.router, call.message)
        let task = Task {
            do throws(RPCError) {
                try await router.handleStream(handler, request: message, context: context, stream: stream)
                running.finish(.success([]))
            } catch {
                running.finish(.failure(error))
            }
        }
        running.onInterrupt {
            stream.interrupt()
            task.cancel()
        }
        return (running, stream)
    }

    /// The answer to a call the transport refused before it ran (a malformed REQUEST, a limit), counted
    /// like any call. `reason` names the protocol error in `status-details-bin`.
    package func refuse(method: String, _ error: RPCError, reason: String? = nil, receivedAt: ContinuousClock.Instant = .now) -> CallAnswer {
        self.refuse(method: method, error, reason: reason, requestID: nil, receivedAt: receivedAt)
    }

    /// The answer to `call`, read and well-formed, refused at the transport's limits before it ran: like
    /// any answer it echoes the call's `x-request-id` (or one made here: SPEC.md section 7.2).
    package func refuse(_ call: ServerCall, _ error: RPCError) -> CallAnswer {
        self.refuse(method: call.method, error, reason: nil, requestID: self.requestID(of: call), receivedAt: call.receivedAt)
    }

    private func refuse(method: String, _ error: RPCError, reason: String?, requestID: String?, receivedAt: ContinuousClock.Instant) -> CallAnswer {
        var metadata = error.metadata
        if let reason, let encode = self.configuration.statusDetails,
            let details = encode(error.code.status, error.message, reason)
        {
            metadata.add(Metadata.statusDetailsKey, binary: details)
        }
        self.metrics.recordCall(method: method, code: error.code.status, receivedAt: receivedAt)
        return CallAnswer(code: error.code.status, message: error.message, requestID: requestID, metadata: metadata)
    }

    // MARK: answering

    /// The answer of a call answered on the spot (it never ends `.abandoned`): counted, logged when the
    /// configuration says so. The call's record is made only for its log line.
    fileprivate func answer(_ call: ServerCall, requestID: String, _ ending: DeferredCall.Ending) -> CallAnswer {
        guard case .finished(let result) = ending else { return self.answer(CallRecord(call, requestID: requestID), ending) }
        let answer = CallAnswer(result, requestID: requestID)
        self.metrics.recordCall(method: call.method, code: answer.code, receivedAt: call.receivedAt)
        if self.logger.logLevel <= .info, let suppressed = self.logAdmission(answer.code) {
            self.log(CallRecord(call, requestID: requestID), answer, suppressed: suppressed)
        }
        return answer
    }

    fileprivate func answer(_ record: CallRecord, _ ending: DeferredCall.Ending) -> CallAnswer {
        let answer: CallAnswer
        switch ending {
        case .finished(let result):
            answer = CallAnswer(result, requestID: record.requestID)
        case .abandoned:
            let grace = self.configuration.interruptGrace
            self.taggedLogger(record).error(
                "rpc.handler_abandoned",
                metadata: ["rpc.grace_ms": "\(grace.components.seconds * 1000 + grace.components.attoseconds / 1_000_000_000_000_000)"]
            )
            self.metrics.recordAbandonedHandler()
            answer = CallAnswer(
                code: .unknown,
                message: "The call was interrupted, but its handler did not stop: whether its work was done is unknown.",
                requestID: record.requestID
            )
        }
        self.metrics.recordCall(method: record.method, code: answer.code, receivedAt: record.receivedAt)
        if self.logger.logLevel <= .info, let suppressed = self.logAdmission(answer.code) {
            self.log(record, answer, suppressed: suppressed)
        }
        return answer
    }

    /// The call's `rpc.call` line.
    private func log(_ record: CallRecord, _ answer: CallAnswer, suppressed: Int) {
        let elapsed = ContinuousClock.now - record.receivedAt
        let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        var metadata = record.logMetadata
        metadata["rpc.status"] = "\(answer.code.name)"
        metadata["rpc.duration_ms"] = "\((milliseconds * 1000).rounded() / 1000)"
        if suppressed > 0 { metadata["log.suppressed"] = "\(suppressed)" }
        self.logger.info("rpc.call", metadata: metadata)
    }

    /// Whether a call answered with `code` gets an `rpc.call` line: nil when not; otherwise how many lines
    /// of calls with its status were suppressed before it. With the default (failed calls only), each
    /// status gets at most ten lines a second: a peer flooding bad calls cannot flood the log (the
    /// metrics count every call).
    private func logAdmission(_ code: StatusCode) -> Int? {
        if self.configuration.callLog == .all { return 0 }
        guard code != .ok else { return nil }
        return self.failedCallLogs[Int(code.normalized.rawValue)].admit()
    }

    // MARK: call context

    private func requestID(of call: ServerCall) -> String {
        call.metadata.first("x-request-id") ?? RequestID.make()
    }

    private func context(for call: ServerCall, requestID: String, logger: Logger) -> ServerContext {
        ServerContext(
            method: call.method, requestID: requestID, metadata: call.metadata, deadline: call.deadline, peer: call.peer, logger: logger
        )
    }

    /// The server's logger tagged with the call: for the task path and rare events, where the cost of
    /// the metadata does not matter.
    private func taggedLogger(_ record: CallRecord) -> Logger {
        var logger = self.logger
        for (key, value) in record.logMetadata { logger[metadataKey: key] = value }
        return logger
    }
}

/// What the executor keeps of a call in flight to answer it.
struct CallRecord: Sendable {
    var callID: UInt32
    var method: String
    var requestID: String
    var receivedAt: ContinuousClock.Instant
    var connectionID: Int
    var peer: PeerCredentials?

    init(_ call: ServerCall, requestID: String) {
        self.callID = call.callID
        self.method = call.method
        self.requestID = requestID
        self.receivedAt = call.receivedAt
        self.connectionID = call.connectionID
        self.peer = call.peer
    }

    var logMetadata: Logger.Metadata {
        var metadata: Logger.Metadata = [
            "rpc.method": "\(self.method)", "rpc.call_id": "\(self.callID)", "rpc.request_id": "\(self.requestID)",
            "rpc.connection_id": "\(self.connectionID)",
        ]
        if let peer = self.peer { metadata["peer.uid"] = "\(peer.uid)" }
        return metadata
    }
}

/// The answer of a call that finished off its connection's thread, resolved by the connection on its
/// own thread (``CallConnection/respond(callID:_:)``): resolving counts and logs the call.
package struct PendingAnswer: Sendable {
    fileprivate let executor: ServerCallExecutor
    fileprivate let record: CallRecord
    fileprivate let ending: DeferredCall.Ending

    /// Builds the answer, counting and logging the call: once.
    package func resolve() -> CallAnswer {
        self.executor.answer(self.record, self.ending)
    }
}

import Logging
import NIOCore
import RPCCodec
import RPCCore
import Synchronization

extension UnixSocketServer {
    /// How a call ended: the handler's result, or the deadline or a CANCEL first.
    private enum Outcome: Sendable {
        case finished(Result<[UInt8], RPCError>)
        case deadlineExceeded
        case cancelled
        /// The handler did not return within ``ServerConfiguration/interruptGrace`` of an interrupt:
        /// what it did is not known.
        case graceExpired
    }

    /// Runs one call. An interrupt (deadline, CANCEL, connection closed) cancels the handler, and the
    /// call is answered once the handler has returned, with what really happened: a handler stopped by
    /// the cancellation (status CANCELLED: its work was not done) gives CANCELLED or DEADLINE_EXCEEDED;
    /// any other result (a commit that was under way, and succeeded or failed) is answered as it is
    /// (SPEC.md section 8). A handler that ignores cancellation for ``ServerConfiguration/interruptGrace``
    /// is answered UNKNOWN (its work may still happen) and left behind: neither the call nor the
    /// server's drain waits for it. The handler runs in a task of its own for that reason.
    func process(_ job: CallJob) async {
        let requestID = job.request.metadata.first("x-request-id") ?? Self.makeRequestID()
        var logger = self.logger
        logger[metadataKey: "rpc.method"] = "\(job.request.method)"
        logger[metadataKey: "rpc.call_id"] = "\(job.callID)"
        logger[metadataKey: "rpc.request_id"] = "\(requestID)"
        logger[metadataKey: "rpc.connection_id"] = "\(job.connectionID)"
        if let peer = job.peer { logger[metadataKey: "peer.uid"] = "\(peer.uid)" }

        let deadline = job.request.timeoutMilliseconds.map { job.receivedAt + .milliseconds(Int64($0)) }
        let context = ServerContext(
            method: job.request.method,
            requestID: requestID,
            metadata: Metadata(job.request.metadata),
            deadline: deadline,
            peer: job.peer,
            logger: logger
        )
        let body = Array(job.request.body.readableBytesView)
        let router = self.router

        if let deadline, deadline <= .now {
            self.answer(job, .deadlineExceeded, requestID: requestID, logger: logger)
            return
        }
        // The handler runs in a task of its own, so that one ignoring its cancellation can be left
        // behind; its result is handed over through `result`.
        let result = OneShot<Result<[UInt8], RPCError>>()
        let handler = Task {
            do throws(RPCError) {
                result.set(.success(try await router.handle(request: body, context: context)))
            } catch {
                result.set(.failure(error))
            }
        }
        // Children: the handler's result, a waiter for the connection's interrupt (CANCEL, the deadline
        // timer, or the connection closing) and, after an interrupt, the grace timer. The handler's end
        // answers; an interrupt first cancels it. Every child ends when the group is cancelled.
        await withTaskCancellationHandler {
            await withTaskGroup(of: Outcome?.self) { group in
                group.addTask { await result.valueUnlessCancelled().map { .finished($0) } }
                group.addTask {
                    switch await job.cancellation.wait() {
                    case .cancelled: .cancelled
                    case .deadlineExceeded: .deadlineExceeded
                    case nil: nil
                    }
                }
                var interrupt: Outcome?
                let grace = self.configuration.interruptGrace
                while let next = await group.next() {
                    guard let outcome = next else { continue }
                    switch outcome {
                    case .finished(.failure(let error)) where interrupt != nil && error.code == .cancelled:
                        self.answer(job, interrupt!, requestID: requestID, logger: logger)
                    case .finished:
                        self.answer(job, outcome, requestID: requestID, logger: logger)
                    case .graceExpired:
                        logger.error("rpc.handler_abandoned", metadata: ["rpc.grace_ms": "\(grace.components.seconds * 1000 + grace.components.attoseconds / 1_000_000_000_000_000)"])
                        self.metrics.recordAbandonedHandler()
                        self.answer(job, .graceExpired, requestID: requestID, logger: logger)
                    case .cancelled, .deadlineExceeded:
                        interrupt = outcome
                        handler.cancel()  // its end answers the call
                        group.addTask {
                            do {
                                try await Task.sleep(for: grace)
                                return .graceExpired
                            } catch {
                                return nil
                            }
                        }
                        continue
                    }
                    group.cancelAll()
                    return
                }
            }
        } onCancel: {
            handler.cancel()
        }
    }

    /// Answers a call whose handler is immediate (``RPCRouter/immediateHandler(for:)``) right here, on
    /// the connection's event loop: no task, no hop. Returns nil for every other call.
    func answerImmediately(_ call: IncomingCall) -> Response? {
        guard let handler = self.router.immediateHandler(for: call.request.method) else { return nil }
        let receivedAt = ContinuousClock.now
        let requestID = call.request.metadata.first("x-request-id") ?? Self.makeRequestID()
        let outcome: Outcome
        if call.request.timeoutMilliseconds == 0 {
            outcome = .deadlineExceeded
        } else {
            let context = self.context(for: call, requestID: requestID, receivedAt: receivedAt)
            do throws(RPCError) {
                outcome = .finished(.success(try handler(Array(call.request.body.readableBytesView), context)))
            } catch {
                outcome = .finished(.failure(error))
            }
        }
        let response = Self.response(for: outcome, requestID: requestID)
        self.metrics.recordCall(method: call.request.method, code: response.code, receivedAt: receivedAt)
        self.logCallIfEnabled(call, response, receivedAt: receivedAt, requestID: requestID)
        return response
    }

    /// Starts a call whose handler is deferred (``RPCRouter/startDeferred(request:context:call:)``) on
    /// the connection's event loop: its answer comes back through `outbox`, from wherever the handler
    /// finishes (the store's writer, for SubmitFeedback), with no task in between. Returns nil, having
    /// done nothing, when the call must run in a task.
    func startDeferred(_ call: IncomingCall, outbox: ResponseOutbox) -> DeferredCall? {
        guard self.router.hasDeferredHandler(for: call.request.method) else { return nil }
        let receivedAt = ContinuousClock.now
        let requestID = call.request.metadata.first("x-request-id") ?? Self.makeRequestID()
        let deferred = DeferredCall { [self] result in
            // The RESPONSE is built on the connection's event loop, not on the thread that finished
            // the call (the store's writer, which has the next batch to commit).
            outbox.respond(
                callID: call.callID,
                .build {
                    let response = Self.response(for: .finished(result), requestID: requestID)
                    self.metrics.recordCall(method: call.request.method, code: response.code, receivedAt: receivedAt)
                    self.logCallIfEnabled(call, response, receivedAt: receivedAt, requestID: requestID)
                    return response
                }
            )
        }
        if call.request.timeoutMilliseconds == 0 {
            deferred.finish(.failure(CallInterrupt.deadlineExceeded.error))
            return deferred
        }
        let context = self.context(for: call, requestID: requestID, receivedAt: receivedAt)
        guard self.router.startDeferred(request: Array(call.request.body.readableBytesView), context: context, call: deferred) else {
            return nil
        }
        return deferred
    }

    /// The context of a call run on the event loop, with the server's logger as it is: a call's log
    /// line is built only when it is logged (``logCallIfEnabled(_:_:receivedAt:requestID:)``).
    private func context(for call: IncomingCall, requestID: String, receivedAt: ContinuousClock.Instant) -> ServerContext {
        ServerContext(
            method: call.request.method,
            requestID: requestID,
            metadata: Metadata(call.request.metadata),
            deadline: call.request.timeoutMilliseconds.map { receivedAt + .milliseconds(Int64($0)) },
            peer: call.peer,
            logger: self.logger
        )
    }

    private func logCallIfEnabled(_ call: IncomingCall, _ response: Response, receivedAt: ContinuousClock.Instant, requestID: String) {
        guard self.logger.logLevel <= .info, let suppressed = self.logAdmission(response) else { return }
        var metadata: Logger.Metadata = [
            "rpc.method": "\(call.request.method)", "rpc.call_id": "\(call.callID)", "rpc.request_id": "\(requestID)",
            "rpc.connection_id": "\(call.connectionID)",
        ]
        if let peer = call.peer { metadata["peer.uid"] = "\(peer.uid)" }
        self.logCall(response, receivedAt: receivedAt, suppressed: suppressed, logger: self.logger, extra: metadata)
    }

    private func answer(_ job: CallJob, _ outcome: Outcome, requestID: String, logger: Logger) {
        let response = Self.response(for: outcome, requestID: requestID)
        self.metrics.recordCall(method: job.request.method, code: response.code, receivedAt: job.receivedAt)
        if let suppressed = self.logAdmission(response) {
            self.logCall(response, receivedAt: job.receivedAt, suppressed: suppressed, logger: logger, extra: [:])
        }
        job.outbox.respond(callID: job.callID, response)
    }

    /// Whether the call answered with `response` gets an `rpc.call` line (``ServerConfiguration/callLog``):
    /// nil when not; otherwise how many lines of calls with its status were suppressed before it. With
    /// the default (failed calls only), each status gets at most ten lines a second: a peer flooding bad
    /// calls cannot flood the log (the metrics count every call).
    private func logAdmission(_ response: Response) -> Int? {
        if self.configuration.callLog == .all { return 0 }
        guard response.code != 0 else { return nil }
        return self.failedCallLogs[Int(StatusCode(rawValue: response.code).normalized.rawValue)].admit()
    }

    private func logCall(
        _ response: Response, receivedAt: ContinuousClock.Instant, suppressed: Int, logger: Logger, extra: Logger.Metadata
    ) {
        let elapsed = ContinuousClock.now - receivedAt
        let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        var metadata = extra
        metadata["rpc.status"] = "\(StatusCode(rawValue: response.code).name)"
        metadata["rpc.duration_ms"] = "\((milliseconds * 1000).rounded() / 1000)"
        if suppressed > 0 { metadata["log.suppressed"] = "\(suppressed)" }
        logger.info("rpc.call", metadata: metadata)
    }

    private static func response(for outcome: Outcome, requestID: String) -> Response {
        var metadata = WireMetadata()
        try? metadata.add("x-request-id", requestID)
        let response: Response
        switch outcome {
        case .finished(.success(let message)):
            response = Response(code: 0, metadata: metadata, body: ByteBuffer(bytes: message))
        case .finished(.failure(let error)):
            for entry in error.metadata {
                // An entry the protocol forbids is a bug of the handler: it is dropped, not sent.
                switch entry.value {
                case .string(let value): try? metadata.add(entry.key, value)
                case .binary(let value): try? metadata.add(entry.key, binary: value)
                }
            }
            response = Response(code: error.code.rawValue, message: error.message, metadata: metadata)
        case .deadlineExceeded:
            let error = CallInterrupt.deadlineExceeded.error
            response = Response(code: error.code.rawValue, message: error.message, metadata: metadata)
        case .cancelled:
            let error = CallInterrupt.cancelled.error
            response = Response(code: error.code.rawValue, message: error.message, metadata: metadata)
        case .graceExpired:
            response = Response(
                code: StatusCode.unknown.rawValue,
                message: "The call was interrupted, but its handler did not stop: whether its work was done is unknown.",
                metadata: metadata
            )
        }
        return response
    }

    /// A 16-hex-digit request id for calls that came without one: a random prefix drawn once per
    /// process and a counter, so ids are unique within a run and unlikely to repeat across restarts,
    /// without asking the kernel for randomness on every call.
    static func makeRequestID() -> String {
        let value = requestIDPrefix << 32 | UInt64(requestIDCounter.wrappingAdd(1, ordering: .relaxed).newValue)
        return String(unsafeUninitializedCapacity: 16) { buffer in
            let digits: StaticString = "0123456789abcdef"
            for index in 0..<16 {
                buffer[index] = digits.utf8Start[Int(value >> (60 - 4 * UInt64(index)) & 0xF)]
            }
            return 16
        }
    }
}

private let requestIDPrefix = UInt64(UInt32.random(in: .min ... .max))
private let requestIDCounter = Atomic<UInt32>(0)

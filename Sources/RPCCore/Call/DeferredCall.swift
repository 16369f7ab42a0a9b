import Synchronization

/// A unary handler that starts its work without waiting (queues a write, say) and answers later, from
/// any thread, through `call`: no task, no continuation. The transport runs it on the thread that read
/// the request. It must call ``DeferredCall/finish(_:)`` exactly once, eventually, and should register
/// with ``DeferredCall/onInterrupt(_:)`` how to withdraw work that has not started.
public typealias DeferredRPCHandler = @Sendable (_ request: [UInt8], _ context: ServerContext, _ call: DeferredCall) -> Void

/// Why a call is stopped before its handler finished.
public enum CallInterrupt: Sendable, Hashable {
    /// The caller sent CANCEL, or the connection closed.
    case cancelled
    /// The call's deadline passed.
    case deadlineExceeded
    /// The server is going away (shutdown, or a connection error) and ends its streams, which could
    /// otherwise run for ever; unary calls are answered instead, never interrupted for this.
    case goingAway

    /// The answer of a call this interrupt stopped before it did anything.
    public var error: RPCError {
        switch self {
        case .cancelled: RPCError(code: .cancelled, message: "The call was cancelled.")
        case .deadlineExceeded: RPCError(code: .deadlineExceeded, message: "Deadline exceeded.")
        case .goingAway: RPCError(code: .unavailable, message: "The server is going away: call again on a new connection.")
        }
    }
}

/// One call in flight, whatever its handler's kind: how its handler answers and how its transport
/// interrupts it.
///
/// Interrupts (the caller's CANCEL, the deadline, the connection closing) run the handler's withdrawal
/// (for an async handler: cancel its task). The call is then answered with what the handler reports: a
/// handler that withdrew its work reports ``StatusCode/cancelled``, which the call turns into the
/// interrupt's status (CANCELLED or DEADLINE_EXCEEDED: nothing was done); work already under way is
/// answered with its real outcome. A handler that has not answered within the interrupt grace is
/// answered UNKNOWN (its work may still be done) and left behind: its later answer is dropped.
public final class DeferredCall: Sendable {
    /// How the call ended, for whoever delivers its answer.
    enum Ending: Sendable {
        case finished(Result<[UInt8], RPCError>)
        /// The interrupt grace passed with no answer from the handler.
        case abandoned
    }

    private struct State {
        var finished = false
        var interrupt: CallInterrupt?
        var withdraw: (@Sendable () -> Void)?
        var graceTimer: CallTimer?
    }

    private let state = Mutex(State())
    private let deliver: @Sendable (Ending) -> Void
    /// After an interrupt: how long the handler has to answer, and the clock that times it.
    private let grace: (duration: Duration, connection: any CallConnection)?

    /// A call with no interrupt grace (the handler is trusted to answer): for tests of handlers.
    /// - Parameter deliver: sends the answer; called once, from any thread.
    public convenience init(deliver: @escaping @Sendable (Result<[UInt8], RPCError>) -> Void) {
        self.init(grace: nil) { ending in
            if case .finished(let result) = ending { deliver(result) }
        }
    }

    init(grace: (duration: Duration, connection: any CallConnection)?, deliver: @escaping @Sendable (Ending) -> Void) {
        self.grace = grace
        self.deliver = deliver
    }

    /// Answers the call. Only the first answer counts. A ``StatusCode/cancelled`` failure after an
    /// interrupt becomes the interrupt's own answer (keeping the failure's metadata: a stream's resume
    /// point, say).
    public func finish(_ result: Result<[UInt8], RPCError>) {
        let ended: (interrupt: CallInterrupt?, timer: CallTimer?)? = self.state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            state.withdraw = nil
            defer { state.graceTimer = nil }
            return (state.interrupt, state.graceTimer)
        }
        guard let ended else { return }
        ended.timer?.cancel()
        if let interrupted = ended.interrupt, case .failure(let error) = result, error.code == .cancelled {
            var answer = interrupted.error
            answer.metadata = error.metadata
            self.deliver(.finished(.failure(answer)))
        } else {
            self.deliver(.finished(result))
        }
    }

    /// How to withdraw the handler's work while it has not started; it then finishes the call with
    /// ``StatusCode/cancelled``. Runs at once when the call was interrupted already.
    public func onInterrupt(_ withdraw: @escaping @Sendable () -> Void) {
        let runNow: Bool = self.state.withLock { state in
            guard !state.finished else { return false }
            if state.interrupt != nil { return true }
            state.withdraw = withdraw
            return false
        }
        if runNow { withdraw() }
    }

    /// For the transport: interrupts the call (the first interrupt counts): withdraws the handler's work
    /// and, unless that answered the call, starts the grace.
    public func interrupt(_ reason: CallInterrupt) {
        let withdraw: (@Sendable () -> Void)?? = self.state.withLock { state in
            guard !state.finished, state.interrupt == nil else { return .none }
            state.interrupt = reason
            defer { state.withdraw = nil }
            return .some(state.withdraw)
        }
        guard case .some(let withdraw) = withdraw else { return }
        withdraw?()
        // Work withdrawn has answered by now: no timer for it (a CANCEL of a queued rating costs none).
        guard let grace = self.grace, !self.state.withLock({ $0.finished }) else { return }
        let timer = grace.connection.schedule(after: grace.duration) { [self] in self.abandon() }
        let keep: Bool = self.state.withLock { state in
            guard !state.finished else { return false }
            state.graceTimer = timer
            return true
        }
        if !keep { timer.cancel() }
    }

    /// The grace passed: answers UNKNOWN unless the handler answered meanwhile.
    private func abandon() {
        let abandoned: Bool = self.state.withLock { state in
            guard !state.finished else { return false }
            state.finished = true
            state.withdraw = nil
            state.graceTimer = nil
            return true
        }
        if abandoned { self.deliver(.abandoned) }
    }
}

extension DeferredCall {
    /// `handler` as an async handler, for calls an interceptor must wait for: the task's cancellation
    /// interrupts the call.
    static func asyncHandler(_ handler: @escaping DeferredRPCHandler) -> RPCHandler {
        { request, context in
            let slot = Mutex<CheckedContinuation<[UInt8], any Error>?>(nil)
            let call = DeferredCall { result in
                slot.withLock { $0.take() }?.resume(with: result.mapError { $0 as any Error })
            }
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    slot.withLock { $0 = continuation }
                    handler(request, context, call)
                }
            } onCancel: {
                call.interrupt(.cancelled)
            }
        }
    }
}

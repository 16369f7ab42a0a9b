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

    /// The answer of a call this interrupt stopped before it did anything.
    public var error: RPCError {
        switch self {
        case .cancelled: RPCError(code: .cancelled, message: "The call was cancelled.")
        case .deadlineExceeded: RPCError(code: .deadlineExceeded, message: "Deadline exceeded.")
        }
    }
}

/// The pending answer of one call run by a ``DeferredRPCHandler``.
///
/// Interrupts (the caller's CANCEL, the deadline, the connection closing) run the handler's withdrawal.
/// The call is then answered with what the handler reports: a handler that withdrew its work reports
/// ``StatusCode/cancelled``, which the call turns into the interrupt's status (CANCELLED or
/// DEADLINE_EXCEEDED: nothing was done); work already under way is answered with its real outcome.
/// These are the semantics of the task path, where an interrupt cancels the handler's task.
public final class DeferredCall: Sendable {
    private struct State {
        var finished = false
        var interrupt: CallInterrupt?
        var withdraw: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())
    private let deliver: @Sendable (Result<[UInt8], RPCError>) -> Void

    /// - Parameter deliver: sends the answer (the transport's side); called once, from any thread.
    public init(deliver: @escaping @Sendable (Result<[UInt8], RPCError>) -> Void) {
        self.deliver = deliver
    }

    /// Answers the call. Only the first answer counts. A ``StatusCode/cancelled`` failure after an
    /// interrupt becomes the interrupt's own answer.
    public func finish(_ result: Result<[UInt8], RPCError>) {
        let interrupt: CallInterrupt?? = self.state.withLock { state in
            guard !state.finished else { return .none }
            state.finished = true
            state.withdraw = nil
            return .some(state.interrupt)
        }
        guard case .some(let interrupted) = interrupt else { return }
        if let interrupted, case .failure(let error) = result, error.code == .cancelled {
            self.deliver(.failure(interrupted.error))
        } else {
            self.deliver(result)
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

    /// For the transport: interrupts the call (the first interrupt counts).
    public func interrupt(_ reason: CallInterrupt) {
        let withdraw: (@Sendable () -> Void)? = self.state.withLock { state in
            guard !state.finished, state.interrupt == nil else { return nil }
            state.interrupt = reason
            defer { state.withdraw = nil }
            return state.withdraw
        }
        withdraw?()
    }
}

extension DeferredCall {
    /// `handler` as an async handler, for the task path (and for in-process callers): the task's
    /// cancellation interrupts the call.
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

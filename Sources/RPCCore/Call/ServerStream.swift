import Synchronization

/// A server-streaming handler: one request, then any number of messages through `stream`, then the
/// call's status: returning is OK; throwing ``RPCError`` chooses another (anything else is INTERNAL).
/// When the call is interrupted (CANCEL, its deadline, the connection closing), ``ServerStream/send(_:)``
/// throws and the handler should return by rethrowing: the call then ends with the interrupt's status.
public typealias ServerStreamingRPCHandler = @Sendable (_ request: [UInt8], _ context: ServerContext, _ stream: ServerStream) async throws -> Void

/// The messages of one server-streaming call, sent as the client grants credit for them: each message
/// takes one unit of credit, and a handler with none waits in ``send(_:)`` until the client grants more.
/// A slow reader holds the handler, never a growing buffer: at most the credit the client granted is
/// in flight. One ``send(_:)`` at a time.
public final class ServerStream: Sendable {
    private struct State {
        var credit: Int
        var waiting: CheckedContinuation<RPCError?, Never>?
        var interrupted: RPCError?
    }

    private let state: Mutex<State>
    private let deliver: @Sendable ([UInt8]) -> Void

    /// - Parameters:
    ///   - initialCredit: messages the client can take before it grants more.
    ///   - deliver: hands a message to the transport, in order; called outside any lock.
    package init(initialCredit: Int, deliver: @escaping @Sendable ([UInt8]) -> Void) {
        self.state = Mutex(State(credit: max(0, initialCredit)))
        self.deliver = deliver
    }

    /// Messages the client can take now without waiting.
    public var credit: Int { self.state.withLock { $0.credit } }

    /// Sends `message` once the client has credit for it.
    /// - Throws: ``RPCError`` CANCELLED when the call was interrupted (stop, and rethrow it); INTERNAL
    ///   when another send is already waiting.
    public func send(_ message: [UInt8]) async throws(RPCError) {
        enum Now {
            case send
            case fail(RPCError)
            case wait
        }
        let now: Now = self.state.withLock { state in
            if let error = state.interrupted { return .fail(error) }
            guard state.credit > 0 else { return .wait }
            state.credit -= 1
            return .send
        }
        switch now {
        case .send:
            self.deliver(message)
            return
        case .fail(let error):
            throw error
        case .wait:
            break
        }
        let failure: RPCError? = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<RPCError?, Never>) in
                let resumeNow: RPCError?? = self.state.withLock { state in
                    if let error = state.interrupted { return .some(error) }
                    if Task.isCancelled { return .some(CallInterrupt.cancelled.error) }
                    if state.credit > 0 {
                        state.credit -= 1
                        return .some(nil)
                    }
                    guard state.waiting == nil else {
                        return .some(RPCError(code: .internal, message: "ServerStream.send called while another send waits."))
                    }
                    state.waiting = continuation
                    return .none
                }
                if case .some(let result) = resumeNow { continuation.resume(returning: result) }
            }
        } onCancel: {
            self.interrupt()
        }
        if let failure { throw failure }
        self.deliver(message)
    }

    /// The client's CREDIT: `increment` more messages. Wakes a waiting send (taking one unit for it).
    package func grant(_ increment: Int) {
        let waiter: CheckedContinuation<RPCError?, Never>? = self.state.withLock { state in
            guard state.interrupted == nil, increment > 0 else { return nil }
            state.credit += increment
            guard let waiter = state.waiting else { return nil }
            state.waiting = nil
            state.credit -= 1
            return waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The call was interrupted: a waiting send, and every later one, throws CANCELLED (the call ends
    /// with the interrupt's own status: ``DeferredCall``).
    package func interrupt() {
        let waiter: CheckedContinuation<RPCError?, Never>? = self.state.withLock { state in
            if state.interrupted == nil { state.interrupted = CallInterrupt.cancelled.error }
            defer { state.waiting = nil }
            return state.waiting
        }
        waiter?.resume(returning: CallInterrupt.cancelled.error)
    }
}

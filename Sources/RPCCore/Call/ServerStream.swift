import Synchronization

/// A server-streaming handler: one request, then any number of messages through `stream`, then the
/// call's status: returning is OK; throwing ``RPCError`` chooses another (anything else is INTERNAL).
/// When the call is interrupted (CANCEL, its deadline, the connection closing, the server going away),
/// ``ServerStream/send(_:)`` throws and the handler should return by rethrowing: the call then ends with
/// the interrupt's status (and the metadata of the error the handler threw: its resume point, say).
public typealias ServerStreamingRPCHandler = @Sendable (_ request: [UInt8], _ context: ServerContext, _ stream: ServerStream) async throws -> Void

/// The messages of one server-streaming call, sent as the client grants credit for them (SPEC.md
/// section 16): each message takes one unit of credit, and a handler with none waits in ``send(_:)``
/// until the client grants more. A slow reader holds the handler, never a growing buffer: at most the
/// credit the client granted is in flight, and a stream never holds more than ``maxCredit`` unused. A
/// reader that grants nothing for the stall timeout while a message waits ends the call
/// (RESOURCE_EXHAUSTED). One ``send(_:)`` at a time.
public final class ServerStream: Sendable {
    private struct State {
        var credit: Int
        var waiting: CheckedContinuation<RPCError?, Never>?
        var interrupted: RPCError?
        var stallTimer: CallTimer?
    }

    /// The most unused credit the client may grant (the server's `MAX_STREAM_CREDIT`).
    public let maxCredit: Int
    private let state: Mutex<State>
    private let deliver: @Sendable ([UInt8]) -> Void
    /// How long a send waits for credit, and the clock that times it; nil waits for ever.
    private let stall: (timeout: Duration, connection: any CallConnection)?

    /// - Parameters:
    ///   - initialCredit: messages the client can take before it grants more.
    ///   - maxCredit: the most unused credit the stream may hold.
    ///   - stall: how long a send waits for credit before the call fails, and the connection that times it.
    ///   - deliver: hands a message to the transport, in order; called outside any lock.
    package init(
        initialCredit: Int, maxCredit: Int = Int(Int32.max), stall: (timeout: Duration, connection: any CallConnection)? = nil,
        deliver: @escaping @Sendable ([UInt8]) -> Void
    ) {
        self.maxCredit = maxCredit
        self.state = Mutex(State(credit: max(0, initialCredit)))
        self.stall = stall
        self.deliver = deliver
    }

    /// Messages the client can take now without waiting.
    public var credit: Int { self.state.withLock { $0.credit } }

    /// The error of a send that waited the whole stall timeout for credit.
    public static func stalled(after timeout: Duration) -> RPCError {
        RPCError(code: .resourceExhausted, message: "The reader granted no credit for \(timeout): it is too slow for the stream.")
    }

    /// Sends `message` once the client has credit for it.
    /// - Throws: ``RPCError`` CANCELLED when the call was interrupted (stop, and rethrow it);
    ///   RESOURCE_EXHAUSTED when no credit came within the stall timeout (``stalled(after:)``); INTERNAL
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
                if case .some(let result) = resumeNow {
                    continuation.resume(returning: result)
                } else {
                    self.armStallTimer()
                }
            }
        } onCancel: {
            self.interrupt()
        }
        if let failure { throw failure }
        self.deliver(message)
    }

    /// Times the send that waits: when no credit comes within the stall timeout, it fails.
    private func armStallTimer() {
        guard let stall = self.stall else { return }
        let timer = stall.connection.schedule(after: stall.timeout) { [self] in
            let waiter = self.state.withLock { state in
                defer { state.waiting = nil }
                state.stallTimer = nil
                return state.waiting
            }
            waiter?.resume(returning: Self.stalled(after: stall.timeout))
        }
        let keep = self.state.withLock { state in
            guard state.waiting != nil else { return false }
            state.stallTimer = timer
            return true
        }
        if !keep { timer.cancel() }
    }

    /// The client's CREDIT: `increment` more messages. Wakes a waiting send (taking one unit for it).
    /// Returns false, granting nothing, when the stream's unused credit would exceed ``maxCredit``:
    /// the client broke the protocol (a connection error, SPEC.md section 16).
    package func grant(_ increment: Int) -> Bool {
        let (accepted, waiter, timer): (Bool, CheckedContinuation<RPCError?, Never>?, CallTimer?) = self.state.withLock { state in
            guard state.interrupted == nil, increment > 0 else { return (true, nil, nil) }
            guard state.credit <= self.maxCredit - increment else { return (false, nil, nil) }
            state.credit += increment
            guard let waiter = state.waiting else { return (true, nil, nil) }
            state.waiting = nil
            state.credit -= 1
            defer { state.stallTimer = nil }
            return (true, waiter, state.stallTimer)
        }
        timer?.cancel()
        waiter?.resume(returning: nil)
        return accepted
    }

    /// The call was interrupted: a waiting send, and every later one, throws CANCELLED (the call ends
    /// with the interrupt's own status: ``DeferredCall``).
    package func interrupt() {
        let (waiter, timer): (CheckedContinuation<RPCError?, Never>?, CallTimer?) = self.state.withLock { state in
            if state.interrupted == nil { state.interrupted = CallInterrupt.cancelled.error }
            defer {
                state.waiting = nil
                state.stallTimer = nil
            }
            return (state.waiting, state.stallTimer)
        }
        timer?.cancel()
        waiter?.resume(returning: CallInterrupt.cancelled.error)
    }
}

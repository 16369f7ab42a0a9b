import Synchronization

/// A server-streaming handler: one request, then any number of messages through `stream`, then the
/// call's status: returning is OK; throwing ``RPCError`` chooses another (anything else is INTERNAL).
/// When the call is interrupted (CANCEL, its deadline, the connection closing, the server going away),
/// ``ServerStream/send(_:)`` throws and the handler should return by rethrowing: the call then ends with
/// the interrupt's status (and the metadata of the error the handler threw: its resume point, say).
public typealias ServerStreamingRPCHandler = @Sendable (_ request: [UInt8], _ context: ServerContext, _ stream: ServerStream) async throws -> Void

/// The messages of one server-streaming call, sent as the client grants credit for them (SPEC.md
/// section 16): each message takes one unit of credit, and a handler with none waits in ``send(_:)``
/// until the client grants more; over a connection, a send also waits while the connection is not
/// writable (``WritabilityGate``). A slow reader holds the handler, never a growing buffer. A send that
/// waits longer than the stall timeout fails (RESOURCE_EXHAUSTED): a reader too slow for its stream
/// frees the server's slot. One ``send(_:)`` at a time.
public final class ServerStream: Sendable {
    private struct State {
        var credit: Int
        /// The send waiting for credit or writability.
        var waiting: Waiter?
        /// A wake that came while no send waited: the next wait returns at once (and looks again).
        var woken = false
        var interrupted: RPCError?
        /// The stall timer of the send waiting now fired.
        var stalled = false
        /// Which send the stall timer times: a timer of an earlier send that fires late changes nothing.
        var sendNumber = 0
    }

    /// The most unused credit the client may grant (the server's `MAX_STREAM_CREDIT`).
    public let maxCredit: Int
    private let state: Mutex<State>
    private let deliver: @Sendable ([UInt8]) -> Void
    /// How long a send waits, and the clock that times it; nil waits for ever.
    private let stall: (timeout: Duration, connection: any CallConnection)?
    private let writability: WritabilityGate?

    /// - Parameters:
    ///   - initialCredit: messages the client can take before it grants more.
    ///   - maxCredit: the most unused credit the stream may hold.
    ///   - stall: how long a send waits before the call fails, and the connection that times it.
    ///   - writability: the connection's; nil when it never pushes back (in process).
    ///   - deliver: hands a message to the transport, in order; called outside any lock.
    package init(
        initialCredit: Int, maxCredit: Int = Int(Int32.max), stall: (timeout: Duration, connection: any CallConnection)? = nil,
        writability: WritabilityGate? = nil, deliver: @escaping @Sendable ([UInt8]) -> Void
    ) {
        self.maxCredit = maxCredit
        self.state = Mutex(State(credit: max(0, initialCredit)))
        self.stall = stall
        self.writability = writability
        self.deliver = deliver
    }

    /// Messages the client can take now without waiting.
    public var credit: Int { self.state.withLock { $0.credit } }

    /// The error of a send that waited the whole stall timeout.
    public static func stalled(after timeout: Duration) -> RPCError {
        let (seconds, attoseconds) = timeout.components
        let written = attoseconds == 0 ? "\(seconds) seconds" : "\(timeout)"
        return RPCError(code: .resourceExhausted, message: "The reader took no message for \(written): it is too slow for the stream.")
    }

    /// Sends `message` once the client has credit for it and the connection takes bytes.
    /// - Throws: ``RPCError`` CANCELLED when the call was interrupted (stop, and rethrow it);
    ///   RESOURCE_EXHAUSTED when it waited the stall timeout (``stalled(after:)``); INTERNAL when another
    ///   send is already waiting.
    public func send(_ message: [UInt8]) async throws(RPCError) {
        enum Now {
            case send
            case fail(RPCError)
            case waitForCredit
            case waitForWritability
        }
        var stallTimer: CallTimer?
        defer { stallTimer?.cancel() }
        let sendNumber = self.state.withLock { state in
            state.sendNumber += 1
            state.stalled = false
            return state.sendNumber
        }
        while true {
            let now: Now = self.state.withLock { state in
                if let error = state.interrupted { return .fail(error) }
                if state.stalled, let stall = self.stall {
                    state.stalled = false
                    return .fail(Self.stalled(after: stall.timeout))
                }
                guard state.credit > 0 else {
                    state.woken = false
                    return .waitForCredit
                }
                if let writability = self.writability, !writability.isWritable {
                    state.woken = false
                    return .waitForWritability
                }
                state.credit -= 1
                state.stalled = false
                return .send
            }
            switch now {
            case .send:
                self.deliver(message)
                return
            case .fail(let error):
                throw error
            case .waitForWritability:
                // Writable again meanwhile: look again at once.
                guard self.writability?.wakeWhenWritable(self) == true else { continue }
            case .waitForCredit:
                break
            }
            if stallTimer == nil { stallTimer = self.armStallTimer(for: sendNumber) }
            try await self.waitForWake()
        }
    }

    /// Waits until ``wake()`` (credit, writability, the stall timer, an interrupt), or returns at once when
    /// one came since the last wait. The task's cancellation interrupts the stream.
    private func waitForWake() async throws(RPCError) {
        let busy: Bool = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                enum Now { case resume, busy, wait }
                let now: Now = self.state.withLock { state in
                    // Another send waits already (a misuse): this one fails rather than hide that one.
                    guard state.waiting == nil else { return .busy }
                    if state.woken || state.interrupted != nil || state.stalled || Task.isCancelled {
                        state.woken = false
                        return .resume
                    }
                    state.waiting = Waiter(continuation)
                    return .wait
                }
                switch now {
                case .resume: continuation.resume(returning: false)
                case .busy: continuation.resume(returning: true)
                case .wait: break
                }
            }
        } onCancel: {
            self.interrupt()
        }
        if busy { throw RPCError(code: .internal, message: "ServerStream.send called while another send waits.") }
    }

    /// A waiting send's continuation (resumed with false: not a misuse).
    private struct Waiter {
        let continuation: CheckedContinuation<Bool, Never>
        init(_ continuation: CheckedContinuation<Bool, Never>) { self.continuation = continuation }
    }

    /// Wakes the waiting send, to look again (or lets the next wait return at once).
    func wake() {
        let waiter: Waiter? = self.state.withLock { state in
            guard let waiter = state.waiting else {
                state.woken = true
                return nil
            }
            state.waiting = nil
            return waiter
        }
        waiter?.continuation.resume(returning: false)
    }

    /// Times send number `sendNumber` while it waits: when no message could go within the stall timeout,
    /// it fails. A timer that fires after its send went out (cancelling it raced with its firing) does
    /// nothing.
    private func armStallTimer(for sendNumber: Int) -> CallTimer? {
        guard let stall = self.stall else { return nil }
        return stall.connection.schedule(after: stall.timeout) { [self] in
            let current = self.state.withLock { state in
                guard state.sendNumber == sendNumber else { return false }
                state.stalled = true
                return true
            }
            if current { self.wake() }
        }
    }

    /// The client's CREDIT: `increment` more messages. Wakes a waiting send.
    /// Returns false, granting nothing, when the stream's unused credit would exceed ``maxCredit``:
    /// the client broke the protocol (a connection error, SPEC.md section 16).
    package func grant(_ increment: Int) -> Bool {
        let accepted: Bool = self.state.withLock { state in
            guard state.interrupted == nil, increment > 0 else { return true }
            guard state.credit <= self.maxCredit - increment else { return false }
            state.credit += increment
            return true
        }
        if accepted { self.wake() }
        return accepted
    }

    /// The call was interrupted: a waiting send, and every later one, throws CANCELLED (the call ends
    /// with the interrupt's own status: ``DeferredCall``).
    package func interrupt() {
        self.state.withLock { state in
            if state.interrupted == nil { state.interrupted = CallInterrupt.cancelled.error }
        }
        self.wake()
    }
}

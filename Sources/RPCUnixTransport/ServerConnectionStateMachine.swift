import NIOCore
import RPCCodec

/// The rules of one server connection (SPEC.md sections 3-9) as a value: the handler reports what
/// happened (a frame read, a call answered, a timer, the peer's end of stream, a change of writability,
/// shutdown) and performs the action returned. Phases, call slots and the server-wide budget units the
/// calls hold, deadlines, idleness, read gating (backpressure) and flush coalescing all live here. No
/// channel, no clock of its own (times are passed in, from the event loop's clock): unit-tested alone.
///
/// `Call` is what the handler needs to interrupt a call in flight.
struct ServerConnectionStateMachine<Call> {
    enum Phase: Equatable {
        case awaitingHello
        case open
        /// GOAWAY sent or received: calls above `lastCallID` are ignored; close once the rest are answered.
        case draining(lastCallID: UInt32)
        /// Closing or closed: nothing more is sent but what is already owed.
        case closed
    }

    private struct Running {
        var call: Call
        /// Nil once the deadline fired (or for a call without one).
        var deadline: NIODeadline?
    }

    let maxConcurrentCalls: Int
    let idleTimeout: TimeAmount
    private(set) var phase = Phase.awaitingHello
    /// The client's receive limits, from its HELLO: no RESPONSE is sent over them.
    private(set) var peerLimits = WireLimits.defaults
    private(set) var highestCallID: UInt32 = 0
    /// After a connection error nothing more is read (SPEC.md section 9.1).
    private(set) var readsStopped = false
    private var calls: [UInt32: Running] = [:]
    /// When the deadline timer is set to fire, if it is.
    private var deadlineTimer: NIODeadline?
    /// When a call that takes no slot (health) was last answered: activity for the idle timeout.
    private var lastImmediate: NIODeadline?
    /// When the registry last heard that the connection is idle (at most once a second for calls
    /// that take no slot).
    private var lastIdleReport: NIODeadline?
    /// Calls still running when the connection closed: each holds its unit of the server's budget
    /// until it really ends (its answer comes back and is dropped), not until the socket closes.
    private var abandoned: Set<UInt32> = []
    /// The calls in flight (or abandoned) that are server-streaming: each holds a unit of the server's
    /// stream budget until it ends, and is ended when the connection goes away (SPEC.md section 16).
    private var streams: Set<UInt32> = []
    /// A `read()` withheld while reading is paused, to be issued when it resumes.
    private var readPending = false
    /// Inside a read (or a batch of answers): writes are flushed once at its end, one syscall for all.
    private var flushDeferred = false
    private var needsFlush = false

    init(maxConcurrentCalls: Int, idleTimeout: TimeAmount) {
        self.maxConcurrentCalls = maxConcurrentCalls
        self.idleTimeout = idleTimeout
    }

    var callsInFlight: Int { self.calls.count }

    // MARK: reading

    /// Whether to read more from the socket: not after a connection error, nor while the peer is not
    /// reading what was written (the channel is above its high-water mark).
    func shouldRead(isWritable: Bool) -> Bool {
        !self.readsStopped && isWritable
    }

    /// The pipeline asks for a read: true to read now; false to hold it until reading may resume.
    mutating func readRequested(isWritable: Bool) -> Bool {
        if self.shouldRead(isWritable: isWritable) { return true }
        self.readPending = true
        return false
    }

    /// Writability changed or a call was answered: true to issue the read held back.
    mutating func readMayResume(isWritable: Bool) -> Bool {
        guard self.readPending, self.shouldRead(isWritable: isWritable) else { return false }
        self.readPending = false
        return true
    }

    // MARK: flushing

    /// A read (or a batch of answers) begins: what it writes is flushed once, at its end. Returns
    /// whether one was under way already (pass it to ``endWriting(wasDeferred:)``).
    mutating func beginWriting() -> Bool {
        defer { self.flushDeferred = true }
        return self.flushDeferred
    }

    /// The read or batch ends: true to flush now.
    mutating func endWriting(wasDeferred: Bool) -> Bool {
        self.flushDeferred = wasDeferred
        return wasDeferred ? false : self.takeFlush()
    }

    /// Something was written: true to flush now (outside a read or batch).
    mutating func wrote() -> Bool {
        self.needsFlush = true
        return self.flushDeferred ? false : self.takeFlush()
    }

    private mutating func takeFlush() -> Bool {
        defer { self.needsFlush = false }
        return self.needsFlush
    }

    enum OnHello: Equatable {
        case startIdleTimer
        case connectionError(GoAway.ErrorCode, String)
    }

    mutating func receivedHello(_ hello: Hello) -> OnHello {
        guard hello.negotiatedVersion(with: Hello()) >= 1 else { return .connectionError(.handshakeFailed, "no common protocol version") }
        self.peerLimits = hello.limits
        if case .awaitingHello = self.phase { self.phase = .open }
        return .startIdleTimer
    }

    enum OnRequest: Equatable {
        /// Decode and run it.
        case process
        /// A call above the `last_call_id` of a GOAWAY: not processed, not answered.
        case ignore
        case connectionError(GoAway.ErrorCode, String)
    }

    mutating func receivedRequest(callID: UInt32) -> OnRequest {
        // After GOAWAY (a drain that is closing, or a connection error) no call is processed: GOAWAY
        // told the client that calls above its last_call_id were not, and it may send them again.
        if self.readsStopped || self.phase == .closed { return .ignore }
        guard callID > self.highestCallID else {
            return .connectionError(.protocolError, "call id \(callID) is not above \(self.highestCallID)")
        }
        self.highestCallID = callID
        if case .draining(let last) = self.phase, callID > last { return .ignore }
        return .process
    }

    /// Whether a call that needs a slot may start; otherwise it is answered RESOURCE_EXHAUSTED.
    var hasFreeSlot: Bool { self.calls.count < self.maxConcurrentCalls }

    enum OnAdmit: Equatable {
        /// Start the call (it holds a slot and a unit of the server's budget until answered; a stream
        /// also a unit of the stream budget).
        case start
        /// RESOURCE_EXHAUSTED: the connection's MAX_CONCURRENT_CALLS are running.
        case refuseConnectionLimit
        /// RESOURCE_EXHAUSTED: the server's calls in flight are at their limit.
        case refuseServerLimit
        /// RESOURCE_EXHAUSTED: the server's streams are at their limit.
        case refuseStreamLimit
    }

    /// Whether a call that needs a slot may start: a free slot on this connection, then, for a stream, a
    /// unit of the server-wide stream budget (`acquireStreamUnit`), then a unit of the server-wide call
    /// budget (`acquireBudget`; when none is left the stream unit goes back through `releaseStreamUnit`).
    func admitCall(
        stream: Bool = false, acquireBudget: () -> Bool, acquireStreamUnit: () -> Bool = { true }, releaseStreamUnit: () -> Void = {}
    ) -> OnAdmit {
        guard self.hasFreeSlot else { return .refuseConnectionLimit }
        if stream, !acquireStreamUnit() { return .refuseStreamLimit }
        guard acquireBudget() else {
            if stream { releaseStreamUnit() }
            return .refuseServerLimit
        }
        return .start
    }

    struct OnCallStarted: Equatable {
        /// The connection was idle: it is busy now (cancel the idle timer, tell the registry).
        var becameBusy: Bool
        /// Set (or move) the one deadline timer to fire then.
        var armDeadlineTimer: NIODeadline?
    }

    mutating func callStarted(_ callID: UInt32, _ call: Call, deadline: NIODeadline?, stream: Bool = false) -> OnCallStarted {
        let becameBusy = self.calls.isEmpty
        self.calls[callID] = Running(call: call, deadline: deadline)
        if stream { self.streams.insert(callID) }
        var arm: NIODeadline?
        if let deadline, self.deadlineTimer.map({ deadline < $0 }) ?? true {
            self.deadlineTimer = deadline
            arm = deadline
        }
        return OnCallStarted(becameBusy: becameBusy, armDeadlineTimer: arm)
    }

    /// A call that takes no slot was answered (it keeps the connection from idling out). Returns whether
    /// to tell the registry the connection is idle (in use, not to be evicted first): at most once a second.
    mutating func immediateCallAnswered(at now: NIODeadline) -> Bool {
        self.lastImmediate = now
        guard self.calls.isEmpty, self.lastIdleReport.map({ now - $0 > .seconds(1) }) ?? true else { return false }
        self.lastIdleReport = now
        return true
    }

    /// One timer serves every call's deadline: it is set for the earliest and, when it fires, interrupts
    /// the calls whose deadline passed and is set again for the next. Answered calls leave it alone (it
    /// then fires for nothing, once), so a call costs no timer of its own.
    mutating func deadlineTimerFired(now: NIODeadline) -> (expired: [Call], armAgain: NIODeadline?) {
        self.deadlineTimer = nil
        var expired: [Call] = []
        var next: NIODeadline?
        for (id, running) in self.calls {
            guard let deadline = running.deadline else { continue }
            if deadline <= now {
                expired.append(running.call)
                self.calls[id]?.deadline = nil
            } else if next.map({ deadline < $0 }) ?? true {
                next = deadline
            }
        }
        self.deadlineTimer = next
        return (expired, next)
    }

    /// The call the client cancelled, if it is in flight.
    func cancelReceived(callID: UInt32) -> Call? {
        self.calls[callID]?.call
    }

    /// The stream with this call id, if it is in flight (a CREDIT's, a message's); nil for any other id (a stream answered
    /// already, a unary call, an unknown id): such a CREDIT is ignored, as it may cross the RESPONSE.
    func runningStream(callID: UInt32) -> Call? {
        guard self.streams.contains(callID) else { return nil }
        return self.calls[callID]?.call
    }

    /// The streams in flight: to end when the connection goes away (shutdown, a connection error),
    /// since a stream may never end by itself. Unary calls are answered instead.
    var streamsInFlight: [Call] {
        self.streams.compactMap { self.calls[$0]?.call }
    }

    /// Whether the call that just ended (``callAnswered(_:)``) was a stream: return its stream unit.
    mutating func streamEnded(_ callID: UInt32) -> Bool {
        self.streams.remove(callID) != nil
    }

    enum OnCallAnswered: Equatable {
        /// Return the call's unit of the budget and write its answer; then, when `becameIdle`, tell the
        /// registry; when `close` (draining, the last call answered), close once the answers are written;
        /// when `startIdleTimer` (idle and open), start the idle timer; and see whether reading may resume.
        case write(becameIdle: Bool, close: Bool, startIdleTimer: Bool)
        /// A call of a closed connection ended: return its unit of the budget; write nothing.
        case releaseOnly
        /// Not a call in flight (answered already): nothing.
        case none

        var closes: Bool {
            if case .write(_, let close, _) = self { close } else { false }
        }
    }

    /// A call's answer is ready.
    mutating func callAnswered(_ callID: UInt32) -> OnCallAnswered {
        guard self.calls.removeValue(forKey: callID) != nil else {
            return self.abandoned.remove(callID) != nil ? .releaseOnly : .none
        }
        guard self.calls.isEmpty else { return .write(becameIdle: false, close: false, startIdleTimer: false) }
        let close = self.closeIfDrained()
        return .write(becameIdle: true, close: close, startIdleTimer: !close && self.phase == .open)
    }

    /// Whether a RESPONSE of these sizes fits the client's HELLO limits; one that does not would be a
    /// connection error at the client, failing every call, so it fails this call only (SPEC.md 4.1).
    func fitsPeerLimits(frameSize: Int, metadataSize: Int) -> Bool {
        frameSize <= self.peerLimits.maxFrameSize && metadataSize <= self.peerLimits.maxMetadataSize
    }

    // MARK: ending

    enum OnIdleTimer: Equatable {
        case drain
        case armAgain(after: TimeAmount)
        case none
    }

    /// The idle timer (armed when the last call was answered) fired.
    func idleTimerFired(now: NIODeadline) -> OnIdleTimer {
        guard self.phase == .open, self.calls.isEmpty else { return .none }
        if let last = self.lastImmediate, now - last < self.idleTimeout {
            return .armAgain(after: self.idleTimeout - (now - last))
        }
        return .drain
    }

    /// The client sent GOAWAY: it sends no more calls. Returns whether to close now: at once when it came
    /// before the client's HELLO (no call can follow, so there is nothing to wait for: SPEC.md 3).
    mutating func goAwayReceived() -> Bool {
        switch self.phase {
        case .awaitingHello:
            self.phase = .closed
            return true
        case .open:
            self.phase = .draining(lastCallID: self.highestCallID)
            return self.closeIfDrained()
        case .draining, .closed:
            return false
        }
    }

    enum OnDrain: Equatable {
        /// Send GOAWAY `NO_ERROR` naming `lastCallID`; close now when `close`.
        case sendGoAway(lastCallID: UInt32, close: Bool)
        case none
    }

    /// Graceful shutdown, idle timeout or eviction.
    mutating func beginDrain() -> OnDrain {
        switch self.phase {
        case .open, .awaitingHello:
            self.phase = .draining(lastCallID: self.highestCallID)
            return .sendGoAway(lastCallID: self.highestCallID, close: self.closeIfDrained())
        case .draining, .closed:
            return .none
        }
    }

    enum OnConnectionError: Equatable {
        /// Send this GOAWAY and read nothing more; close now when `close`, else once the calls it names
        /// are answered.
        case sendGoAway(GoAway, close: Bool)
        case none
    }

    /// A connection error (SPEC.md 9.1): GOAWAY names the highest call still running, every call it
    /// covers is answered, and nothing more is read.
    mutating func connectionError(_ code: GoAway.ErrorCode, _ message: String) -> OnConnectionError {
        guard !self.readsStopped, self.phase != .closed else { return .none }
        self.readsStopped = true
        let lastCallID = self.calls.keys.max() ?? 0
        self.phase = .draining(lastCallID: lastCallID)
        return .sendGoAway(GoAway(lastCallID: lastCallID, errorCode: code, debug: message), close: self.closeIfDrained())
    }

    /// After a connection error the peer's later bytes fail to decode too; those failures are not new
    /// errors (the calls GOAWAY named are still being answered).
    var ignoresDecodingErrors: Bool { self.readsStopped }

    enum OnInputClosed: Equatable {
        case close
        case none
    }

    /// The peer shut down its sending side (with no partial frame): its calls are answered, then close.
    mutating func inputClosed() -> OnInputClosed {
        switch self.phase {
        case .awaitingHello:
            self.phase = .closed
            return .close
        case .open:
            self.phase = .draining(lastCallID: self.highestCallID)
            return self.closeIfDrained() ? .close : .none
        case .draining, .closed:
            return .none
        }
    }

    /// The channel closed (or failed): the calls still in flight, to interrupt. Each keeps its unit of
    /// the budget until its answer comes back (``callAnswered(_:)`` then says ``OnCallAnswered/releaseOnly``).
    mutating func channelClosed() -> [Call] {
        self.phase = .closed
        self.readPending = false
        defer { self.calls.removeAll() }
        self.abandoned.formUnion(self.calls.keys)
        return self.calls.values.map(\.call)
    }

    /// Draining with nothing in flight: the connection closes (once its last answers are written).
    private mutating func closeIfDrained() -> Bool {
        guard case .draining = self.phase, self.calls.isEmpty else { return false }
        self.phase = .closed
        return true
    }
}

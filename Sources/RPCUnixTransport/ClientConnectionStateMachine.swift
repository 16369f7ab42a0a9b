import RPCCodec
import RPCCore

/// The rules of one client connection (SPEC.md sections 2.1, 5, 8 and 9) as a value: strictly increasing
/// call ids, at most the server's `MAX_CONCURRENT_CALLS` sent (the rest queued, in order), no frame over
/// the server's limit (nor over 16 KiB before its HELLO), what a GOAWAY or a closed connection means for
/// each call, and when the connection closes. The handler reports events and performs what it is told;
/// no channel, no timer, no promise here: unit-tested alone.
///
/// Server-streaming calls (version 2, SPEC.md section 16) wait for the server's HELLO, fail UNIMPLEMENTED
/// on a version-1 connection, take a slot like any call, and receive their messages until the RESPONSE.
///
/// `Call` is what the handler completes a call with (its promise, or a stream's receiver).
struct ClientConnectionStateMachine<Call> {
    enum Phase: Equatable {
        case awaitingHello
        case open
        /// GOAWAY sent or received: no new call; close once those sent are answered.
        case goingAway
        case closed
    }

    private struct Sent {
        var key: Int
        var call: Call
        /// Past its deadline or cancellation: waiting a last while for the server's answer.
        var awaitingLastAnswer = false
        var isStream = false
    }

    private struct Queued {
        var key: Int
        var request: Request
        var call: Call
    }

    private(set) var phase = Phase.awaitingHello
    private var peerHello = Hello()
    /// The highest version this side offers; the connection's is the lower of it and the server's.
    let ownVersion: UInt16
    /// The connection's version, known once the server's HELLO has arrived.
    private(set) var version: UInt16 = 1
    private var nextCallID: UInt32 = 1
    private var sent: [UInt32: Sent] = [:]
    private var callIDs: [Int: UInt32] = [:]
    private var queue: [Queued] = []

    init(version: UInt16 = Hello.currentVersion) {
        self.ownVersion = version
    }

    /// The most unused credit a stream may hold: the server's `MAX_STREAM_CREDIT`.
    var maxStreamCredit: Int { Int(self.peerHello.maxStreamCredit) }

    /// Whether new calls can go on this connection.
    var isUsable: Bool {
        switch self.phase {
        case .awaitingHello, .open: true
        case .goingAway, .closed: false
        }
    }

    // MARK: calls

    enum OnStart {
        /// Write this REQUEST.
        case send(callID: UInt32, Request)
        /// Waits for a slot (or the server's HELLO); ``nextToSend()`` hands it over when it may go.
        case queued
        case fail(Call, RPCError)
    }

    /// A new call (`key` names it for ``interrupt(key:error:)`` and ``giveUp(key:error:)``).
    mutating func start(key: Int, request: Request, call: Call) -> OnStart {
        guard self.isUsable else { return .fail(call, ClientConnection.notProcessed("the connection is closing")) }
        if !self.queue.isEmpty || !self.canSend(request) {
            self.queue.append(Queued(key: key, request: request, call: call))
            return .queued
        }
        return self.send(key: key, request: request, call: call)
    }

    enum OnNextToSend {
        case send(callID: UInt32, Request)
        case fail(Call, RPCError)
    }

    /// The oldest queued call, when it may go now (a call never overtakes an earlier one). Ask after every
    /// event that frees a slot or opens the connection, until nil.
    mutating func nextToSend() -> OnNextToSend? {
        guard let next = self.queue.first, self.isUsable, self.canSend(next.request) else { return nil }
        self.queue.removeFirst()
        switch self.send(key: next.key, request: next.request, call: next.call) {
        case .send(let callID, let request): return .send(callID: callID, request)
        case .fail(let call, let error): return .fail(call, error)
        case .queued: return nil  // not reached: canSend said it may go
        }
    }

    /// Whether `request` may be written now: a slot is free and, before the server's HELLO, its frame is
    /// one any server accepts.
    private func canSend(_ request: Request) -> Bool {
        guard self.sent.count < Int(self.peerHello.maxConcurrentCalls) else { return false }
        // A stream needs version 2, which only the server's HELLO can confirm (SPEC.md section 3).
        return self.phase != .awaitingHello || (!request.isStream && request.encodedLength <= WireLimits.maxFrameSizeBeforePeerHello)
    }

    private mutating func send(key: Int, request: Request, call: Call) -> OnStart {
        guard self.nextCallID <= Frame.maxCallID else {
            self.phase = .goingAway
            return .fail(call, ClientConnection.notProcessed("call ids exhausted on this connection"))
        }
        guard !request.isStream || self.version >= 2 else {
            return .fail(
                call,
                RPCError(
                    code: .unimplemented,
                    message: "\(request.method) is a streaming call, and the server speaks protocol version 1, which has none."
                )
            )
        }
        guard request.encodedLength <= self.peerHello.limits.maxFrameSize else {
            return .fail(
                call,
                RPCError(
                    code: .resourceExhausted,
                    message: "Request of \(request.encodedLength) bytes is over the server's frame limit of \(self.peerHello.limits.maxFrameSize) bytes."
                )
            )
        }
        let callID = self.nextCallID
        self.nextCallID += 1
        self.sent[callID] = Sent(key: key, call: call, isStream: request.isStream)
        self.callIDs[key] = callID
        return .send(callID: callID, request)
    }

    enum OnInterrupt {
        /// Never sent: fail it with the interrupt's error now.
        case fail(Call, RPCError)
        /// Sent: wait a last while for the server's answer (start the give-up timer); send CANCEL first
        /// when `sendCancel` (a cancellation: on a deadline the server stops the call by itself).
        case awaitAnswer(callID: UInt32, sendCancel: Bool)
        case none
    }

    /// The call's deadline passed, or its caller was cancelled (`error` says which). A call still queued
    /// was never sent; one sent is left to the server, which answers what really happened (SPEC.md 8).
    mutating func interrupt(key: Int, error: RPCError) -> OnInterrupt {
        if let index = self.queue.firstIndex(where: { $0.key == key }) {
            return .fail(self.queue.remove(at: index).call, error)
        }
        guard let callID = self.callIDs[key], let call = self.sent[callID], !call.awaitingLastAnswer else { return .none }
        self.sent[callID]?.awaitingLastAnswer = true
        return .awaitAnswer(callID: callID, sendCancel: error.code == .cancelled)
    }

    enum OnGiveUp {
        case fail(Call, RPCError)
        /// Fail it and send CANCEL (it was sent); then send what the slot lets go (``nextToSend()``).
        case failSent(Call, RPCError, cancelCallID: UInt32)
        case none
    }

    /// Gives up on a call (no answer within the grace after its interrupt): it fails with `error`.
    mutating func giveUp(key: Int, error: RPCError) -> OnGiveUp {
        if let index = self.queue.firstIndex(where: { $0.key == key }) {
            return .fail(self.queue.remove(at: index).call, error)
        }
        guard let callID = self.callIDs.removeValue(forKey: key), let call = self.sent.removeValue(forKey: callID) else { return .none }
        return .failSent(call.call, error, cancelCallID: callID)
    }

    /// We go away (the connection is being closed by its owner): the queued calls fail as not processed;
    /// send GOAWAY. Nil when already going away.
    mutating func goAway() -> [(Call, RPCError)]? {
        guard self.isUsable else { return nil }
        self.phase = .goingAway
        return self.failQueue(ClientConnection.notProcessed("the connection is closing"))
    }

    /// Whether to close now: going away with nothing sent unanswered.
    mutating func closeIfIdle() -> Bool {
        guard self.phase == .goingAway, self.sent.isEmpty else { return false }
        self.phase = .closed
        return true
    }

    // MARK: inbound

    /// The server's HELLO: its limits and the connection's version hold from now on.
    mutating func receivedHello(_ hello: Hello) {
        self.peerHello = hello
        self.version = min(self.ownVersion, hello.version)
        if self.phase == .awaitingHello { self.phase = .open }
    }

    /// The call a RESPONSE answers, removed; nil when it was given up on (or never sent): ignore it.
    mutating func receivedResponse(callID: UInt32) -> Call? {
        guard let call = self.sent.removeValue(forKey: callID) else { return nil }
        self.callIDs[call.key] = nil
        return call.call
    }

    /// The stream a STREAM_MESSAGE belongs to; nil when it is not a stream still read (unknown, answered,
    /// given up on, or cancelled: its messages are ignored).
    func receivedStreamMessage(callID: UInt32) -> Call? {
        guard let sent = self.sent[callID], sent.isStream, !sent.awaitingLastAnswer else { return nil }
        return sent.call
    }

    /// The call id to send a stream's CREDIT on; nil when the stream is no longer read.
    func creditCallID(key: Int) -> UInt32? {
        guard let callID = self.callIDs[key], let sent = self.sent[callID], sent.isStream, !sent.awaitingLastAnswer else { return nil }
        return callID
    }

    struct OnGoAway {
        /// Whether it came instead of the server's HELLO (the connection was refused).
        var beforeHello: Bool
        /// Calls the server did not process (above its `last_call_id`, or queued): safe to send again.
        var notProcessed: [(Call, RPCError)]
        /// The ids of the sent calls among them (their give-up timers, if any, are void).
        var notProcessedIDs: [UInt32]
    }

    /// The server's GOAWAY (SPEC.md 9): calls above `last_call_id` were not processed; those at or below
    /// it are answered.
    mutating func receivedGoAway(_ goAway: GoAway) -> OnGoAway {
        let beforeHello = self.phase == .awaitingHello
        self.phase = .goingAway
        let reason = goAway.errorCode == .noError ? "the server is going away" : "\(goAway.errorCode): \(goAway.debug)"
        var failed: [(Call, RPCError)] = []
        var ids: [UInt32] = []
        for (callID, call) in self.sent where callID > goAway.lastCallID {
            self.sent[callID] = nil
            self.callIDs[call.key] = nil
            failed.append((call.call, ClientConnection.notProcessed(reason)))
            ids.append(callID)
        }
        failed += self.failQueue(ClientConnection.notProcessed(reason))
        return OnGoAway(beforeHello: beforeHello, notProcessed: failed, notProcessedIDs: ids)
    }

    /// The connection closed: calls sent and unanswered may or may not have taken effect (UNKNOWN);
    /// queued ones were never sent.
    mutating func channelClosed() -> [(Call, RPCError)] {
        self.phase = .closed
        var failed = self.sent.values.map { ($0.call, ClientConnection.outcomeUnknown("the connection closed before its response")) }
        failed += self.failQueue(ClientConnection.notProcessed("the connection closed"))
        self.sent.removeAll()
        self.callIDs.removeAll()
        return failed
    }

    private mutating func failQueue(_ error: RPCError) -> [(Call, RPCError)] {
        defer { self.queue.removeAll() }
        return self.queue.map { ($0.call, error) }
    }
}

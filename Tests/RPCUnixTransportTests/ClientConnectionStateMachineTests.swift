import NIOCore
import RPCCodec
import RPCCore
import Testing

@testable import RPCUnixTransport

/// The client connection's rules without a socket: each test feeds events and checks the actions.
@Suite("Client connection state machine")
struct ClientConnectionStateMachineTests {
    typealias Machine = ClientConnectionStateMachine<String>

    private static func request(payloadLength: Int = 100) -> Request {
        let overhead = 4 + 1 + ":method".utf8.count + 2 + "/a/b".utf8.count
        return Request(method: "/a/b", body: ByteBuffer(repeating: 0, count: payloadLength - overhead))
    }

    private static func open(maxConcurrentCalls: UInt32 = 100, maxFrameSize: Int = 1_048_576) -> Machine {
        var machine = Machine()
        machine.receivedHello(Hello(limits: WireLimits(maxFrameSize: maxFrameSize), maxConcurrentCalls: maxConcurrentCalls))
        #expect(machine.phase == .open)
        return machine
    }

    /// The call id a start or a dequeue sent, or nil.
    private static func sentID(_ start: Machine.OnStart) -> UInt32? {
        if case .send(let callID, _) = start { callID } else { nil }
    }

    private static func sentID(_ next: Machine.OnNextToSend?) -> UInt32? {
        if case .send(let callID, _)? = next { callID } else { nil }
    }

    @Test("call ids increase from 1; past MAX_CONCURRENT_CALLS calls queue, and go in order as answers free slots")
    func slotsAndOrder() {
        var machine = Self.open(maxConcurrentCalls: 2)
        let result1 = machine.start(key: 10, request: Self.request(), call: "a")
        #expect(Self.sentID(result1) == 1)
        let result2 = machine.start(key: 11, request: Self.request(), call: "b")
        #expect(Self.sentID(result2) == 2)
        guard case .queued = machine.start(key: 12, request: Self.request(), call: "c") else { Issue.record("not queued"); return }
        guard case .queued = machine.start(key: 13, request: Self.request(), call: "d") else { Issue.record("not queued"); return }
        let result3 = machine.nextToSend()
        #expect(result3 == nil, "no slot yet")
        let result4 = machine.receivedResponse(callID: 2)
        #expect(result4 == "b")
        let result5 = machine.nextToSend()
        #expect(Self.sentID(result5) == 3, "the oldest queued call, with the next id")
        let result6 = machine.nextToSend()
        #expect(result6 == nil)
        let result7 = machine.receivedResponse(callID: 2)
        #expect(result7 == nil, "answered already")
        let result8 = machine.receivedResponse(callID: 1)
        #expect(result8 == "a")
        let result9 = machine.nextToSend()
        #expect(Self.sentID(result9) == 4)
    }

    @Test("before the server's HELLO a REQUEST over 16,384 bytes waits; once the HELLO is in it goes, and later calls stay behind it")
    func largeRequestBeforeHello() {
        var machine = Machine()
        let result10 = machine.start(key: 1, request: Self.request(payloadLength: 16_384), call: "small")
        #expect(Self.sentID(result10) == 1)
        guard case .queued = machine.start(key: 2, request: Self.request(payloadLength: 16_385), call: "large") else {
            Issue.record("not queued")
            return
        }
        guard case .queued = machine.start(key: 3, request: Self.request(), call: "after") else { Issue.record("overtook"); return }
        let result11 = machine.nextToSend()
        #expect(result11 == nil)
        machine.receivedHello(Hello())
        let result12 = machine.nextToSend()
        #expect(Self.sentID(result12) == 2)
        let result13 = machine.nextToSend()
        #expect(Self.sentID(result13) == 3)
    }

    @Test("a REQUEST over the server's frame limit fails RESOURCE_EXHAUSTED without being sent")
    func overFrameLimit() {
        var machine = Self.open(maxFrameSize: 16_384)
        guard case .fail(let call, let error) = machine.start(key: 1, request: Self.request(payloadLength: 16_385), call: "big") else {
            Issue.record("sent")
            return
        }
        #expect(call == "big")
        #expect(error.code == .resourceExhausted)
        let result14 = machine.start(key: 2, request: Self.request(), call: "next")
        #expect(Self.sentID(result14) == 1, "no id was spent")
    }

    @Test("an interrupt: a queued call fails at once; a sent one waits for the server's answer (CANCEL first on a cancellation), once")
    func interrupts() {
        var machine = Self.open(maxConcurrentCalls: 2)
        _ = machine.start(key: 1, request: Self.request(), call: "a")
        _ = machine.start(key: 2, request: Self.request(), call: "b")
        _ = machine.start(key: 3, request: Self.request(), call: "queued")
        let deadline = RPCError(code: .deadlineExceeded, message: "Deadline exceeded.")
        let cancelled = RPCError(code: .cancelled, message: "The call was cancelled.")
        guard case .fail(let queued, let error) = machine.interrupt(key: 3, error: deadline) else { Issue.record("queued call kept"); return }
        #expect(queued == "queued" && error.code == .deadlineExceeded)
        guard case .awaitAnswer(1, sendCancel: false) = machine.interrupt(key: 1, error: deadline) else { Issue.record("deadline"); return }
        guard case .awaitAnswer(2, sendCancel: true) = machine.interrupt(key: 2, error: cancelled) else { Issue.record("cancel"); return }
        guard case .none = machine.interrupt(key: 2, error: cancelled) else { Issue.record("interrupted twice"); return }
        let result15 = machine.receivedResponse(callID: 1)
        #expect(result15 == "a", "the server's answer still completes the call")
    }

    @Test("giving up on a sent call fails it and sends CANCEL; its late RESPONSE is ignored, and its slot goes to a queued call")
    func giveUp() {
        var machine = Self.open(maxConcurrentCalls: 1)
        _ = machine.start(key: 1, request: Self.request(), call: "a")
        _ = machine.start(key: 2, request: Self.request(), call: "b")
        guard case .failSent("a", let error, cancelCallID: 1) = machine.giveUp(key: 1, error: ClientConnection.outcomeUnknown("no answer")) else {
            Issue.record("not given up")
            return
        }
        #expect(error.code == .unknown)
        let result16 = machine.receivedResponse(callID: 1)
        #expect(result16 == nil)
        let result17 = machine.nextToSend()
        #expect(Self.sentID(result17) == 2)
        guard case .none = machine.giveUp(key: 1, error: error) else { Issue.record("given up twice"); return }
    }

    @Test("GOAWAY: calls above last_call_id and queued ones fail as not processed (safe to retry); those below are still answered, then close")
    func serverGoAway() {
        var machine = Self.open(maxConcurrentCalls: 3)
        for key in 1...4 { _ = machine.start(key: key, request: Self.request(), call: "c\(key)") }
        let outcome = machine.receivedGoAway(GoAway(lastCallID: 2, errorCode: .noError))
        #expect(!outcome.beforeHello)
        #expect(Set(outcome.notProcessed.map(\.0)) == ["c3", "c4"])
        #expect(outcome.notProcessed.allSatisfy { $0.1.cause is ClientConnection.NotProcessed })
        #expect(outcome.notProcessedIDs == [3], "the sent one among them (c4 was queued)")
        #expect(!machine.isUsable)
        guard case .fail(_, let refused) = machine.start(key: 5, request: Self.request(), call: "late") else { Issue.record("accepted"); return }
        #expect(refused.cause is ClientConnection.NotProcessed)
        let result18 = machine.closeIfIdle()
        #expect(!result18)
        let result19 = machine.receivedResponse(callID: 1)
        #expect(result19 == "c1")
        let result20 = machine.closeIfIdle()
        #expect(!result20)
        let result21 = machine.receivedResponse(callID: 2)
        #expect(result21 == "c2")
        let result22 = machine.closeIfIdle()
        #expect(result22)
        #expect(machine.phase == .closed)
    }

    @Test("a GOAWAY instead of the server's HELLO is a refused connection")
    func refused() {
        var machine = Machine()
        _ = machine.start(key: 1, request: Self.request(), call: "a")
        let outcome = machine.receivedGoAway(GoAway(lastCallID: 0, errorCode: .refused, debug: "too many connections"))
        #expect(outcome.beforeHello)
        #expect(outcome.notProcessed.map(\.0) == ["a"])
    }

    @Test("the connection closing: sent calls are UNKNOWN (they may have taken effect), queued ones not processed")
    func closed() {
        var machine = Self.open(maxConcurrentCalls: 1)
        _ = machine.start(key: 1, request: Self.request(), call: "sent")
        _ = machine.start(key: 2, request: Self.request(), call: "queued")
        let failed = Dictionary(uniqueKeysWithValues: machine.channelClosed().map { ($0.0, $0.1) })
        #expect(failed["sent"]?.code == .unknown)
        #expect(failed["queued"]?.cause is ClientConnection.NotProcessed)
        #expect(machine.phase == .closed)
    }

    @Test("going away: queued calls fail as not processed; the connection closes once the calls sent are answered")
    func ownGoAway() {
        var machine = Self.open(maxConcurrentCalls: 1)
        _ = machine.start(key: 1, request: Self.request(), call: "sent")
        _ = machine.start(key: 2, request: Self.request(), call: "queued")
        let result23 = machine.goAway()
        #expect(result23?.map(\.0) == ["queued"])
        let result24 = machine.goAway()
        #expect(result24 == nil, "once")
        let result25 = machine.closeIfIdle()
        #expect(!result25)
        _ = machine.receivedResponse(callID: 1)
        let result26 = machine.closeIfIdle()
        #expect(result26)
    }
}

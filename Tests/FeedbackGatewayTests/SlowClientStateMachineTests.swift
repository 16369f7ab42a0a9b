import FeedbackTestSupport
import HTTPConnectionGuard
import Testing

@Suite("Gateway connection deadlines (state machine, no socket)")
struct SlowClientStateMachineTests {
    @Test("a new connection's first head is due from the moment it opened; its first byte does not restart the clock")
    func firstRequest() {
        var machine = SlowClientStateMachine()
        #expect(machine.connectionOpened() == .head)
        #expect(machine.bytesReceived() == .head)
        #expect(machine.bytesReceived() == nil, "more bytes of the same head change nothing")
        #expect(machine.headReceived() == .body)
        #expect(machine.bytesReceived() == nil, "body bytes do not extend the body deadline")
        #expect(machine.requestEnded() == SlowClientStateMachine.Timer.none, "nothing is timed while the request is answered")
        #expect(machine.responseEnded() == .idle)
    }

    @Test("after a response the connection is idle; the next request's first byte starts its head deadline")
    func keepAlive() {
        var machine = SlowClientStateMachine()
        _ = machine.connectionOpened()
        _ = machine.bytesReceived()
        _ = machine.headReceived()
        _ = machine.requestEnded()
        #expect(machine.responseEnded() == .idle)
        #expect(machine.bytesReceived() == .head)
        #expect(machine.headReceived() == .body)
        #expect(machine.isReadingRequest)
        #expect(machine.requestEnded() == SlowClientStateMachine.Timer.none)
        #expect(!machine.isReadingRequest)
    }

    @Test("a response written before its body was read: the body deadline still runs, then the connection idles")
    func earlyResponse() {
        var machine = SlowClientStateMachine()
        _ = machine.connectionOpened()
        _ = machine.bytesReceived()
        _ = machine.headReceived()
        #expect(machine.responseEnded() == .body)
        #expect(machine.isReadingRequest)
        // The late body's end leaves nothing unanswered: the idle deadline runs (it did not, once).
        #expect(machine.requestEnded() == .idle)
        #expect(machine.bytesReceived() == .head)
    }

    @Test("pipelined requests: no deadline while any is unanswered; idle only after the last answer")
    func pipelined() {
        var machine = SlowClientStateMachine()
        _ = machine.connectionOpened()
        _ = machine.bytesReceived()
        _ = machine.headReceived()
        #expect(machine.requestEnded() == SlowClientStateMachine.Timer.none)
        #expect(machine.headReceived() == .body)
        #expect(machine.requestEnded() == SlowClientStateMachine.Timer.none)
        #expect(machine.responseEnded() == SlowClientStateMachine.Timer.none)
        #expect(machine.responseEnded() == .idle)
    }
}

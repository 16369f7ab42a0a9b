import FeedbackTestSupport
import NIOCore
import RPCCodec
import Testing

@testable import RPCUnixTransport

/// The connection's rules without a socket: each test feeds events and checks the actions.
@Suite("Server connection state machine")
struct ServerConnectionStateMachineTests {
    typealias Machine = ServerConnectionStateMachine<String>

    private func open(maxConcurrentCalls: Int = 100) -> Machine {
        var machine = Machine(maxConcurrentCalls: maxConcurrentCalls, idleTimeout: .seconds(300))
        #expect(machine.receivedHello(Hello()) == .startIdleTimer)
        #expect(machine.phase == .open)
        return machine
    }

    @Test("HELLO: a common version opens the connection and sets the client's limits; none is HANDSHAKE_FAILED")
    func hello() {
        var machine = Machine(maxConcurrentCalls: 10, idleTimeout: .seconds(300))
        #expect(machine.receivedHello(Hello(version: 0)) == .connectionError(.handshakeFailed, "no common protocol version"))
        #expect(machine.phase == .awaitingHello)
        #expect(machine.receivedHello(Hello(limits: WireLimits(maxFrameSize: 1024, maxMetadataSize: 512))) == .startIdleTimer)
        #expect(machine.phase == .open)
        #expect(machine.fitsPeerLimits(frameSize: 1024, metadataSize: 512))
        #expect(!machine.fitsPeerLimits(frameSize: 1025, metadataSize: 0), "a RESPONSE over the client's frame limit fails its call")
        #expect(!machine.fitsPeerLimits(frameSize: 100, metadataSize: 513))
    }

    @Test("call ids must increase: a repeated or lower id is a connection error")
    func increasingCallIDs() {
        var machine = self.open()
        #expect(machine.receivedRequest(callID: 5) == .process)
        #expect(machine.receivedRequest(callID: 5) == .connectionError(.protocolError, "call id 5 is not above 5"))
        #expect(machine.receivedRequest(callID: 3) == .connectionError(.protocolError, "call id 3 is not above 5"))
        #expect(machine.receivedRequest(callID: 6) == .process)
    }

    @Test("slots: busy when the first call starts, idle (idle timer) when the last is answered; an answer is written once")
    func slots() {
        var machine = self.open(maxConcurrentCalls: 2)
        #expect(machine.callStarted(1, "a", deadline: nil) == .init(becameBusy: true, armDeadlineTimer: nil))
        #expect(machine.callStarted(2, "b", deadline: nil) == .init(becameBusy: false, armDeadlineTimer: nil))
        #expect(!machine.hasFreeSlot)
        #expect(machine.callAnswered(1) == .write(becameIdle: false, close: false, startIdleTimer: false))
        #expect(machine.hasFreeSlot, "the slot is free before the RESPONSE is written")
        #expect(machine.callAnswered(1) == .none, "answered already: nothing is written twice")
        #expect(machine.callAnswered(2) == .write(becameIdle: true, close: false, startIdleTimer: true))
        #expect(Machine(maxConcurrentCalls: 0, idleTimeout: .seconds(1)).hasFreeSlot == false)
    }

    @Test("one timer serves every deadline: set for the earliest, moved for an earlier one, set again after it fires")
    func deadlines() {
        var machine = self.open()
        let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
        #expect(machine.callStarted(1, "a", deadline: t0 + .milliseconds(200)).armDeadlineTimer == t0 + .milliseconds(200))
        #expect(machine.callStarted(2, "b", deadline: t0 + .milliseconds(300)).armDeadlineTimer == nil, "a later deadline keeps the timer")
        #expect(machine.callStarted(3, "c", deadline: nil).armDeadlineTimer == nil)
        #expect(machine.callStarted(4, "d", deadline: t0 + .milliseconds(100)).armDeadlineTimer == t0 + .milliseconds(100))

        var fired = machine.deadlineTimerFired(now: t0 + .milliseconds(100))
        #expect(fired.expired == ["d"])
        #expect(fired.armAgain == t0 + .milliseconds(200))
        _ = machine.callAnswered(1)  // answered in time: its deadline no longer counts
        fired = machine.deadlineTimerFired(now: t0 + .milliseconds(200))
        #expect(fired.expired.isEmpty)
        #expect(fired.armAgain == t0 + .milliseconds(300))
        fired = machine.deadlineTimerFired(now: t0 + .milliseconds(300))
        #expect(fired.expired == ["b"])
        #expect(fired.armAgain == nil)
        fired = machine.deadlineTimerFired(now: t0 + .seconds(10))
        #expect(fired.expired.isEmpty, "a call is interrupted by its deadline once")
        #expect(machine.callStarted(5, "e", deadline: t0 + .seconds(11)).armDeadlineTimer == t0 + .seconds(11))
    }

    @Test("a connection error: GOAWAY names the highest call running, nothing more is read, close after the last answer")
    func connectionErrorWithCalls() {
        var machine = self.open()
        _ = machine.receivedRequest(callID: 3)
        _ = machine.callStarted(3, "a", deadline: nil)
        _ = machine.receivedRequest(callID: 7)
        _ = machine.callStarted(7, "b", deadline: nil)
        _ = machine.receivedRequest(callID: 9)  // answered at once (health): not running
        #expect(machine.connectionError(.frameTooLarge, "too big") == .sendGoAway(GoAway(lastCallID: 7, errorCode: .frameTooLarge, debug: "too big"), close: false))
        #expect(!machine.shouldRead(isWritable: true))
        #expect(machine.ignoresDecodingErrors)
        #expect(machine.connectionError(.protocolError, "again") == .none, "one GOAWAY")
        #expect(machine.receivedRequest(callID: 10) == .ignore, "frames decoded after a connection error are not run")
        #expect(machine.callAnswered(3).closes == false)
        #expect(machine.callAnswered(7) == .write(becameIdle: true, close: true, startIdleTimer: false))
        #expect(machine.phase == .closed)
    }

    @Test("a connection error with nothing running names call 0 and closes at once")
    func connectionErrorIdle() {
        var machine = Machine(maxConcurrentCalls: 10, idleTimeout: .seconds(300))
        #expect(machine.connectionError(.handshakeFailed, "no HELLO") == .sendGoAway(GoAway(lastCallID: 0, errorCode: .handshakeFailed, debug: "no HELLO"), close: true))
    }

    @Test("graceful drain: GOAWAY with the highest call id received; later calls ignored; close after the last answer")
    func drain() {
        var machine = self.open()
        _ = machine.receivedRequest(callID: 4)
        _ = machine.callStarted(4, "a", deadline: nil)
        #expect(machine.beginDrain() == .sendGoAway(lastCallID: 4, close: false))
        #expect(machine.beginDrain() == .none, "one GOAWAY")
        #expect(machine.receivedRequest(callID: 5) == .ignore)
        #expect(machine.shouldRead(isWritable: true), "a draining connection still reads (CANCEL, PING)")
        #expect(machine.callAnswered(4).closes == true)
        #expect(machine.receivedRequest(callID: 6) == .ignore, "closing: not processed, as GOAWAY said")
        var idle = self.open()
        #expect(idle.beginDrain() == .sendGoAway(lastCallID: 0, close: true))
        #expect(idle.receivedRequest(callID: 1) == .ignore, "a call that crossed the GOAWAY is not run (the client retries it)")
    }

    @Test("end of the peer's stream: calls received are answered, then close; before HELLO, close at once")
    func inputClosed() {
        var machine = self.open()
        _ = machine.receivedRequest(callID: 1)
        _ = machine.callStarted(1, "a", deadline: nil)
        #expect(machine.inputClosed() == .none)
        #expect(machine.callAnswered(1).closes == true)
        var fresh = Machine(maxConcurrentCalls: 10, idleTimeout: .seconds(300))
        #expect(fresh.inputClosed() == .close)
        var quiet = self.open()
        #expect(quiet.inputClosed() == .close)
    }

    @Test("the client's GOAWAY: close once its calls are answered")
    func clientGoAway() {
        var machine = self.open()
        _ = machine.receivedRequest(callID: 1)
        _ = machine.callStarted(1, "a", deadline: nil)
        #expect(machine.goAwayReceived() == false)
        #expect(machine.callAnswered(1).closes == true)
        var idle = self.open()
        #expect(idle.goAwayReceived() == true)
    }

    @Test("a client GOAWAY before its HELLO closes the connection at once, without waiting for the handshake timeout")
    func goAwayBeforeHello() {
        var machine = Machine(maxConcurrentCalls: 100, idleTimeout: .seconds(300))
        #expect(machine.goAwayReceived() == true)
        #expect(machine.phase == .closed)
        #expect(machine.receivedRequest(callID: 1) == .ignore)
    }

    @Test("idle timeout: calls that take no slot count as activity; a call in flight is never idle")
    func idleTimer() {
        var machine = Machine(maxConcurrentCalls: 10, idleTimeout: .seconds(300))
        _ = machine.receivedHello(Hello())
        let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        #expect(machine.idleTimerFired(now: t0) == .drain)
        _ = machine.immediateCallAnswered(at: t0)
        #expect(machine.idleTimerFired(now: t0 + .seconds(100)) == .armAgain(after: .seconds(200)))
        #expect(machine.idleTimerFired(now: t0 + .seconds(300)) == .drain)
        _ = machine.callStarted(1, "a", deadline: nil)
        #expect(machine.idleTimerFired(now: t0 + .seconds(900)) == .none)
    }

    @Test("backpressure: no reading while the peer leaves answers unread")
    func backpressure() {
        let machine = self.open()
        #expect(machine.shouldRead(isWritable: true))
        #expect(!machine.shouldRead(isWritable: false))
    }

    @Test("the channel closing hands back the calls in flight to interrupt; a later answer is dropped and returns its budget unit once")
    func channelClosed() {
        var machine = self.open()
        _ = machine.callStarted(1, "a", deadline: nil)
        _ = machine.callStarted(2, "b", deadline: nil)
        #expect(machine.cancelReceived(callID: 2) == "b")
        #expect(machine.cancelReceived(callID: 9) == nil)
        #expect(Set(machine.channelClosed()) == ["a", "b"])
        #expect(machine.phase == .closed)
        #expect(machine.callAnswered(1) == .releaseOnly)
        #expect(machine.callAnswered(1) == .none)
        #expect(machine.callAnswered(7) == .none, "never a call of this connection")
    }

    @Test("admission: a free slot first, then a unit of the server's budget (not taken when the slot is missing)")
    func admission() {
        var machine = self.open(maxConcurrentCalls: 1)
        var taken = 0
        let first = machine.admitCall { taken += 1; return true }
        #expect(first == .start)
        _ = machine.callStarted(1, "a", deadline: nil)
        let second = machine.admitCall { taken += 1; return true }
        #expect(second == .refuseConnectionLimit)
        #expect(taken == 1, "no unit is taken for a call the connection refuses")
        _ = machine.callAnswered(1)
        let third = machine.admitCall { false }
        #expect(third == .refuseServerLimit)
    }

    @Test("backpressure: a read asked for while the peer does not read is held, and issued once when writable again")
    func readGating() {
        var machine = self.open()
        var results: [Bool] = []
        results.append(machine.readRequested(isWritable: true))
        results.append(machine.readMayResume(isWritable: true))  // no read was held
        results.append(machine.readRequested(isWritable: false))
        results.append(machine.readMayResume(isWritable: false))
        results.append(machine.readMayResume(isWritable: true))
        results.append(machine.readMayResume(isWritable: true))  // issued once
        _ = machine.connectionError(.protocolError, "bad")
        results.append(machine.readRequested(isWritable: true))  // nothing is read after a connection error
        results.append(machine.readMayResume(isWritable: true))
        #expect(results == [true, false, false, false, true, false, false, false])
    }

    @Test("flushes: everything written during a read (or a batch of answers, even nested in a read) goes out in one flush at its end")
    func flushCoalescing() {
        var machine = self.open()
        var flushes: [Bool] = [machine.wrote()]  // outside a read: flush at once
        let outer = machine.beginWriting()
        flushes.append(machine.wrote())
        flushes.append(machine.wrote())
        let inner = machine.beginWriting()  // a batch of answers arriving during the read
        flushes.append(machine.wrote())
        flushes.append(machine.endWriting(wasDeferred: inner))  // the read's end flushes, not the batch's
        flushes.append(machine.endWriting(wasDeferred: outer))  // one flush for all
        let empty = machine.beginWriting()
        flushes.append(machine.endWriting(wasDeferred: empty))  // nothing written, nothing flushed
        #expect(!outer)
        #expect(flushes == [true, false, false, false, false, true, false])
    }

    @Test("calls that take no slot keep the connection from idling; the registry hears it at most once a second")
    func idleReports() {
        var machine = self.open()
        let t0 = NIODeadline.uptimeNanoseconds(5_000_000_000)
        var reports = [machine.immediateCallAnswered(at: t0)]
        reports.append(machine.immediateCallAnswered(at: t0 + .milliseconds(500)))
        reports.append(machine.immediateCallAnswered(at: t0 + .milliseconds(1001)))
        _ = machine.callStarted(1, "a", deadline: nil)
        reports.append(machine.immediateCallAnswered(at: t0 + .seconds(5)))  // busy: not idle
        #expect(reports == [true, false, true, false])
    }
}

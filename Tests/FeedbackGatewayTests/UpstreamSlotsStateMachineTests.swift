import FeedbackTestSupport
import Testing

@testable import FeedbackGateway

@Suite("Gateway call slots to feedbackd (state machine, no socket)")
struct UpstreamSlotsStateMachineTests {
    typealias Machine = UpstreamSlotsStateMachine<String>

    @Test("one call after another takes the connections in turn")
    func inTurn() {
        var machine = Machine(connections: 2, callsPerConnection: 2)
        for expected in [0, 1, 0, 1] {
            #expect(machine.acquire() == expected)
            #expect(machine.release(connection: expected) == nil)
        }
    }

    @Test("slots go to the least loaded connection, up to the cap of each")
    func leastLoaded() {
        var machine = Machine(connections: 2, callsPerConnection: 2)
        #expect(machine.acquire() == 0)
        #expect(machine.acquire() == 1)
        #expect(machine.acquire() == 0)
        #expect(machine.acquire() == 1)
        #expect(machine.acquire() == nil, "every connection at its cap")
        #expect(machine.callsInFlight == [2, 2])
        #expect(machine.release(connection: 1) == nil, "nobody waits: the slot is free")
        #expect(machine.acquire() == 1)
        #expect(machine.release(connection: 0) == nil)
        #expect(machine.release(connection: 0) == nil)
        #expect(machine.acquire() == 0, "[0, 2]: the least loaded, whoever's turn it is")
    }

    @Test("a request that finds no slot waits; a released slot goes to the oldest waiter, on its connection")
    func firstComeFirstServed() {
        var machine = Machine(connections: 2, callsPerConnection: 1)
        #expect(machine.acquire(orWait: "a") == .granted(connection: 0))
        #expect(machine.acquire(orWait: "b") == .granted(connection: 1))
        #expect(machine.acquire(orWait: "c") == .waiting(id: 0))
        #expect(machine.acquire(orWait: "d") == .waiting(id: 1))
        #expect(machine.waiting == 2)
        let first = machine.release(connection: 1)
        #expect(first?.waiter == "c" && first?.connection == 1)
        let second = machine.release(connection: 0)
        #expect(second?.waiter == "d" && second?.connection == 0)
        #expect(machine.callsInFlight == [1, 1], "handed over, never freed")
        #expect(machine.release(connection: 0) == nil)
        #expect(machine.callsInFlight == [0, 1])
    }

    @Test("nobody jumps the queue: while requests wait, a new one waits behind them")
    func noQueueJumping() {
        var machine = Machine(connections: 1, callsPerConnection: 1)
        #expect(machine.acquire() == 0)
        #expect(machine.acquire(orWait: "waiting") == .waiting(id: 0))
        #expect(machine.acquire() == nil)
    }

    @Test("a waiter that gives up is skipped; one already handed a slot cannot give up")
    func givingUp() {
        var machine = Machine(connections: 1, callsPerConnection: 1)
        #expect(machine.acquire() == 0)
        #expect(machine.acquire(orWait: "late") == .waiting(id: 0))
        #expect(machine.acquire(orWait: "next") == .waiting(id: 1))
        #expect(machine.giveUp(0) == "late")
        #expect(machine.giveUp(0) == nil, "only once")
        #expect(machine.release(connection: 0)?.waiter == "next")
        #expect(machine.giveUp(1) == nil, "it has its slot: its caller must release it")
        #expect(machine.release(connection: 0) == nil)
        #expect(machine.callsInFlight == [0])
        #expect(machine.waiting == 0)
    }
}

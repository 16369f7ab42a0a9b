import RPCCore
import Synchronization
import Testing

/// What a deferred call delivered, in order.
private final class Delivered: Sendable {
    let results = Mutex<[Result<[UInt8], RPCError>]>([])
    func call() -> DeferredCall { DeferredCall { result in self.results.withLock { $0.append(result) } } }
    var codes: [StatusCode] {
        self.results.withLock { $0.map { result in (try? result.get()).map { _ in .ok } ?? (result.failureCode ?? .unknown) } }
    }
}

extension Result where Failure == RPCError {
    fileprivate var failureCode: StatusCode? {
        if case .failure(let error) = self { error.code.status } else { nil }
    }
}

@Suite("Deferred calls: answered once, with what really happened")
struct DeferredCallTests {
    @Test("only the first answer is delivered")
    func firstAnswerWins() {
        let delivered = Delivered()
        let call = delivered.call()
        call.finish(.success([1]))
        call.finish(.failure(RPCError(code: .internal, message: "late")))
        call.interrupt(.cancelled)
        #expect(delivered.codes == [.ok])
    }

    @Test("an interrupt withdraws queued work: the call is answered with the interrupt's status", arguments: [CallInterrupt.cancelled, .deadlineExceeded])
    func withdrawn(interrupt: CallInterrupt) {
        let delivered = Delivered()
        let call = delivered.call()
        call.onInterrupt { call.finish(.failure(RPCError(code: .cancelled, message: "withdrawn"))) }
        call.interrupt(interrupt)
        #expect(delivered.codes == [interrupt.error.code.status])
        #expect(delivered.results.withLock { $0 }.first?.failureCode == interrupt.error.code.status)
    }

    @Test("an interrupt that comes before the withdrawal is registered still withdraws")
    func interruptFirst() {
        let delivered = Delivered()
        let call = delivered.call()
        call.interrupt(.deadlineExceeded)
        #expect(delivered.codes.isEmpty, "nothing is answered until the work reports")
        call.onInterrupt { call.finish(.failure(RPCError(code: .cancelled, message: "withdrawn"))) }
        #expect(delivered.codes == [.deadlineExceeded])
    }

    @Test("work already under way when interrupted is answered with its real outcome")
    func tooLateToWithdraw() {
        let delivered = Delivered()
        let call = delivered.call()
        call.onInterrupt {}  // the write has begun: nothing to withdraw
        call.interrupt(.deadlineExceeded)
        call.finish(.success([]))
        #expect(delivered.codes == [.ok], "a committed rating is OK, not DEADLINE_EXCEEDED")
    }
}

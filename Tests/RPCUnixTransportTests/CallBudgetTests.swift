import Testing

@testable import RPCUnixTransport

@Suite("The server's budget of calls in flight", .timeLimit(.minutes(1)))
struct CallBudgetTests {
    @Test("units up to the limit; a wait for the budget to empty ends when the last unit is returned")
    func whenEmpty() async {
        let budget = CallBudget(limit: 2)
        #expect(budget.acquire() && budget.acquire())
        #expect(!budget.acquire(), "at the limit")
        let waiter = Task { await budget.whenEmpty() }
        budget.release()
        #expect(budget.current == 1)
        budget.release()
        await waiter.value
        await budget.whenEmpty()  // empty already: at once
        #expect(budget.current == 0)
    }

    @Test("a wait for the budget to empty ends when its task is cancelled (shutdown escalated)")
    func cancelled() async {
        let budget = CallBudget(limit: 1)
        _ = budget.acquire()
        let waiter = Task { await budget.whenEmpty() }
        waiter.cancel()
        await waiter.value
        #expect(budget.current == 1)
    }
}

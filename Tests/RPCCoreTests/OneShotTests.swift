import AsyncOneShot
import Testing

@Suite("OneShot: a value set once, awaited by many")
struct OneShotTests {
    @Test("every waiter, earlier or later, gets the first value set; later sets are ignored")
    func manyWaiters() async {
        let shot = OneShot<Int>()
        async let first = shot.value()
        async let second = shot.valueUnlessCancelled()
        #expect(shot.set(1))
        #expect(!shot.set(2))
        #expect(await first == 1)
        #expect(await second == 1)
        #expect(await shot.value() == 1)
        #expect(shot.current == 1)
    }

    @Test("a waiter that is cancelled stops waiting with nil; the others still get the value")
    func cancelledWaiter() async {
        let shot = OneShot<Int>()
        let cancelled = Task { await shot.valueUnlessCancelled() }
        let patient = Task { await shot.value() }
        cancelled.cancel()
        #expect(await cancelled.value == nil)
        shot.set(7)
        #expect(await patient.value == 7)
    }

    @Test("value() is not ended by its task's cancellation: only by the value")
    func uncancellable() async {
        let shot = OneShot<String>()
        let waiter = Task { await shot.value() }
        waiter.cancel()
        shot.set("done")
        #expect(await waiter.value == "done")
    }
}

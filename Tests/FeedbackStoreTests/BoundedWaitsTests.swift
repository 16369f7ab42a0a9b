import Synchronization
import Testing

@testable import FeedbackPostgres

/// The limits of the PostgreSQL store's waits (``BoundedWaits``), swept with explicit instants: no clock
/// is waited on.
@Suite("PostgreSQL store: the limits of its waits on PostgreSQL")
struct BoundedWaitsTests {
    /// What a wait's expiry reported: how often, and the statement start it waited for.
    final class Expiries: Sendable {
        private let seen = Mutex<[ContinuousClock.Instant?]>([])
        var all: [ContinuousClock.Instant?] { self.seen.withLock { $0 } }
        func record(_ waitedFor: ContinuousClock.Instant?) { self.seen.withLock { $0.append(waitedFor) } }
    }

    @Test("a wait with no connection ends at its connect timeout, once, and its work may no longer start a statement")
    func connectTimeout() {
        let waits = BoundedWaits(shortestLimit: .seconds(1))
        let start = StatementStart()
        let expiries = Expiries()
        let added = ContinuousClock.now
        _ = waits.add(connectTimeout: .seconds(1), statementLimit: .seconds(11), start: start, expire: expiries.record)
        waits.sweep(now: added + .milliseconds(900))
        #expect(expiries.all.isEmpty)
        waits.sweep(now: added + .seconds(2))
        waits.sweep(now: added + .seconds(3))
        #expect(expiries.all.count == 1)
        #expect(expiries.all.first == .some(nil))
        #expect(!start.starts())
    }

    @Test("a statement started moves the limit to its own window; each later statement moves it again")
    func statementWindows() throws {
        let waits = BoundedWaits(shortestLimit: .seconds(1))
        let start = StatementStart()
        let expiries = Expiries()
        let added = ContinuousClock.now
        _ = waits.add(connectTimeout: .seconds(1), statementLimit: .seconds(10), start: start, expire: expiries.record)
        #expect(start.starts())
        let first = ContinuousClock.now
        waits.sweep(now: added + .seconds(2))  // past the connect timeout: the statement's window now
        waits.sweep(now: first + .seconds(9))
        #expect(expiries.all.isEmpty)
        let beforeSecond = ContinuousClock.now
        #expect(start.starts())  // a second statement
        let second = ContinuousClock.now
        waits.sweep(now: first + .seconds(10))  // the first's window ended: the second's counts
        #expect(expiries.all.isEmpty)
        waits.sweep(now: second + .seconds(10))
        #expect(expiries.all.count == 1)
        let waitedFor = try #require(expiries.all.first ?? nil)
        #expect(waitedFor >= beforeSecond && waitedFor <= second)
        #expect(!start.starts())
    }

    @Test("a wait removed before its limit never ends")
    func removed() {
        let waits = BoundedWaits(shortestLimit: .seconds(1))
        let start = StatementStart()
        let expiries = Expiries()
        let added = ContinuousClock.now
        let id = waits.add(connectTimeout: .seconds(1), statementLimit: .seconds(10), start: start, expire: expiries.record)
        waits.remove(id)
        waits.sweep(now: added + .seconds(60))
        #expect(expiries.all.isEmpty)
        #expect(start.starts())
    }

    @Test("the sweep's tick is a tenth of the shortest limit, from 10 to 100 ms")
    func tick() {
        #expect(BoundedWaits(shortestLimit: .milliseconds(300)).tick == .milliseconds(30))
        #expect(BoundedWaits(shortestLimit: .seconds(5)).tick == .milliseconds(100))
        #expect(BoundedWaits(shortestLimit: .milliseconds(20)).tick == .milliseconds(10))
    }
}

import AsyncOneShot
import FeedbackDomain
import FeedbackTestSupport
import Foundation
import RPCCore
import Synchronization
import Testing

@testable import FeedbackPostgres

/// SPEC.md §8 on PostgreSQL: a CANCEL or deadline that comes while the call's batch is being written
/// (here: its statement waiting for a row another transaction holds `FOR UPDATE`) either finds the rating
/// committed (OK) or answers CANCELLED with nothing written, never both; a batch the store gave up on
/// never commits later. Each case waits on events (pg_stat_activity says the statement waits for the
/// lock; the answer comes while the lock is still held), never on a clock.
@Suite("PostgreSQL store: withdrawals while a batch is being written", .enabled(if: PostgresTest.isAvailable), .timeLimit(.minutes(2)))
struct PostgresWithdrawalTests {
    /// A submission queued with ``FeedbackStore/enqueue(_:completion:)``: its answer and its withdrawal.
    struct Queued: Sendable {
        private final class Answer: Sendable {
            let result = OneShot<Result<Void, FeedbackError>>()
            let isSet = Atomic<Bool>(false)
        }

        private let answer = Answer()
        let withdraw: @Sendable () -> Void

        var isAnswered: Bool { self.answer.isSet.load(ordering: .acquiring) }

        /// Its answer: nil for OK.
        var error: FeedbackError? {
            get async {
                if case .failure(let error) = await self.answer.result.value() { error } else { nil }
            }
        }

        init(_ store: PostgresFeedbackStore, _ id: Int64, _ rating: Rating, _ subject: String) {
            let answer = self.answer
            self.withdraw = store.enqueue(FeedbackSubmission(interactionID: id, rating: rating, subject: subject)) { result in
                answer.isSet.store(true, ordering: .releasing)
                answer.result.set(result)
            }
        }
    }

    /// A store whose statement timeout (60 s) is far beyond the test: an answer that comes while a lock
    /// is held comes from a cancel, not from the timeout.
    private static func store(_ url: String, batchesInFlight: Int = 2) throws -> PostgresFeedbackStore {
        var configuration = try PostgresConfiguration(url: url, password: nil)
        configuration.statementTimeout = .seconds(60)
        configuration.batchesInFlight = batchesInFlight
        return PostgresFeedbackStore(configuration: configuration, logger: quietLogger())
    }

    /// Waits until `count` of feedbackd's statements wait for a lock in `database`.
    private static func waitForLockWaits(_ count: Int64, database: String) async throws {
        while true {
            let waiting = try await PostgresTest.integers(
                """
                SELECT count(*) FROM pg_stat_activity
                WHERE datname = '\(database)' AND application_name = 'feedbackd' AND wait_event_type = 'Lock'
                """,
                database: "postgres"
            )
            if waiting.first == count { return }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    private static func audit(_ database: String) async throws -> [String] {
        try await PostgresTest.strings("SELECT subject FROM feedback_events ORDER BY id", database: database)
    }

    @Test("withdrawn while its statement waits for a row lock: CANCELLED while the lock is still held, nothing written")
    func withdrawnWhileLocked() async throws {
        let url = try await PostgresTest.makeDatabase(interactions: 1...3)
        let database = PostgresTest.name(of: url)
        let store = try Self.store(url)
        try await withServices([store]) {
            try await waitUntil { store.isServing }
            try await PostgresTest.holdingTransaction("SELECT id FROM interactions WHERE id = 2 FOR UPDATE", database: database) {
                let call = Queued(store, 2, .positive, "locked")
                try await Self.waitForLockWaits(1, database: database)
                call.withdraw()
                #expect(await call.error == .cancelled)
                try await Self.waitForLockWaits(0, database: database)
            }
            #expect(try await PostgresTest.integers("SELECT feedback FROM interactions WHERE id = 2", database: database) == [nil])
            #expect(try await Self.audit(database) == [])
            try await store.submit(FeedbackSubmission(interactionID: 2, rating: .negative, subject: "after"))
            #expect(try await PostgresTest.integers("SELECT feedback FROM interactions WHERE id = 2", database: database) == [-1])
            #expect(try await Self.audit(database) == ["after"])
        }
    }

    /// Before: the store's writer waited for the statement however long shutdown had been going on (its
    /// result ignored cancellation), and a batch given up on was answered UNAVAILABLE though it could still
    /// commit.
    @Test("the store cancelled (shutdown past its limit) while a statement waits for a row lock: it stops at once, and that rating is answered UNKNOWN, not UNAVAILABLE")
    func cancelledWhileLocked() async throws {
        let url = try await PostgresTest.makeDatabase(interactions: 1...3)
        let database = PostgresTest.name(of: url)
        let store = try Self.store(url)
        try await PostgresTest.holdingTransaction("SELECT id FROM interactions WHERE id = 2 FOR UPDATE", database: database) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await store.run() }
                try await waitUntil { store.isServing }
                let call = Queued(store, 2, .positive, "locked")
                try await Self.waitForLockWaits(1, database: database)
                group.cancelAll()  // what ServiceGroup does past maximumGracefulShutdownDuration
                _ = try? await group.next()  // the store's run ends while the lock is still held
                guard case .outcomeUnknown = await call.error else {
                    Issue.record("answered \(String(describing: await call.error)), not UNKNOWN")
                    return
                }
            }
        }
    }

    @Test("a member withdrawn from a stopped statement is CANCELLED; the rest of its batch is written at once, before newer ratings of the same interactions")
    func restOfBatchWritten() async throws {
        let url = try await PostgresTest.makeDatabase(interactions: 1...3)
        let database = PostgresTest.name(of: url)
        let store = try Self.store(url, batchesInFlight: 1)
        try await withServices([store]) {
            try await waitUntil { store.isServing }
            try await PostgresTest.holdingTransaction("SELECT id FROM interactions WHERE id IN (1, 2) FOR UPDATE", database: database) {
                // One batch in flight at a time: `first` blocks the writer while `a` and `b` queue, so
                // that they are taken as one batch.
                let first = Queued(store, 1, .positive, "first")
                try await Self.waitForLockWaits(1, database: database)
                let a = Queued(store, 2, .positive, "a")
                let b = Queued(store, 3, .positive, "b")
                first.withdraw()
                #expect(await first.error == .cancelled)
                try await Self.waitForLockWaits(1, database: database)  // the batch of a and b, on row 2
                #expect(store.depth.committing == 2)
                let newer = Queued(store, 3, .negative, "newer")  // held back: its interaction is in that batch
                a.withdraw()
                #expect(await a.error == .cancelled)
                #expect(await b.error == nil)
                #expect(await newer.error == nil)
            }
            #expect(try await PostgresTest.integers("SELECT feedback FROM interactions ORDER BY id", database: database) == [nil, nil, -1])
            #expect(try await Self.audit(database) == ["b", "newer"])
        }
    }

    @Test("a withdrawal racing the commit (no lock): each rating is either OK and stored, or CANCELLED and not stored")
    func withdrawalRacingCommit() async throws {
        let url = try await PostgresTest.makeDatabase(interactions: 1...3)
        let database = PostgresTest.name(of: url)
        let store = try Self.store(url)
        try await withServices([store]) {
            try await waitUntil { store.isServing }
            var acknowledged: [String] = []
            var cancelled = 0
            for round in 0..<200 {
                let subject = "race-\(round)"
                let call = Queued(store, Int64(round % 3 + 1), round % 2 == 0 ? .positive : .negative, subject)
                if round % 2 == 0 {
                    // Once its batch is being written: the cancel races the statement's commit.
                    while store.depth.committing == 0, !call.isAnswered { await Task.yield() }
                    for _ in 0..<(round * 3 % 200) where !call.isAnswered { await Task.yield() }
                } else {
                    for _ in 0..<(round % 7) { await Task.yield() }
                }
                call.withdraw()
                switch await call.error {
                case nil: acknowledged.append(subject)
                case .cancelled: cancelled += 1
                case let error?: Issue.record("\(subject): \(error)")
                }
            }
            #expect(try await Self.audit(database) == acknowledged)
            #expect(acknowledged.count + cancelled == 200)
        }
    }

    @Test("a batch given up on while it waits for a connection never commits once the connection comes; the work left behind ends")
    func givenUpBatchNeverCommits() async throws {
        let url = try await PostgresTest.makeDatabase(interactions: 1...3)
        let database = PostgresTest.name(of: url)
        var configuration = try PostgresConfiguration(url: url, password: nil)
        configuration.statementTimeout = .seconds(60)
        configuration.options.maximumConnections = 1
        configuration.options.connectTimeout = .milliseconds(300)
        let store = PostgresFeedbackStore(configuration: configuration, logger: quietLogger())
        try await withServices([store]) {
            try await waitUntil { store.isServing }
            var holder: Queued?
            try await PostgresTest.holdingTransaction("SELECT id FROM interactions WHERE id = 2 FOR UPDATE", database: database) {
                // The only connection waits for the lock; the next batch waits for a connection, and is
                // given up on after the connect timeout.
                holder = Queued(store, 2, .positive, "holder")
                try await Self.waitForLockWaits(1, database: database)
                let late = Queued(store, 3, .positive, "late")
                guard case .storeUnavailable = await late.error else {
                    Issue.record("the batch waiting for a connection was not given up on")
                    return
                }
            }
            #expect(await holder?.error == nil)
            // The lock is gone: the holder commits, and its connection may go to the batch given up on
            // (PostgresNIO's lease usually ends at its cancellation; around a server restart it may not).
            #expect(await store.leftBehind.waitForAll(atMost: .seconds(60)) == 0)
            #expect(store.leftBehind.count == 0)
            #expect(try await PostgresTest.integers("SELECT feedback FROM interactions ORDER BY id", database: database) == [nil, 1, nil])
            #expect(try await Self.audit(database) == ["holder"])
        }
    }
}

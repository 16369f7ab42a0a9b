import FeedbackDomain
import FeedbackTestSupport
import Testing

/// The contract of `FeedbackStore`, which every store passes the same way: in memory, SQLite, and
/// PostgreSQL (when the test command's cluster is there). A new store is added to `StoreKind`.
@Suite("Store conformance: one contract, every store")
struct StoreConformanceTests {
    private func withStore(_ kind: StoreKind, _ body: (TestStore) async throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            let store = try await makeStore(kind, directory: directory)
            try await withServices(store.services) {
                try await waitUntil { store.store.isServing }  // PostgreSQL: connected, schema checked
                try await body(store)
            }
        }
    }

    private func rating(_ id: Int64, _ rating: Rating, by subject: String = "s") -> FeedbackSubmission {
        FeedbackSubmission(interactionID: id, rating: rating, subject: subject)
    }

    @Test("a rating is stored with its audit row; re-rating overwrites and is audited again", arguments: StoreKind.allCases)
    func overwrite(_ kind: StoreKind) async throws {
        try await self.withStore(kind) { store in
            try await store.store.submit(self.rating(3, .positive, by: "ann"))
            #expect(try await store.rating(3) == 1)
            try await store.store.submit(self.rating(3, .negative, by: "ben"))
            #expect(try await store.rating(3) == -1)
            #expect(try await store.auditSubjects() == ["ann", "ben"])
        }
    }

    @Test("an unknown interaction is NOT_FOUND, and nothing is audited", arguments: StoreKind.allCases)
    func notFound(_ kind: StoreKind) async throws {
        try await self.withStore(kind) { store in
            await #expect(throws: FeedbackError.interactionNotFound(99)) { try await store.store.submit(self.rating(99, .positive)) }
            let events = try await store.eventCount()
            #expect(events == 0)
        }
    }

    @Test("one unknown id in a batch fails alone: the others are stored", arguments: StoreKind.allCases)
    func batchWithOneUnknown(_ kind: StoreKind) async throws {
        try await self.withStore(kind) { store in
            let outcomes = await withTaskGroup(of: (Int64, Bool).self) { group in
                for id: Int64 in [1, 2, 99, 4, 5] {
                    group.addTask { (id, (try? await store.store.submit(self.rating(id, .negative))) != nil) }
                }
                return await group.reduce(into: [Int64: Bool]()) { $0[$1.0] = $1.1 }
            }
            #expect(outcomes == [1: true, 2: true, 99: false, 4: true, 5: true])
            for id: Int64 in [1, 2, 4, 5] {
                let rating = try await store.rating(id)
                #expect(rating == -1, "interaction \(id)")
            }
            let events = try await store.eventCount()
            #expect(events == 4)
        }
    }

    @Test("200 concurrent writers over the same rows: every rating acknowledged, every one audited", arguments: StoreKind.allCases)
    func concurrentWriters(_ kind: StoreKind) async throws {
        try await self.withStore(kind) { store in
            let acknowledged = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        (try? await store.store.submit(self.rating(Int64(index % 10) + 1, index % 2 == 0 ? .positive : .negative))) != nil
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(acknowledged == 200)
            let events = try await store.eventCount()
            #expect(events == 200)
            for id: Int64 in 1...10 {
                let rating = try await store.rating(id)
                #expect(rating == 1 || rating == -1, "interaction \(id)")
            }
        }
    }

    @Test("ratings of one interaction queued back to back are written in arrival order: the last one stands", arguments: StoreKind.allCases)
    func arrivalOrder(_ kind: StoreKind) async throws {
        try await self.withStore(kind) { store in
            // Queued without waiting, many at a time: a store writing more than one batch at once must
            // still keep each interaction's ratings in order.
            let count = 600
            let answered = AsyncStream<Bool>.makeStream()
            for index in 0..<count {
                let submission = self.rating(Int64(index % 3) + 1, index % 2 == 0 ? .positive : .negative, by: "\(index)")
                _ = store.store.enqueue(submission) { result in
                    answered.continuation.yield((try? result.get()) != nil)
                }
            }
            var acknowledged = 0
            for await ok in answered.stream.prefix(count) where ok { acknowledged += 1 }
            #expect(acknowledged == count)
            for id: Int64 in 1...3 {
                let last = (0..<count).last { Int64($0 % 3) + 1 == id }!
                let rating = try await store.rating(id)
                #expect(rating == (last % 2 == 0 ? 1 : -1), "interaction \(id): the last rating queued")
            }
            let audited = try await store.auditSubjects().compactMap(Int.init)
            for id in 0..<3 {
                let ofInteraction = audited.filter { $0 % 3 == id }
                #expect(ofInteraction == ofInteraction.sorted(), "interaction \(id + 1): audit rows in arrival order")
                #expect(ofInteraction.count == count / 3)
            }
        }
    }

    @Test("the audit trail is listed oldest first, paged by event id, with what was stored", arguments: StoreKind.allCases)
    func eventsFeed(_ kind: StoreKind) async throws {
        try await self.withStore(kind) { store in
            #expect(try await store.store.events(after: 0, limit: 10) == [])
            for (id, rating, subject) in [(Int64(3), Rating.positive, "ann"), (1, .negative, "ben"), (3, .negative, "cy")] {
                try await store.store.submit(self.rating(id, rating, by: subject))
            }
            let first = try await store.store.events(after: 0, limit: 2)
            #expect(first.map(\.interactionID) == [3, 1])
            #expect(first.map(\.rating) == [.positive, .negative])
            #expect(first.map(\.subjectText) == ["ann", "ben"])
            #expect(first[0].eventID < first[1].eventID)
            let rest = try await store.store.events(after: first[1].eventID, limit: 2)
            #expect(rest.map(\.subjectText) == ["cy"])
            #expect(try await store.store.events(after: rest[0].eventID, limit: 2) == [])
            for event in first + rest {
                #expect(event.createdAt.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/) != nil, "\(event.createdAt)")
            }
        }
    }

    @Test("storage that fails is UNAVAILABLE and NOT_SERVING; once it is back, writes succeed again", arguments: StoreKind.allCases)
    func failureIsUnavailable(_ kind: StoreKind) async throws {
        try await self.withStore(kind) { store in
            try await store.store.submit(self.rating(1, .positive))
            try await store.breakStorage()
            await #expect {
                try await store.store.submit(self.rating(2, .positive))
            } throws: { error in
                if case FeedbackError.storeUnavailable = error { true } else { false }
            }
            #expect(store.store.isServing == false)
            try await store.repairStorage()
            try await waitUntil { store.store.isServing }  // the store probes once a second while unhealthy
            try await store.store.submit(self.rating(2, .negative))
            #expect(try await store.rating(2) == -1)
            #expect(try await store.rating(1) == 1)
        }
    }
}

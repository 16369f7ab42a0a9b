import FeedbackClient
import FeedbackDomain
import FeedbackProtos
import FeedbackServer
import FeedbackTestSupport
import RPCCore
import RPCUnixTransport
import Synchronization
import Testing

@Suite("WatchFeedbackEvents: the live ratings feed", .timeLimit(.minutes(2)))
struct WatchFeedbackEventsTests {
    @Test("what is stored, then each rating as it is committed, in id order, no gap, no repeat; a new watch resumes after an id", arguments: StoreKind.allCases)
    func liveAndResume(_ kind: StoreKind) async throws {
        try await withStoreAndClient(kind, interactions: 1...10) { store, client in
            let writer = try await TestAuth.token(subject: "user-1")
            for id: Int64 in 1...3 { try await client.submitFeedback(interactionID: id, rating: 1, token: writer) }
            let reader = try await TestAuth.token(subject: "learner", scope: "feedback:read")
            var seen: [Feedback_V1_FeedbackEvent] = []
            for try await event in client.watchFeedbackEvents(afterEventID: 0, token: reader, resume: false) {
                seen.append(event)
                // Once the stored ones are read, rate more: they arrive live, woken by the commits.
                if seen.count == 3 {
                    for id: Int64 in 4...6 { try await client.submitFeedback(interactionID: id, rating: -1, token: writer) }
                }
                if seen.count == 6 { break }
            }
            #expect(seen.map(\.interactionID) == Array(1...6))
            #expect(seen.map(\.rating) == [1, 1, 1, -1, -1, -1])
            #expect(seen.map(\.eventID) == seen.map(\.eventID).sorted() && Set(seen.map(\.eventID)).count == 6)
            // Resuming after the third event gives the fourth next.
            var resumed: [Int64] = []
            for try await event in client.watchFeedbackEvents(afterEventID: seen[2].eventID, token: reader, resume: false) {
                resumed.append(event.eventID)
                if resumed.count == 3 { break }
            }
            #expect(resumed == seen[3...].map(\.eventID))
            #expect(try await store.eventCount() == 6)
        }
    }

    @Test("the read scope is needed, whatever the token may write; a negative cursor is INVALID_ARGUMENT")
    func refusals() async throws {
        try await withStoreAndClient(.memory) { _, client in
            let writer = try await TestAuth.token()
            let denied = await #expect(throws: RPCError.self) {
                for try await _ in client.watchFeedbackEvents(afterEventID: 0, token: writer, resume: false) {}
            }
            #expect(denied?.code == .permissionDenied)
            let reader = try await TestAuth.token(scope: "feedback:read")
            let negative = await #expect(throws: RPCError.self) {
                for try await _ in client.watchFeedbackEvents(afterEventID: -1, token: reader, resume: false) {}
            }
            #expect(negative?.code == .invalidArgument)
        }
    }

    @Test("a watch ends UNAUTHENTICATED when its token runs out (exp plus the leeway), naming where to resume")
    func tokenRunsOut() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...5)
        let verifier = try await TestAuth.verifier { $0.leeway = .zero }
        let client = FeedbackClient(transport: InProcessTransport(router: FeedbackdRouter.make(store: store, verifier: verifier), logger: quietLogger()))
        try await client.submitFeedback(interactionID: 1, rating: 1, token: try await TestAuth.token())
        let reader = try await TestAuth.token(ttl: .seconds(2), scope: "feedback:read")
        var seen: [Int64] = []
        let error = await #expect(throws: RPCError.self) {
            for try await event in client.watchFeedbackEvents(afterEventID: 0, token: reader, resume: false) { seen.append(event.eventID) }
        }
        // What was stored (unless a busy machine let the 2 s pass first), then nothing until the token ran out.
        #expect(seen == [1] || seen.isEmpty)
        #expect(error?.code == .unauthenticated)
        #expect(error?.metadata.first(EventsWatch.resumeKey) == "\(seen.last ?? 0)")
    }

    @Test("over the socket: a deadline ends the watch DEADLINE_EXCEEDED naming the last id it sent (resume-after-event-id)")
    func deadlineNamesResumePoint() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...5)
        try await withFeedbackServer(store: store) { path in
            let client = FeedbackClient(socketPath: path)
            let writer = try await TestAuth.token()
            for id: Int64 in 1...2 { try await client.submitFeedback(interactionID: id, rating: 1, token: writer) }
            let reader = try await TestAuth.token(scope: "feedback:read")
            let request = try Feedback_V1_WatchFeedbackEventsRequest().serializedBytes() as [UInt8]
            let transport = UnixClientTransport(socketPath: path)
            var last: Int64 = 0
            let error = await #expect(throws: RPCError.self) {
                for try await message in await transport.serverStream(
                    method: FeedbackService.watchFeedbackEventsPath, request: request,
                    metadata: [("authorization", "Bearer \(reader)")], timeout: .milliseconds(500)
                ) {
                    last = try Feedback_V1_WatchFeedbackEventsResponse(serializedBytes: message).events.last?.eventID ?? last
                }
            }
            #expect(error?.code == .deadlineExceeded)
            // Every message comes before the status: the id named is the last one the reader got (2 unless
            // the machine was too busy to send the stored events within the deadline, then 0).
            #expect(error?.metadata.first(EventsWatch.resumeKey) == "\(last)")
            await transport.close()
            await client.close()
        }
    }

    @Test("over the socket, resuming across a server's restart: every event once, in order")
    func resumesAcrossRestart() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...20)
        let writer = try await TestAuth.token()
        let reader = try await TestAuth.token(scope: "feedback:read")
        var seen: [Int64] = []
        for round in 0..<2 {
            try await withFeedbackServer(store: store) { path in
                let client = FeedbackClient(socketPath: path)
                for id in Int64(round * 10 + 1)...Int64(round * 10 + 10) { try await client.submitFeedback(interactionID: id, rating: 1, token: writer) }
                for try await event in client.watchFeedbackEvents(afterEventID: seen.last ?? 0, token: reader) {
                    seen.append(event.eventID)
                    if seen.count == (round + 1) * 10 { break }
                }
                await client.close()
            }
        }
        #expect(seen == Array(1...20))
    }
}

/// A store whose first read after event 1 commits a rating after its read and before it returns: a commit
/// that lands between a watcher's read and its wait. Its commits are numbered apart from its rows (ids up
/// to 100 "committed" that are never listable, as another writer's deleted rows would be), so that the
/// watcher reads the database rather than memory.
private final class CommitDuringReadStore: FeedbackStore {
    let inner = InMemoryFeedbackStore(interactionIDs: 1...10)
    let committedEvents = CommittedEvents(latest: 100)
    private let armed = Mutex(true)

    var eventSettleTime: Duration { .zero }
    var isServing: Bool { self.inner.isServing }

    func enqueue(_ submission: FeedbackSubmission, completion: @escaping @Sendable (Result<Void, FeedbackError>) -> Void) -> @Sendable () -> Void {
        self.inner.enqueue(submission, completion: completion)
    }

    func events<Page: FeedbackEventsPage>(after eventID: Int64, into page: Page) async throws(FeedbackError) -> Page {
        let read = try await self.inner.events(after: eventID, into: page)
        if eventID > 0, self.armed.withLock({ armed in defer { armed = false }; return armed }) {
            try await self.inner.submit(.init(interactionID: 9, rating: .negative, subject: "between"))
            self.committedEvents.advance(to: 101)
        }
        return read
    }
}

@Suite("WatchFeedbackEvents: a commit between a read and the wait", .timeLimit(.minutes(1)))
struct WatchRaceTests {
    @Test("a commit that lands after a watcher's read and before its wait is delivered at once, not at the next commit")
    func commitBetweenReadAndWait() async throws {
        let store = CommitDuringReadStore()
        let transport = InProcessTransport(router: FeedbackdRouter.make(store: store, verifier: try await TestAuth.verifier()), logger: quietLogger())
        let client = FeedbackClient(transport: transport)
        try await client.submitFeedback(interactionID: 1, rating: 1, token: try await TestAuth.token())
        var seen: [Int64] = []
        // No other commit follows: before the fix the watcher slept past the second event until one did
        // (the suite's time limit fails such a hang; the events come at once).
        let request = try Feedback_V1_WatchFeedbackEventsRequest().serializedBytes() as [UInt8]
        let reader = try await TestAuth.token(scope: "feedback:read")
        for try await message in await transport.serverStream(
            method: FeedbackService.watchFeedbackEventsPath, request: request, metadata: [("authorization", "Bearer \(reader)")], timeout: nil
        ) {
            seen += try Feedback_V1_WatchFeedbackEventsResponse(serializedBytes: message).events.map(\.interactionID)
            if seen.count == 2 { break }
        }
        #expect(seen == [1, 9])
    }
}

import FeedbackClient
import FeedbackDomain
import FeedbackProtos
import FeedbackServer
import FeedbackTestSupport
import RPCCore
import RPCUnixTransport
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

    @Test("over the socket: a deadline ends the watch DEADLINE_EXCEEDED naming the last id sent (resume-after-event-id)")
    func deadlineNamesResumePoint() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...5)
        try await withFeedbackServer(store: store) { path in
            let client = FeedbackClient(socketPath: path)
            let writer = try await TestAuth.token()
            for id: Int64 in 1...2 { try await client.submitFeedback(interactionID: id, rating: 1, token: writer) }
            let reader = try await TestAuth.token(scope: "feedback:read")
            let request = try Feedback_V1_WatchFeedbackEventsRequest().serializedBytes() as [UInt8]
            let transport = UnixClientTransport(socketPath: path)
            var received = 0
            let error = await #expect(throws: RPCError.self) {
                for try await _ in await transport.serverStream(
                    method: FeedbackService.watchFeedbackEventsPath, request: request,
                    metadata: [("authorization", "Bearer \(reader)")], timeout: .milliseconds(300)
                ) { received += 1 }
            }
            #expect(received == 1, "the two stored events in one message")
            #expect(error?.code == .deadlineExceeded)
            #expect(error?.metadata.first(EventsWatch.resumeKey) == "2")
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

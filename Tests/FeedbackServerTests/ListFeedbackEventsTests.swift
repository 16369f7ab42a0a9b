import FeedbackClient
import FeedbackDomain
import FeedbackProtos
import FeedbackTestSupport
import RPCCore
import Testing

@Suite("ListFeedbackEvents: the ratings feed over RPC")
struct ListFeedbackEventsTests {
    @Test("paging through every event, oldest first, with the read scope; the cursor of an empty page is the request's", arguments: StoreKind.allCases)
    func pages(_ kind: StoreKind) async throws {
        try await withStoreAndClient(kind, interactions: 1...10) { store, client in
            let writer = try await TestAuth.token(subject: "user-1")
            for id: Int64 in 1...7 { try await client.submitFeedback(interactionID: id, rating: id % 2 == 0 ? 1 : -1, token: writer) }
            let reader = try await TestAuth.token(subject: "export-job", scope: "feedback:read")
            var cursor: Int64 = 0
            var seen: [Feedback_V1_FeedbackEvent] = []
            while true {
                let page = try await client.listFeedbackEvents(afterEventID: cursor, pageSize: 3, token: reader)
                #expect(page.events.count <= 3)
                if page.events.isEmpty {
                    #expect(page.nextAfterEventID == cursor)
                    break
                }
                #expect(page.nextAfterEventID == page.events.last!.eventID)
                seen += page.events
                cursor = page.nextAfterEventID
            }
            #expect(seen.map(\.interactionID) == Array(1...7))
            #expect(seen.map(\.rating) == (1...7).map { $0 % 2 == 0 ? 1 : -1 })
            #expect(Set(seen.map(\.subject)) == ["user-1"])
            #expect(seen.map(\.eventID) == seen.map(\.eventID).sorted())
            // The default page size is 100.
            #expect(try await client.listFeedbackEvents(afterEventID: 0, token: reader).events.count == 7)
        }
    }

    @Test("a token without the read scope is PERMISSION_DENIED, whatever it may write; bad arguments are INVALID_ARGUMENT")
    func refusals() async throws {
        try await withStoreAndClient(.memory) { _, client in
            let writer = try await TestAuth.token(scope: "feedback:write")
            let denied = await #expect(throws: RPCError.self) { try await client.listFeedbackEvents(afterEventID: 0, token: writer) }
            #expect(denied?.code == .permissionDenied)
            #expect(denied?.message == "token lacks the scope feedback:read")
            let reader = try await TestAuth.token(scope: "feedback:read")
            for (after, size, message) in [
                (Int64(-1), Int32(10), "after_event_id must not be negative"),
                (0, 1001, "page_size must be 0 (the default, 100) to 1000"),
                (0, -1, "page_size must be 0 (the default, 100) to 1000"),
            ] {
                let error = await #expect(throws: RPCError.self) { try await client.listFeedbackEvents(afterEventID: after, pageSize: size, token: reader) }
                #expect(error?.code == .invalidArgument)
                #expect(error?.message == message)
            }
            // The read scope does not let a token write when a write scope is required (AuthTests covers
            // the write side); a reader token with no scope for writes can still be used to read.
            _ = try await client.listFeedbackEvents(afterEventID: 0, token: reader)
        }
    }

    @Test("a page stays under 15,000 bytes whatever the subjects' size, so it fits any client's frame limit; paging on misses none")
    func pageByteBudget() async throws {
        try await withStoreAndClient(.memory, interactions: 1...200) { _, client in
            let longSubject = String(repeating: "s", count: 1000)
            let writer = try await TestAuth.token(subject: longSubject)
            for id: Int64 in 1...40 { try await client.submitFeedback(interactionID: id, rating: 1, token: writer) }
            let reader = try await TestAuth.token(scope: "feedback:read")
            let first = try await client.listFeedbackEvents(afterEventID: 0, pageSize: 1000, token: reader)
            let size = try first.serializedBytes() as [UInt8]
            #expect(size.count < 15_000)
            #expect(first.events.count >= 10 && first.events.count < 40)
            var total = first.events.count
            var cursor = first.nextAfterEventID
            while true {
                let page = try await client.listFeedbackEvents(afterEventID: cursor, pageSize: 1000, token: reader)
                if page.events.isEmpty { break }
                total += page.events.count
                cursor = page.nextAfterEventID
            }
            #expect(total == 40)
        }
    }
}

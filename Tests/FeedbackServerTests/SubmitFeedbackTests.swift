import FeedbackClient
import FeedbackDomain
import FeedbackServer
import FeedbackTestSupport
import RPCCore
import RPCUnixTransport
import Testing

@Suite("SubmitFeedback: the original endpoint's semantics over RPC")
struct SubmitFeedbackTests {
    @Test("a rating is stored; re-rating overwrites; the same rating twice is OK twice", arguments: StoreKind.allCases)
    func storesAndOverwrites(_ kind: StoreKind) async throws {
        try await withStoreAndClient(kind) { store, client in
            let token = try await TestAuth.token(subject: "alice")
            try await client.submitFeedback(interactionID: 3, rating: 1, token: token)
            #expect(try await store.rating(3) == 1)
            try await client.submitFeedback(interactionID: 3, rating: -1, token: token)
            #expect(try await store.rating(3) == -1)
            try await client.submitFeedback(interactionID: 3, rating: -1, token: token)
            #expect(try await store.rating(3) == -1)
            #expect(try await store.eventCount() == 3)
        }
    }

    @Test("a rating other than 1 or -1 is INVALID_ARGUMENT, before the store is touched", arguments: StoreKind.allCases, [Int32(0), 2, -2, .max, .min])
    func invalidRating(_ kind: StoreKind, rating: Int32) async throws {
        try await withStoreAndClient(kind) { store, client in
            let token = try await TestAuth.token()
            let error = await #expect(throws: RPCError.self) {
                try await client.submitFeedback(interactionID: 999, rating: rating, token: token)
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message == "rating must be 1 (positive) or -1 (negative)")
            #expect(try await store.eventCount() == 0)
        }
    }

    @Test("an unknown interaction is NOT_FOUND with the original message", arguments: StoreKind.allCases, [Int64(0), -1, 11, .max, .min])
    func notFound(_ kind: StoreKind, id: Int64) async throws {
        try await withStoreAndClient(kind) { store, client in
            let token = try await TestAuth.token()
            let error = await #expect(throws: RPCError.self) {
                try await client.submitFeedback(interactionID: id, rating: 1, token: token)
            }
            #expect(error?.code == .notFound)
            #expect(error?.message == "Interaction \(id) not found.")
        }
    }

    @Test("a failing store is UNAVAILABLE with a generic message; health says NOT_SERVING")
    func storeUnavailable() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        try await withFeedbackServer(store: store) { path in
            let client = FeedbackClient(socketPath: path)
            #expect(try await client.checkHealth() == .serving)
            store.setAvailable(false)
            let token = try await TestAuth.token()
            let error = await #expect(throws: RPCError.self) {
                try await client.submitFeedback(interactionID: 1, rating: 1, token: token)
            }
            #expect(error?.code == .unavailable)
            #expect(error?.message == "Feedback store unavailable.")
            #expect(try await client.checkHealth() == .notServing)
            #expect(try await client.checkHealth(service: "feedback.v1.FeedbackService") == .notServing)
            let unknown = await #expect(throws: RPCError.self) { try await client.checkHealth(service: "nope\nforged") }
            #expect(unknown?.code == .notFound)
            #expect(unknown?.message == "Unknown service.", "the caller's service name is not echoed")
            await client.close()
        }
    }

    @Test("a request message that is not a SubmitFeedbackRequest is INVALID_ARGUMENT")
    func malformedMessage() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        try await withFeedbackServer(store: store) { path in
            let connection = try await ClientConnection.connect(to: path)
            let token = try await TestAuth.token()
            let response = try await connection.call(
                try request(FeedbackService.submitFeedbackPath, [0x08, 0xFF], metadata: [("authorization", "Bearer \(token)")])
            )
            #expect(response.code == StatusCode.invalidArgument.rawValue)
            #expect(response.message == "The request is not a valid feedback.v1.SubmitFeedbackRequest.")
            await connection.close()
        }
        #expect(store.events.isEmpty)
    }

    @Test("the audit trail records the token's subject", arguments: StoreKind.allCases)
    func auditSubject(_ kind: StoreKind) async throws {
        try await withStoreAndClient(kind) { store, client in
            try await client.submitFeedback(interactionID: 2, rating: 1, token: try await TestAuth.token(subject: "bob"))
            #expect(try await store.auditSubjects() == ["bob"])
            #expect(try await store.rating(2) == 1)
        }
    }

    @Test("200 concurrent ratings on one connection are all stored (group commit)")
    func concurrentGroupCommit() async throws {
        try await withStoreAndClient(.sqlite, interactions: 1...200) { store, client in
            let token = try await TestAuth.token()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in Int64(1)...200 {
                    group.addTask { try await client.submitFeedback(interactionID: id, rating: id % 2 == 0 ? 1 : -1, token: token) }
                }
                try await group.waitForAll()
            }
            for id in Int64(1)...200 { #expect(try await store.rating(id) == (id % 2 == 0 ? 1 : -1)) }
            #expect(try await store.eventCount() == 200)
        }
    }
}

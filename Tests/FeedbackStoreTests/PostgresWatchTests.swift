import FeedbackClient
import FeedbackDomain
import FeedbackPostgres
import FeedbackProtos
import FeedbackServer
import FeedbackTestSupport
import RPCCore
import Testing

/// WatchFeedbackEvents on PostgreSQL, where other feedbackd processes write too: woken by their commits
/// (LISTEN/NOTIFY), and sent only once settled (no smaller id can still commit).
@Suite("WatchFeedbackEvents on PostgreSQL", .enabled(if: PostgresTest.isAvailable), .timeLimit(.minutes(2)))
struct PostgresWatchTests {
    @Test("a watcher on one feedbackd gets what another commits, once settled, in id order, no gap, no repeat")
    func acrossServers() async throws {
        let url = try await PostgresTest.makeDatabase(interactions: 1...10)
        var configuration = try PostgresConfiguration(url: url, password: nil)
        configuration.eventSettleTime = .milliseconds(300)
        let watching = PostgresFeedbackStore(configuration: configuration, logger: quietLogger())
        let writing = PostgresFeedbackStore(configuration: configuration, logger: quietLogger())
        let verifier = try await TestAuth.verifier()
        let reader = FeedbackClient(transport: InProcessTransport(router: FeedbackdRouter.make(store: watching, verifier: verifier), logger: quietLogger()))
        let writer = FeedbackClient(transport: InProcessTransport(router: FeedbackdRouter.make(store: writing, verifier: verifier), logger: quietLogger()))
        try await withServices([watching, writing]) {
            try await waitUntil { watching.isServing && writing.isServing }
            let write = try await TestAuth.token(subject: "other-feedbackd")
            for id: Int64 in 1...3 { try await writer.submitFeedback(interactionID: id, rating: 1, token: write) }
            let read = try await TestAuth.token(scope: "feedback:read")
            var seen: [Feedback_V1_FeedbackEvent] = []
            for try await event in reader.watchFeedbackEvents(afterEventID: 0, token: read, resume: false) {
                seen.append(event)
                if seen.count == 3 {
                    for id: Int64 in 4...6 { try await writer.submitFeedback(interactionID: id, rating: -1, token: write) }
                }
                if seen.count == 6 { break }
            }
            #expect(seen.map(\.interactionID) == Array(1...6))
            #expect(seen.map(\.eventID) == seen.map(\.eventID).sorted() && Set(seen.map(\.eventID)).count == 6)
            #expect(Set(seen.map(\.subject)) == ["other-feedbackd"])
        }
    }
}

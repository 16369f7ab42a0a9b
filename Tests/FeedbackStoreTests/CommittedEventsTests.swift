import FeedbackDomain
import FeedbackPostgres
import FeedbackSQLite
import FeedbackTestSupport
import Testing

/// The newest committed audit event, and readers waiting for it to pass an id: what a live ratings feed
/// waits on instead of polling the database.
@Suite("Committed events: readers woken by commits", .timeLimit(.minutes(1)))
struct CommittedEventsTests {
    @Test("a reader waiting after an id is woken by the first advance past it, with the newest id; not by older ones")
    func wakesPastItsID() async {
        let events = CommittedEvents(latest: 5)
        #expect(await events.wait(after: 4) == 5, "already past: at once")
        let reader = Task { await events.wait(after: 7) }
        try? await waitUntil { events.waiting == 1 }
        events.advance(to: 6)
        events.advance(to: 3)  // older: nothing
        #expect(events.waiting == 1, "6 is not past 7")
        events.advance(to: 9)
        #expect(await reader.value == 9)
        #expect(events.latest == 9)
        #expect(events.waiting == 0)
    }

    @Test("a waiting reader whose task is cancelled stops waiting with nil and leaves nothing behind")
    func cancelled() async {
        let events = CommittedEvents()
        let reader = Task { await events.wait(after: 0) }
        try? await waitUntil { events.waiting == 1 }
        reader.cancel()
        #expect(await reader.value == nil)
        #expect(events.waiting == 0)
    }

    @Test("SQLite: the store opens at the newest event of its file, and each commit advances it to the batch's last event")
    func sqliteCommitsAdvance() async throws {
        try await withTemporaryDirectory { directory in
            let first = try await makeStore(.sqlite, directory: directory)
            let store = try #require(first.store as? SQLiteFeedbackStore)
            #expect(store.committedEvents.latest == 0)
            try await withServices(first.services) {
                let reader = Task { await store.committedEvents.wait(after: 0) }
                try await store.submit(FeedbackSubmission(interactionID: 3, rating: .positive, subject: "a"))
                #expect(await reader.value == 1)
                await #expect(throws: FeedbackError.interactionNotFound(99)) {  // not found: no event
                    try await store.submit(FeedbackSubmission(interactionID: 99, rating: .positive, subject: "a"))
                }
                #expect(store.committedEvents.latest == 1)
                try await store.submit(FeedbackSubmission(interactionID: 4, rating: .negative, subject: "b"))
                #expect(store.committedEvents.latest == 2)
            }
            let reopened = try SQLiteFeedbackStore(configuration: .init(path: directory + "/chat.db"), logger: quietLogger())
            #expect(reopened.committedEvents.latest == 2)
        }
    }

    @Test(
        "PostgreSQL: a commit advances the store's committed events at once and notifies feedback_events with the batch's newest id; every store hears the notifications (LISTEN, on a connection apart from the pool), and the probe catches up what was missed",
        .enabled(if: PostgresTest.isAvailable)
    )
    func postgres() async throws {
        let url = try await PostgresTest.makeDatabase(interactions: 1...10)
        let database = PostgresTest.name(of: url)
        var configuration = try PostgresConfiguration(url: url, password: nil)
        configuration.eventSettleTime = .zero
        let here = PostgresFeedbackStore(configuration: configuration, logger: quietLogger())
        let otherHost = PostgresFeedbackStore(configuration: configuration, logger: quietLogger())
        try await withServices([here, otherHost]) {
            try await waitUntil { here.isServing && otherHost.isServing }
            let payload = try await PostgresTest.firstNotification(on: "feedback_events", database: database) {
                try await here.submit(FeedbackSubmission(interactionID: 3, rating: .positive, subject: "a"))
            }
            let mine = here.committedEvents.latest
            #expect(mine > 0)
            #expect(payload == String(mine), "the notification names the batch's newest event")
            try await otherHost.submit(FeedbackSubmission(interactionID: 4, rating: .negative, subject: "b"))
            let theirs = otherHost.committedEvents.latest
            #expect(theirs > mine)
            #expect(await here.committedEvents.wait(after: mine) == theirs, "heard, or caught up by the probe")
            // Only the listener can hear an id that is not in the table: the probe reads max(id).
            try await PostgresTest.execute("NOTIFY feedback_events, '1000000'", database: database)
            #expect(await here.committedEvents.wait(after: theirs) == 1_000_000, "heard on LISTEN")
        }
    }
}

import FeedbackDomain
import FeedbackPostgres
import FeedbackSQLite
import FeedbackTestSupport
import GRDB
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

    static func event(_ id: Int64) -> StoredFeedbackEvent {
        StoredFeedbackEvent(eventID: id, interactionID: id, rating: .positive, subject: Array("s\(id)".utf8), createdAt: "2026-12-06T10:00:00.000Z")
    }

    @Test("while readers watch, a commit's events are kept: a caught-up reader gets them from memory, in order, up to a limit")
    func recentWhileWatching() {
        let events = CommittedEvents(latest: 10)
        events.advance(to: 12, events: [Self.event(11), Self.event(12)])
        #expect(events.recentEvents(after: 10, limit: 10) == nil, "kept only while someone watches")
        events.beginWatching()
        events.advance(to: 15, events: (13...15).map(Self.event))
        #expect(events.recentEvents(after: 12, limit: 10)?.events.map(\.eventID) == [13, 14, 15])
        #expect(events.recentEvents(after: 13, limit: 1)?.events.map(\.eventID) == [14])
        #expect(events.recentEvents(after: 15, limit: 10)?.events == [], "nothing newer is committed")
        #expect(events.recentEvents(after: 11, limit: 10) == nil, "12 is not held: the reader reads the store")
        events.endWatching()
        events.beginWatching()
        #expect(events.recentEvents(after: 12, limit: 10) == nil, "let go when the last reader stopped")
        events.endWatching()
    }

    @Test("a commit whose ids do not follow the newest held (another writer's rows between) starts the ring again; it never holds a hole")
    func neverAHole() {
        let events = CommittedEvents(latest: 0)
        events.beginWatching()
        events.advance(to: 2, events: [Self.event(1), Self.event(2)])
        events.advance(to: 5, events: [Self.event(4), Self.event(5)])  // 3: another writer's
        #expect(events.recentEvents(after: 2, limit: 10) == nil, "3 is not held: read the store")
        #expect(events.recentEvents(after: 3, limit: 10)?.events.map(\.eventID) == [4, 5])
        events.advance(to: 9, events: [Self.event(6), Self.event(8), Self.event(9)])  // not one run
        #expect(events.recentEvents(after: 5, limit: 10) == nil)
        events.endWatching()
    }

    @Test("the ring keeps the newest recentCapacity (16,384) events; an older cursor reads the store")
    func capacity() {
        let events = CommittedEvents(latest: 0)
        events.beginWatching()
        let total = Int64(CommittedEvents.recentCapacity + 100)
        for start in stride(from: Int64(1), through: total, by: 4) {
            events.advance(to: start + 3, events: (start...(start + 3)).map(Self.event))
        }
        #expect(events.recentEvents(after: 50, limit: 10) == nil)
        #expect(events.recentEvents(after: total - Int64(CommittedEvents.recentCapacity), limit: 3)?.events.map(\.eventID) == (1...3).map { total - Int64(CommittedEvents.recentCapacity) + $0 })
        #expect(events.recentEvents(after: total - 2, limit: 10)?.events.map(\.eventID) == [total - 1, total])
        events.endWatching()
    }

    @Test("SQLite: a watcher kept up from memory still gets another writer's rows, in order, no gap, no repeat")
    func foreignRowsBetweenCommits() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await makeStore(.sqlite, directory: directory, interactions: 1...10)
            let sqlite = try #require(store.store as? SQLiteFeedbackStore)
            try await withServices(store.services) {
                try await store.store.submit(.init(interactionID: 1, rating: .positive, subject: "a"))
                sqlite.committedEvents.beginWatching()
                defer { sqlite.committedEvents.endWatching() }
                try await store.store.submit(.init(interactionID: 2, rating: .positive, subject: "b"))
                let ours = sqlite.committedEvents.latest
                // Another writer of the file adds a row between two of feedbackd's commits.
                try await DatabaseQueue(path: store.path!).write { db in
                    try db.execute(sql: "INSERT INTO feedback_events (interaction_id, rating, subject, created_at) VALUES (3, -1, 'other', '2026-12-06T10:00:00.000Z')")
                }
                try await store.store.submit(.init(interactionID: 4, rating: .negative, subject: "d"))
                #expect(sqlite.committedEvents.recentEvents(after: ours, limit: 10) == nil, "the other writer's row is not held")
                let all = try await store.store.events(after: ours, limit: 10)
                #expect(all.map(\.interactionID) == [3, 4])
                #expect(sqlite.committedEvents.recentEvents(after: ours + 1, limit: 10)?.events.map(\.interactionID) == [4])
            }
        }
    }
}

import FeedbackClient
import FeedbackDomain
import FeedbackPostgres
import FeedbackProtos
import FeedbackServer
import FeedbackTestSupport
import Foundation
import GRDB
import RPCCore
import Testing

/// What the ratings feed makes of rows another writer of the SQLite file stored, in a `feedback_events`
/// another tool created without column types (so that SQLite keeps every value as given): each odd value
/// is read with checked conversions (never a trap: before issue 21 these rows stopped the process with a
/// GRDB fatal error), a subject comes back as the bytes stored.
@Suite("ListFeedbackEvents: rows as another writer stored them (SQLite)")
struct FeedStoredRowsTests {
    /// An odd row (its values as SQL) and the problem the feed reports for it.
    struct OddRow: Sendable, CustomStringConvertible {
        var name: String
        var interactionID = "1"
        var rating = "1"
        var subject = "'odd'"
        var createdAt = "'2026-12-01T00:00:00.000Z'"
        var problem: String
        var description: String { self.name }
    }

    static let oddRows: [OddRow] = [
        OddRow(name: "text rating", rating: "'x'", problem: "rating is text, not an integer"),
        OddRow(name: "float rating", rating: "1.5", problem: "rating is the real number 1.5, not an integer"),
        OddRow(name: "2^40 rating", rating: "1099511627776", problem: "rating is 1099511627776, not 1 or -1"),
        OddRow(name: "rating 0", rating: "0", problem: "rating is 0, not 1 or -1"),
        OddRow(name: "text interaction_id", interactionID: "'abc'", problem: "interaction_id is text, not an integer"),
        OddRow(name: "integer created_at", createdAt: "1764547200", problem: "created_at is stored as integer, not RFC 3339 text"),
        OddRow(name: "integer subject", subject: "42", problem: "subject is stored as integer, not text"),
        OddRow(name: "NULL subject", subject: "NULL", problem: "subject is stored as null, not text"),
        OddRow(name: "created_at not RFC 3339", createdAt: "'2026-12-01 00:00:00'", problem: "created_at is not an RFC 3339 time in UTC"),
        OddRow(name: "a subject longer than a page", subject: "zeroblob(20000)", problem: "subject is 20000 bytes long, more than a page can carry"),
    ]

    @Test("an event that cannot be represented ends the page before it; a page starting with it is DATA_LOSS naming its id, logged once; paging after it goes on", arguments: Self.oddRows)
    func oddRow(_ row: OddRow) async throws {
        try await withOddRows(
            "INSERT INTO feedback_events (id, interaction_id, rating, subject, created_at) VALUES (2, \(row.interactionID), \(row.rating), \(row.subject), \(row.createdAt))"
        ) { client, logs, reader in
            let first = try await client.listFeedbackEvents(afterEventID: 0, pageSize: 10, token: reader)
            #expect(first.events.map(\.eventID) == [1], "the page ends before event 2")
            #expect(first.nextAfterEventID == 1)
            let error = await #expect(throws: RPCError.self) { try await client.listFeedbackEvents(afterEventID: 1, pageSize: 10, token: reader) }
            #expect(error?.code == .dataLoss)
            #expect(error?.message == "Event 2 cannot be listed: \(row.problem). Page on after it to skip it.")
            let logged = logs.all.filter { $0.message == "feedback.event_unreadable" }
            #expect(logged.count == 1)
            #expect(logged.first?.metadata["event.id"] == "2")
            let rest = try await client.listFeedbackEvents(afterEventID: 2, pageSize: 10, token: reader)
            #expect(rest.events.map(\.eventID) == [3], "skipped by paging after its id")
        }
    }

    @Test("a subject comes back whole: a NUL kept, bytes that are not UTF-8 in subject_bytes (TEXT or BLOB) with a lossy subject")
    func subjectsWhole() async throws {
        try await withOddRows(
            """
            INSERT INTO feedback_events (id, interaction_id, rating, subject, created_at) VALUES
                (2, 1, -1, CAST(X'76696374696D0061747461636B6572' AS TEXT), '2026-12-01T00:00:00.000Z'),
                (4, 1, 1, X'FFFE61', '2026-12-01T00:00:00.000Z'),
                (5, 1, 1, CAST(X'6100FF' AS TEXT), '2026-12-01T00:00:00.000Z'),
                (6, 1, 1, X'7A6FC3AB', '2026-12-01T00:00:00.000Z')
            """
        ) { client, _, reader in
            let page = try await client.listFeedbackEvents(afterEventID: 0, pageSize: 10, token: reader)
            #expect(page.events.map(\.eventID) == [1, 2, 3, 4, 5, 6])
            let byID = Dictionary(uniqueKeysWithValues: page.events.map { ($0.eventID, $0) })
            #expect(byID[2]?.subject == "victim\0attacker", "not cut at the NUL")
            #expect(byID[2]?.subjectBytes.isEmpty == true, "valid UTF-8: subject is exact")
            #expect(byID[2]?.rating == -1)
            #expect(byID[4].map { Array($0.subjectBytes) } == [0xFF, 0xFE, 0x61])
            #expect(byID[4]?.subject == "\u{FFFD}\u{FFFD}a")
            #expect(byID[4]?.storedSubject == [0xFF, 0xFE, 0x61])
            #expect(byID[5]?.storedSubject == [0x61, 0x00, 0xFF])
            #expect(byID[6]?.subject == "zo\u{EB}", "a BLOB that is valid UTF-8 is text")
            #expect(byID[6]?.subjectBytes.isEmpty == true)
            #expect(byID[1]?.storedSubject == Array("user-1".utf8))
        }
    }

    /// PostgreSQL's own table (created by feedbackd) holds only what the feed can list; a table another
    /// tool created first, with wider types, can hold more. Before issue 21 a rating of 2^40 came out
    /// clamped to 2147483647.
    @Test(
        "PostgreSQL, a feedback_events created by another tool with wider types: a rating of 2^40, 0 or NULL subject is DATA_LOSS naming its id",
        .enabled(if: PostgresTest.isAvailable),
        arguments: [
            ("1099511627776", "'odd'", "rating is 1099511627776, not 1 or -1"),
            ("0", "'odd'", "rating is 0, not 1 or -1"),
            ("1", "NULL", "subject is NULL"),
        ]
    )
    func postgresOddRow(rating: String, subject: String, problem: String) async throws {
        let url = try await PostgresTest.makeDatabase(interactions: 1...10, migrated: false)
        let database = PostgresTest.name(of: url)
        try await PostgresTest.execute(
            """
            CREATE TABLE feedback_events (id BIGSERIAL PRIMARY KEY, interaction_id BIGINT NOT NULL, rating BIGINT NOT NULL,
                subject TEXT, created_at TIMESTAMPTZ NOT NULL DEFAULT now())
            """,
            database: database
        )
        try await PostgresTest.execute(
            "INSERT INTO feedback_events (id, interaction_id, rating, subject) VALUES (1, 1, 1, 'a'), (2, 1, \(rating), \(subject)), (3, 1, -1, 'c')",
            database: database
        )
        var configuration = try PostgresConfiguration(url: url, password: nil)
        configuration.eventSettleTime = .zero
        let logs = CapturedLogs()
        let store = PostgresFeedbackStore(configuration: configuration, logger: logs.logger())
        let router = FeedbackdRouter.make(store: store, verifier: try await TestAuth.verifier())
        let client = FeedbackClient(transport: InProcessTransport(router: router, logger: logs.logger()))
        let reader = try await TestAuth.token(subject: "export-job", scope: "feedback:read")
        try await withServices([store]) {
            try await waitUntil { store.isServing }
            let first = try await client.listFeedbackEvents(afterEventID: 0, pageSize: 10, token: reader)
            #expect(first.events.map(\.eventID) == [1], "the page ends before event 2")
            let error = await #expect(throws: RPCError.self) { try await client.listFeedbackEvents(afterEventID: 1, pageSize: 10, token: reader) }
            #expect(error?.code == .dataLoss)
            #expect(error?.message.hasPrefix("Event 2 cannot be listed: \(problem)") == true, "\(error?.message ?? "")")
            let rest = try await client.listFeedbackEvents(afterEventID: 2, pageSize: 10, token: reader)
            #expect(rest.events.map(\.eventID) == [3])
            #expect(rest.events.first?.rating == -1)
        }
    }

    /// A SQLite store holding event 1 (a rating through the service), the rows of `sql`, then event 3
    /// (inserted as feedbackd writes it); `body` gets a client, the server's logs and a read token.
    private func withOddRows(
        _ sql: String, _ body: (FeedbackClient, CapturedLogs, String) async throws -> Void
    ) async throws {
        try await withTemporaryDirectory { directory in
            try seedDatabase(at: directory + "/chat.db", interactions: 1...10)
            try await DatabaseQueue(path: directory + "/chat.db").write { db in
                try db.execute(sql: "CREATE TABLE feedback_events (id INTEGER PRIMARY KEY AUTOINCREMENT, interaction_id, rating, subject, created_at)")
            }
            let store = try await makeStore(.sqlite, directory: directory)
            let logs = CapturedLogs()
            let router = FeedbackdRouter.make(store: store.store, verifier: try await TestAuth.verifier())
            let client = FeedbackClient(transport: InProcessTransport(router: router, logger: logs.logger()))
            try await withServices(store.services) {
                try await client.submitFeedback(interactionID: 1, rating: 1, token: try await TestAuth.token(subject: "user-1"))
                let path = try #require(store.path)
                try await DatabaseQueue(path: path).write { db in
                    try db.execute(sql: sql)
                    try db.execute(
                        sql: "INSERT INTO feedback_events (id, interaction_id, rating, subject, created_at) VALUES (3, 1, 1, 'later', '2026-12-01T00:00:01.000Z')"
                    )
                }
                try await body(client, logs, try await TestAuth.token(subject: "export-job", scope: "feedback:read"))
            }
        }
    }
}

import FeedbackDomain
import Foundation
import GRDB

/// Reads the audit trail's rows with checked conversions: every column is taken as the `DatabaseValue`
/// SQLite holds (never a typed subscript, which traps on a type mismatch) and converted only when it
/// converts exactly. Text is read as the bytes stored (`CAST(... AS BLOB)`): reading it as a C string
/// would cut it at a NUL.
enum StoredEventRow {
    /// The page's rows after `?1`, at most `?3`; a subject longer than `?2` bytes is not read (its length is).
    static let sql = """
        SELECT id, interaction_id, rating,
            typeof(subject), length(CAST(subject AS BLOB)),
            CASE WHEN length(CAST(subject AS BLOB)) <= ?2 THEN CAST(subject AS BLOB) END,
            typeof(created_at), CASE WHEN length(CAST(created_at AS BLOB)) <= \(Self.maxCreatedAtBytes) THEN CAST(created_at AS BLOB) END
        FROM feedback_events WHERE id > ?1 ORDER BY id LIMIT ?3
        """

    /// The longest `created_at` read: RFC 3339 needs 30 bytes.
    static let maxCreatedAtBytes = 64

    /// A row whose id is not an integer: no page can be made past it, so the feed is unavailable.
    struct NonIntegerID: Error, CustomStringConvertible {
        var after: Int64
        var description: String { "the feedback_events row after event \(self.after) has an id that is not an integer" }
    }

    /// Fills `page` from `db`, reading rows until the page is full or a row cannot be represented.
    /// - Throws: ``NonIntegerID``; GRDB's errors.
    static func read<Page: FeedbackEventsPage>(_ db: Database, after eventID: Int64, into page: inout Page) throws {
        let rows = try Row.fetchCursor(db, sql: Self.sql, arguments: [eventID, page.maxSubjectBytes, page.limit])
        var last = eventID
        while let row = try rows.next() {
            guard case .int64(let id) = (row[0] as DatabaseValue).storage else { throw NonIntegerID(after: last) }
            last = id
            switch Self.event(id: id, row) {
            case .success(let event):
                guard page.append(event) else { return }
            case .failure(let unreadable):
                page.end(before: unreadable)
                return
            }
        }
    }

    private static func event(id: Int64, _ row: Row) -> Result<StoredFeedbackEvent, UnreadableFeedbackEvent> {
        func unreadable(_ problem: String) -> Result<StoredFeedbackEvent, UnreadableFeedbackEvent> {
            .failure(UnreadableFeedbackEvent(eventID: id, problem: problem))
        }
        guard case .int64(let interactionID) = (row[1] as DatabaseValue).storage else {
            return unreadable("interaction_id is \(Self.kind(row[1])), not an integer")
        }
        guard case .int64(let ratingValue) = (row[2] as DatabaseValue).storage else {
            return unreadable("rating is \(Self.kind(row[2])), not an integer")
        }
        guard let rating = try? Rating(validating: ratingValue) else { return unreadable("rating is \(ratingValue), not 1 or -1") }
        let subjectType = Self.typeName(row[3])
        guard subjectType == "text" || subjectType == "blob" else { return unreadable("subject is stored as \(subjectType), not text") }
        guard case .blob(let subject) = (row[5] as DatabaseValue).storage else {
            let length = if case .int64(let length) = (row[4] as DatabaseValue).storage { "\(length) bytes" } else { "too" }
            return unreadable("subject is \(length) long, more than a page can carry")
        }
        let createdAtType = Self.typeName(row[6])
        guard createdAtType == "text" else { return unreadable("created_at is stored as \(createdAtType), not RFC 3339 text") }
        guard case .blob(let createdAtBytes) = (row[7] as DatabaseValue).storage,
            let createdAt = String(validating: createdAtBytes, as: UTF8.self)
        else {
            return unreadable("created_at is not UTF-8 text of at most \(Self.maxCreatedAtBytes) bytes")
        }
        guard Self.isTimestamp(createdAtBytes) else { return unreadable("created_at is not an RFC 3339 time in UTC") }
        return .success(StoredFeedbackEvent(eventID: id, interactionID: interactionID, rating: rating, subject: [UInt8](subject), createdAt: createdAt))
    }

    /// Whether `bytes` is a time as feedbackd writes it: `YYYY-MM-DDTHH:MM:SS`, an optional fraction, `Z`.
    static func isTimestamp(_ bytes: Data) -> Bool {
        let text = [UInt8](bytes)
        let pattern = Array("0000-00-00T00:00:00".utf8)
        guard text.count >= pattern.count + 1, text.last == UInt8(ascii: "Z") else { return false }
        for (byte, expected) in zip(text, pattern) {
            let matches = expected == UInt8(ascii: "0") ? (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) : byte == expected
            guard matches else { return false }
        }
        let fraction = text[pattern.count..<(text.count - 1)]
        guard let dot = fraction.first else { return true }
        return dot == UInt8(ascii: ".") && fraction.count > 1 && fraction.dropFirst().allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// `typeof()`'s answer ("integer", "real", "text", "blob", "null").
    private static func typeName(_ value: DatabaseValue) -> String {
        guard case .string(let name) = value.storage else { return "of an unknown type" }
        return name
    }

    /// What a value is, in words, for a problem's description (the value itself only when a number).
    private static func kind(_ value: DatabaseValue) -> String {
        switch value.storage {
        case .null: "NULL"
        case .int64(let value): "the integer \(value)"
        case .double(let value): "the real number \(value)"
        case .string: "text"
        case .blob: "a blob"
        }
    }
}

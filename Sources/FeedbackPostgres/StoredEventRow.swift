import FeedbackDomain
import NIOCore
import PostgresNIO

/// Reads the audit trail's rows with checked decoding: each cell is decoded on its own, so that a value
/// of another type (a table created by another tool: `rating integer` holding 2^40, `interaction_id
/// numeric`, a NULL) makes that one event unreadable instead of failing the page or being changed.
/// The subject is read as the bytes PostgreSQL sends (never decoded and re-encoded).
enum StoredEventRow {
    /// The row whose id is not a bigint: no page can be made past it, so the feed is unavailable.
    struct UnreadableID: Error, CustomStringConvertible {
        var after: Int64
        var description: String { "the feedback_events row after event \(self.after) has an id that is not an integer" }
    }

    /// The page's rows: those after `eventID`, among the next `limit`, up to the last settled one (stored
    /// longer than `settleSeconds` ago); a subject longer than `maxSubjectBytes` is not sent (its length is).
    static func query(after eventID: Int64, limit: Int, settleSeconds: Double, maxSubjectBytes: Int) -> PostgresQuery {
        """
        WITH candidates AS (
            SELECT id, created_at FROM feedback_events WHERE id > \(eventID) ORDER BY id LIMIT \(limit)
        ), settled AS (
            SELECT max(id) AS last FROM candidates WHERE created_at < now() - make_interval(secs => \(settleSeconds))
        )
        SELECT e.id, e.interaction_id, e.rating, octet_length(e.subject),
            CASE WHEN octet_length(e.subject) <= \(maxSubjectBytes) THEN e.subject END,
            to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
        FROM feedback_events e, settled
        WHERE e.id > \(eventID) AND e.id <= settled.last ORDER BY e.id LIMIT \(limit)
        """
    }

    /// The event in `row`, or what makes it unreadable.
    /// - Throws: ``UnreadableID`` when the id itself cannot be read.
    static func event(_ row: PostgresRow, after previous: Int64) throws -> Result<StoredFeedbackEvent, UnreadableFeedbackEvent> {
        let cells = row.makeRandomAccess()
        guard let id = try? cells[0].decode(Int64.self) else { throw UnreadableID(after: previous) }
        func unreadable(_ problem: String) -> Result<StoredFeedbackEvent, UnreadableFeedbackEvent> {
            .failure(UnreadableFeedbackEvent(eventID: id, problem: problem))
        }
        guard let interactionID = try? cells[1].decode(Int64.self) else {
            return unreadable("interaction_id is \(Self.kind(cells[1])), not an integer")
        }
        guard let ratingValue = try? cells[2].decode(Int64.self) else {
            return unreadable("rating is \(Self.kind(cells[2])), not an integer")
        }
        guard let rating = try? Rating(validating: ratingValue) else { return unreadable("rating is \(ratingValue), not 1 or -1") }
        guard let subjectLength = try? cells[3].decode(Int64.self) else { return unreadable("subject is NULL") }
        guard let subject = try? cells[4].decode(ByteBuffer.self) else {
            return unreadable("subject is \(subjectLength) bytes long, more than a page can carry")
        }
        guard let createdAt = try? cells[5].decode(String.self) else { return unreadable("created_at is NULL") }
        return .success(
            StoredFeedbackEvent(
                eventID: id, interactionID: interactionID, rating: rating, subject: Array(buffer: subject), createdAt: createdAt
            )
        )
    }

    /// What a cell holds, in words: NULL, or its type.
    private static func kind(_ cell: PostgresCell) -> String {
        cell.bytes == nil ? "NULL" : "of type \(cell.dataType)"
    }
}

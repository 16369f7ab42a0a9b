import FeedbackDomain
import PostgresNIO

/// A batch of ratings as one prepared statement: one round trip, one implicit transaction (committed when
/// the statement ends, or not at all), planned once per connection. Returns the ids that exist.
///
/// Rows are locked in id order first (`locked`): two hosts writing overlapping batches wait for each
/// other, never deadlock. Only locked rows are updated, each to the batch's last rating for it (as if
/// written one after another), and one audit row is inserted per submission, in arrival order.
struct BatchStatement: PostgresPreparedStatement {
    static let name = "feedbackd_write_batch_v1"
    static let sql = """
        WITH locked AS (
            SELECT id FROM interactions WHERE id = ANY($1) ORDER BY id FOR UPDATE
        ), updated AS (
            UPDATE interactions AS i SET feedback = u.rating
            FROM unnest($2::bigint[], $3::smallint[]) AS u(id, rating)
            WHERE i.id = u.id AND u.id IN (SELECT id FROM locked)
        ), audit AS (
            INSERT INTO feedback_events (interaction_id, rating, subject)
            SELECT a.id, a.rating, a.subject
            FROM unnest($4::bigint[], $5::smallint[], $6::text[]) WITH ORDINALITY AS a(id, rating, subject, position)
            WHERE a.id IN (SELECT id FROM locked)
            ORDER BY a.position
        )
        SELECT id FROM locked
        """
    static let bindingDataTypes: [PostgresDataType] = [.int8Array, .int8Array, .int2Array, .int8Array, .int2Array, .textArray]
    typealias Row = Int64

    /// The distinct ids, ascending.
    var ids: [Int64]
    /// Each distinct id with the batch's last rating for it.
    var updatedIDs: [Int64]
    var updatedRatings: [Int16]
    /// One entry per submission, in arrival order.
    var auditIDs: [Int64]
    var auditRatings: [Int16]
    var auditSubjects: [String]

    init(_ submissions: [FeedbackSubmission]) {
        var latest: [Int64: Int16] = [:]
        for submission in submissions { latest[submission.interactionID] = Int16(submission.rating.rawValue) }
        self.ids = latest.keys.sorted()
        self.updatedIDs = self.ids
        self.updatedRatings = self.ids.map { latest[$0]! }
        self.auditIDs = submissions.map(\.interactionID)
        self.auditRatings = submissions.map { Int16($0.rating.rawValue) }
        self.auditSubjects = submissions.map(\.subject)
    }

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 6)
        bindings.append(self.ids)
        bindings.append(self.updatedIDs)
        bindings.append(self.updatedRatings)
        bindings.append(self.auditIDs)
        bindings.append(self.auditRatings)
        bindings.append(self.auditSubjects)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Int64 {
        try row.decode(Int64.self)
    }
}

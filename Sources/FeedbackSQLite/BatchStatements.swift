import FeedbackDomain
import GRDB
import GRDBSQLite

/// The statements of one batch, prepared (GRDB's statement cache) once per batch rather than per row,
/// and the batch's commit time, formatted once (``UTCTimestamp``, as SQLite's
/// `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')` writes it): every rating of a batch is committed at the same time.
///
/// The hot path of every commit: bound and stepped through the SQLite C API (GRDB's argument arrays
/// cost more than the statements themselves at tens of thousands of rows per second).
struct BatchStatements {
    let db: Database
    let update: OpaquePointer
    let insert: OpaquePointer
    let createdAt: String

    init(_ db: Database) throws {
        self.db = db
        self.update = try db.cachedStatement(sql: "UPDATE interactions SET feedback = ? WHERE id = ?").sqliteStatement
        self.insert = try db.cachedStatement(
            sql: "INSERT INTO feedback_events (interaction_id, rating, subject, created_at) VALUES (?, ?, CAST(? AS TEXT), ?)"
        ).sqliteStatement
        self.createdAt = UTCTimestamp.now()
    }

    /// One rating: the UPDATE, and its audit row when the interaction exists. Returns whether it does.
    func write(_ submission: FeedbackSubmission) throws -> Bool {
        let rating = Int64(submission.rating.rawValue)
        sqlite3_reset(self.update)
        sqlite3_bind_int64(self.update, 1, rating)
        sqlite3_bind_int64(self.update, 2, submission.interactionID)
        try self.step(self.update)
        guard self.db.changesCount > 0 else { return false }
        sqlite3_reset(self.insert)
        sqlite3_bind_int64(self.insert, 1, submission.interactionID)
        sqlite3_bind_int64(self.insert, 2, rating)
        // The subject is bound as its bytes and cast to TEXT, so every byte the token signed is stored
        // (text binding would end it at the first NUL).
        var subject = submission.subject
        subject.withUTF8 { bytes in
            if let start = bytes.baseAddress, !bytes.isEmpty {
                // SQLITE_TRANSIENT: SQLite copies the bytes before this returns.
                _ = sqlite3_bind_blob(self.insert, 3, start, Int32(bytes.count), sqliteTransient)
            } else {
                // A token without `sub`: an empty subject, never NULL (a NULL pointer would bind NULL,
                // and the NOT NULL column would fail the whole batch).
                _ = sqlite3_bind_zeroblob(self.insert, 3, 0)
            }
        }
        _ = sqlite3_bind_text(self.insert, 4, self.createdAt, -1, sqliteTransient)
        try self.step(self.insert)
        return true
    }

    /// The audit row `write` just inserted, as the feed lists it (for live readers: ``CommittedEvents``).
    func event(id: Int64, of submission: FeedbackSubmission) -> StoredFeedbackEvent {
        StoredFeedbackEvent(
            eventID: id, interactionID: submission.interactionID, rating: submission.rating, subject: Array(submission.subject.utf8),
            createdAt: self.createdAt
        )
    }

    private func step(_ statement: OpaquePointer) throws {
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE else {
            sqlite3_reset(statement)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: self.db.lastErrorMessage)
        }
    }
}

/// SQLite's `SQLITE_TRANSIENT` destructor (-1), which C macros spell and Swift cannot import.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

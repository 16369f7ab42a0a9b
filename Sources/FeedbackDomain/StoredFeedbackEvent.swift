/// One row of the audit trail as stored (`feedback_events`): what the ratings feed lists.
///
/// Every field is checked on the way out of the database: a row that does not convert exactly is an
/// ``UnreadableFeedbackEvent``, never a changed value.
public struct StoredFeedbackEvent: Hashable, Sendable {
    /// The row's id: increasing in the order the events were stored.
    public var eventID: Int64
    public var interactionID: Int64
    public var rating: Rating
    /// The `sub` of the token that submitted it, as stored: the bytes whole (a NUL, or bytes that are
    /// not valid UTF-8 when another writer put them there).
    public var subject: [UInt8]
    /// When it was stored: RFC 3339, UTC.
    public var createdAt: String

    public init(eventID: Int64, interactionID: Int64, rating: Rating, subject: [UInt8], createdAt: String) {
        self.eventID = eventID
        self.interactionID = interactionID
        self.rating = rating
        self.subject = subject
        self.createdAt = createdAt
    }

    /// The subject as text, or nil when its bytes are not valid UTF-8.
    public var subjectText: String? {
        String(validating: self.subject, as: UTF8.self)
    }
}

/// A row of the audit trail that the feed cannot carry as stored (a rating that is not 1 or -1, an
/// interaction id that is not an integer, a subject that is not text or too long for a page, ...).
public struct UnreadableFeedbackEvent: Error, Hashable, Sendable, CustomStringConvertible {
    /// The row's id: a reader skips the row by paging on after it.
    public var eventID: Int64
    /// What is wrong, in words, naming the column (e.g. `rating is text, not an integer`).
    public var problem: String

    public init(eventID: Int64, problem: String) {
        self.eventID = eventID
        self.problem = problem
    }

    public var description: String { "event \(self.eventID): \(self.problem)" }
}

/// One row of the audit trail as stored (`feedback_events`): what the ratings feed lists.
public struct StoredFeedbackEvent: Hashable, Sendable {
    /// The row's id: increasing in the order the events were stored.
    public var eventID: Int64
    public var interactionID: Int64
    /// 1 or -1 (as stored).
    public var rating: Int
    /// The `sub` of the token that submitted it.
    public var subject: String
    /// When it was stored: RFC 3339, UTC.
    public var createdAt: String

    public init(eventID: Int64, interactionID: Int64, rating: Int, subject: String, createdAt: String) {
        self.eventID = eventID
        self.interactionID = interactionID
        self.rating = rating
        self.subject = subject
        self.createdAt = createdAt
    }
}

/// Where ratings are kept. SQLite today; the protocol leaves room for PostgreSQL.
///
/// An implementation returns only after the rating is durably committed, and records it in the
/// audit trail (`feedback_events`) in the same transaction. Re-rating overwrites.
public protocol FeedbackStore: Sendable {
    /// Stores `submission`.
    /// - Throws: ``FeedbackError/interactionNotFound(_:)`` or ``FeedbackError/storeUnavailable(cause:)``.
    func submit(_ submission: FeedbackSubmission) async throws(FeedbackError)

    /// Whether the store can serve right now (for health checks). Never throws.
    func isHealthy() async -> Bool
}

/// One row of the audit trail.
public struct FeedbackEvent: Hashable, Sendable {
    public var interactionID: Int64
    public var rating: Rating
    public var subject: String

    public init(interactionID: Int64, rating: Rating, subject: String) {
        self.interactionID = interactionID
        self.rating = rating
        self.subject = subject
    }
}

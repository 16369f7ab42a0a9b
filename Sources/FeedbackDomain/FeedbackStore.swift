/// Where ratings are kept. SQLite today; the protocol leaves room for PostgreSQL.
///
/// An implementation returns only after the rating is durably committed, and records it in the
/// audit trail (`feedback_events`) in the same transaction. Re-rating overwrites.
public protocol FeedbackStore: Sendable {
    /// Stores `submission`.
    /// - Throws: ``FeedbackError/interactionNotFound(_:)`` or ``FeedbackError/storeUnavailable(cause:)``.
    func submit(_ submission: FeedbackSubmission) async throws(FeedbackError)

    /// Whether writes are expected to succeed right now (health checks). Read from state the store keeps:
    /// never a query or other I/O, as health is answered on the thread that read the call.
    var isServing: Bool { get }
}

/// One row of the audit trail: what was submitted, in order.
public typealias FeedbackEvent = FeedbackSubmission

import Synchronization

/// Where ratings are kept. SQLite today; the protocol leaves room for PostgreSQL.
///
/// An implementation returns only after the rating is durably committed, and records it in the
/// audit trail (`feedback_events`) in the same transaction. Re-rating overwrites.
public protocol FeedbackStore: Sendable {
    /// Queues `submission` without waiting; `completion` runs once, on any thread, when it is stored, or
    /// with ``FeedbackError/interactionNotFound(_:)`` or ``FeedbackError/storeUnavailable(cause:)``. The
    /// returned withdrawal takes it out of the queue while its write has not begun (it then completes
    /// with ``FeedbackError/cancelled``: nothing was stored); afterwards it does nothing and the
    /// completion reports what happened.
    func enqueue(
        _ submission: FeedbackSubmission,
        completion: @escaping @Sendable (Result<Void, FeedbackError>) -> Void
    ) -> @Sendable () -> Void

    /// Fills `page` with the audit trail after the event `eventID` (0: from the first), oldest first: only
    /// events that are committed, and never an event with a smaller id committed later (a reader paging
    /// on with the last id it saw misses none).
    ///
    /// Rows are read one at a time and reading stops at the first that `page` refuses (full) or that
    /// cannot be represented exactly (``FeedbackEventsPage/end(before:)``): a page never costs more
    /// memory than it holds, whatever its `limit`. Every column is converted with checks: no value in
    /// the database traps or is changed on the way.
    /// - Throws: ``FeedbackError/storeUnavailable(cause:)``.
    func events<Page: FeedbackEventsPage>(after eventID: Int64, into page: Page) async throws(FeedbackError) -> Page

    /// The newest audit event this process knows to be committed, advanced by every commit (and, where
    /// other processes write too, by their notifications): what wakes a live feed's readers.
    var committedEvents: CommittedEvents { get }

    /// How long after its commit an event may take to be listed by ``events(after:into:)``: zero where
    /// commits are listed at once (SQLite); PostgreSQL lists an event only once no smaller id can still
    /// commit (its settle time). A live reader that knows of events it cannot list yet waits this long.
    var eventSettleTime: Duration { get }

    /// Whether writes are expected to succeed right now (health checks). Read from state the store keeps:
    /// never a query or other I/O, as health is answered on the thread that read the call.
    var isServing: Bool { get }
}

/// One row of the audit trail: what was submitted, in order.
public typealias FeedbackEvent = FeedbackSubmission

extension FeedbackStore {
    /// At most `limit` events after `eventID` as a list, ending before an unreadable one (tools, tests).
    /// - Throws: ``FeedbackError/storeUnavailable(cause:)``.
    public func events(after eventID: Int64, limit: Int) async throws(FeedbackError) -> [StoredFeedbackEvent] {
        try await self.events(after: eventID, into: FeedbackEventList(limit: limit)).events
    }

    /// Stores `submission` and returns once it is stored (``enqueue(_:completion:)`` awaited: tools and
    /// tests). The task's cancellation withdraws it while its write has not begun.
    /// - Throws: the errors of ``enqueue(_:completion:)``; ``FeedbackError/cancelled`` when the task was
    ///   cancelled before its write began (nothing was stored).
    public func submit(_ submission: FeedbackSubmission) async throws(FeedbackError) {
        // The withdrawal, once queued; `.cancelled` when the task was cancelled first.
        let withdrawal = Mutex<Withdrawal>(.notQueued)
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, FeedbackError>, Never>) in
                guard withdrawal.withLock({ if case .cancelled = $0 { false } else { true } }) else {
                    continuation.resume(returning: .failure(.cancelled))
                    return
                }
                let withdraw = self.enqueue(submission) { continuation.resume(returning: $0) }
                let cancelledMeanwhile = withdrawal.withLock { state -> Bool in
                    if case .cancelled = state { return true }
                    state = .queued(withdraw)
                    return false
                }
                if cancelledMeanwhile { withdraw() }
            }
        } onCancel: {
            let withdraw = withdrawal.withLock { state -> (@Sendable () -> Void)? in
                defer { state = .cancelled }
                if case .queued(let withdraw) = state { return withdraw }
                return nil
            }
            withdraw?()
        }
        try result.get()
    }
}

private enum Withdrawal {
    case notQueued
    case queued(@Sendable () -> Void)
    case cancelled
}

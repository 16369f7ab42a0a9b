import Foundation
import Synchronization

/// A store in memory, for tests and for trying the service without a database.
public final class InMemoryFeedbackStore: FeedbackStore {
    private struct State {
        var ratings: [Int64: Rating?]
        var events: [FeedbackEvent] = []
        var stored: [StoredFeedbackEvent] = []
        var available = true
    }

    private let state: Mutex<State>
    public let committedEvents = CommittedEvents()
    public var eventSettleTime: Duration { .zero }

    /// - Parameter interactionIDs: the interactions that exist, all unrated.
    public init(interactionIDs: some Sequence<Int64>) {
        self.state = Mutex(State(ratings: Dictionary(uniqueKeysWithValues: interactionIDs.map { ($0, nil) })))
    }

    /// Stores at once: there is no queue to withdraw from.
    public func enqueue(
        _ submission: FeedbackSubmission,
        completion: @escaping @Sendable (Result<Void, FeedbackError>) -> Void
    ) -> @Sendable () -> Void {
        do throws(FeedbackError) {
            let eventID = try self.store(submission)
            self.committedEvents.advance(to: eventID)
            completion(.success(()))
        } catch {
            completion(.failure(error))
        }
        return {}
    }

    /// Stores `submission`; returns its event's id.
    private func store(_ submission: FeedbackSubmission) throws(FeedbackError) -> Int64 {
        try self.state.withLock { state throws(FeedbackError) in
            guard state.available else { throw .storeUnavailable(cause: "in-memory store marked unavailable") }
            guard state.ratings[submission.interactionID] != nil else {
                throw .interactionNotFound(submission.interactionID)
            }
            state.ratings[submission.interactionID] = submission.rating
            state.events.append(submission)
            state.stored.append(
                StoredFeedbackEvent(
                    eventID: Int64(state.stored.count + 1), interactionID: submission.interactionID, rating: submission.rating,
                    subject: Array(submission.subject.utf8),
                    createdAt: Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
                )
            )
            return Int64(state.stored.count)
        }
    }

    public func events<Page: FeedbackEventsPage>(after eventID: Int64, into page: Page) async throws(FeedbackError) -> Page {
        try self.state.withLock { state throws(FeedbackError) in
            guard state.available else { throw .storeUnavailable(cause: "in-memory store marked unavailable") }
            var page = page
            for event in state.stored.lazy.filter({ $0.eventID > eventID }).prefix(page.limit) {
                guard page.append(event) else { break }
            }
            return page
        }
    }

    public var isServing: Bool { self.state.withLock { $0.available } }

    /// The stored rating of an interaction (nil when unrated or unknown).
    public func rating(of interactionID: Int64) -> Rating? {
        self.state.withLock { $0.ratings[interactionID] ?? nil }
    }

    /// The audit trail, oldest first.
    public var events: [FeedbackEvent] { self.state.withLock { $0.events } }

    /// Makes every later call fail with ``FeedbackError/storeUnavailable(cause:)`` (or recover).
    public func setAvailable(_ available: Bool) {
        self.state.withLock { $0.available = available }
    }
}

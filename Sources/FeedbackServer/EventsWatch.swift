import CoreMetrics
import FeedbackDomain
import Foundation
import FeedbackProtos
import RPCCore

/// One WatchFeedbackEvents call: the ratings feed from a cursor on, live. Reads pages of the audit
/// trail (``EventsPage``: the rule that lists an event only once no smaller id can still commit) and
/// sends each as one message; when nothing more is listable it waits for the store's next commit
/// (``CommittedEvents``), never polling the database. Events committed but not yet listable (the settle
/// time of PostgreSQL) are read again after a fraction of that time, not in a loop.
///
/// Every ending but OK (interrupts, a reader too slow for its credit, the store failing, an event that
/// cannot be represented) carries the metadata entry `resume-after-event-id`: the last event id sent,
/// where a new call picks up with no gap and no repeat.
public struct EventsWatch {
    /// The metadata entry of the final status that names where to resume.
    public static let resumeKey = "resume-after-event-id"

    let store: any FeedbackStore
    let reads: PageBuildLimit
    /// From an event's commit to its message handed to the watcher's connection, per message (its oldest
    /// event), for the events taken from memory (a watcher that keeps up): `feedback_watch_delivery_seconds`.
    static let delivery = Timer(label: "feedback_watch_delivery_seconds")

    /// Runs the watch from `after` until the call ends.
    /// - Throws: ``RPCError`` carrying ``resumeKey``: what `send` throws (the interrupt, or the reader's
    ///   stall), UNAVAILABLE (the store), DATA_LOSS (the next event cannot be represented: resume after
    ///   the id its message names to skip it), CANCELLED (the task was cancelled while it waited).
    func run(
        after start: Int64, context: ServerContext, send: @Sendable (Feedback_V1_WatchFeedbackEventsResponse) async throws(RPCError) -> Void
    ) async throws(RPCError) {
        var after = start
        // The caller's token runs out then: the watch ends UNAUTHENTICATED (watch again with a new one).
        let validUntil = context.principalValidUntil.map { until in
            ContinuousClock.now + .milliseconds(Int64((min(until - Date().timeIntervalSince1970, 1e9) * 1000).rounded(.down)))
        }
        self.store.committedEvents.beginWatching()
        defer { self.store.committedEvents.endWatching() }
        do throws(RPCError) {
            while true {
                if let validUntil, ContinuousClock.now >= validUntil { throw Self.tokenExpired }
                // What was known committed before the read: a commit after it wakes the wait below at once
                // (read after, it could be a commit the read missed, and the wait would sleep past it).
                let known = self.store.committedEvents.latest
                let (page, committedAt) = try await self.page(after: after)
                if let last = page.events.last {
                    var message = Feedback_V1_WatchFeedbackEventsResponse()
                    message.events = page.events
                    try await send(message)
                    if let committedAt { Self.delivery.record(duration: .now - committedAt) }
                    after = last.eventID
                    continue
                }
                if let unreadable = page.unreadable {
                    context.logger.warning(
                        "feedback.event_unreadable", metadata: ["event.id": "\(unreadable.eventID)", "error": "\(unreadable.problem)"]
                    )
                    throw RPCError(
                        code: .dataLoss,
                        message: "Event \(unreadable.eventID) cannot be listed: \(unreadable.problem). Watch on after it to skip it."
                    )
                }
                try await self.waitForMore(after: after, known: known, until: validUntil)
            }
        } catch {
            var ended = error
            ended.metadata.add(Self.resumeKey, "\(after)")
            throw ended
        }
    }

    /// The next page after `after`: from the events the store just committed when it holds them
    /// (``CommittedEvents/recentEvents(after:limit:)``: a watcher that keeps up reads nothing back),
    /// otherwise read from the store in its turn among the watchers' reads.
    private func page(after: Int64) async throws(RPCError) -> (EventsPage, committedAt: ContinuousClock.Instant?) {
        var page = EventsPage(limit: Int(EventsPage.maxSize))
        if let recent = self.store.committedEvents.recentEvents(after: after, limit: page.limit) {
            for event in recent.events {
                guard page.append(event) else { break }
            }
            // Nothing held after `after` while newer ids are committed: read them (another writer's).
            if !page.events.isEmpty || self.store.committedEvents.latest <= after { return (page, recent.committedAt) }
        }
        do {
            let read = try await self.reads.withTurn { () async throws -> EventsPage in
                do throws(FeedbackError) {
                    return try await self.store.events(after: after, into: EventsPage(limit: Int(EventsPage.maxSize)))
                } catch {
                    throw error.rpcError
                }
            }
            return (read, nil)
        } catch {
            throw RPCError(converting: error)
        }
    }

    /// The end of a watch whose token ran out.
    static let tokenExpired = RPCError(code: .unauthenticated, message: "The token expired during the watch: watch again with a new one.")

    /// Nothing after `after` was listable when `known` was the newest committed id: waits for a commit past
    /// `known` (or `until`, when the caller's token runs out), or, when events are committed that cannot be
    /// listed yet (still settling), for part of the settle time.
    private func waitForMore(after: Int64, known committed: Int64, until: ContinuousClock.Instant?) async throws(RPCError) {
        let settle = self.store.eventSettleTime
        if committed > after, settle > .zero {
            do {
                try await Task.sleep(for: min(max(settle / 4, .milliseconds(100)), .seconds(1)))
            } catch {
                throw CallInterrupt.cancelled.error
            }
            return
        }
        // Committed ids up to `committed` that cannot be listed at once will never be (gaps, deleted
        // rows): wait past them, but read on from `after`.
        guard await self.store.committedEvents.wait(after: max(after, committed), until: until) != nil else {
            throw CallInterrupt.cancelled.error
        }
    }
}

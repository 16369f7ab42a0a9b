import Synchronization

/// The id of the newest audit event this process knows to be committed, and the readers waiting for it
/// to pass an id: how a live feed of the ratings (WatchFeedbackEvents) is woken by the store's commits
/// rather than by polling the database.
///
/// The store's writer advances it after each commit that inserted events; a reader that has delivered
/// everything up to id `n` waits with ``wait(after:)`` and then reads the events after `n`. Waiting costs
/// no task and no timer: a continuation per waiting reader, resumed by the commit that passes its id.
///
/// While readers watch (``beginWatching()``), a store that can hands over the events it committed
/// (``advance(to:events:)``) and they are kept in memory, the newest ``recentCapacity``: a reader that is
/// caught up takes them from here (``recentEvents(after:limit:)``) instead of reading them back.
public final class CommittedEvents: Sendable {
    private struct Waiter {
        var after: Int64
        var continuation: CheckedContinuation<Int64?, Never>
    }

    private struct State {
        var latest: Int64
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
        var recent: RecentEvents
    }

    /// How many of the newest committed events are kept while readers watch.
    public static let recentCapacity = 16_384

    private let state: Mutex<State>
    /// Readers watching now (read by the writer without the lock, once per commit).
    private let watchers = Atomic<Int>(0)

    /// - Parameter latest: the newest event id committed when the store opened (0: none, or unknown).
    public init(latest: Int64 = 0) {
        self.state = Mutex(State(latest: latest, recent: RecentEvents(capacity: Self.recentCapacity)))
    }

    /// Whether a live reader watches: only then does a store hand its committed events over.
    public var wantsEvents: Bool { self.watchers.load(ordering: .relaxed) > 0 }

    /// A live reader starts watching (end with ``endWatching()``).
    public func beginWatching() {
        self.watchers.wrappingAdd(1, ordering: .relaxed)
    }

    /// A live reader stops watching; with none left, the events kept are let go.
    public func endWatching() {
        guard self.watchers.wrappingSubtract(1, ordering: .relaxed).newValue == 0 else { return }
        self.state.withLock { state in
            if self.watchers.load(ordering: .relaxed) == 0 { state.recent.removeAll() }
        }
    }

    /// Events taken from memory (``recentEvents(after:limit:)``).
    public struct Recent: Sendable {
        /// Ascending, contiguous ids.
        public var events: [StoredFeedbackEvent]
        /// When the first of them was committed (nil when there are none): how long the oldest waited.
        public var committedAt: ContinuousClock.Instant?
    }

    /// Up to `limit` committed events after `eventID` from memory: nil when they are not held (read them
    /// from the store); none when nothing after `eventID` is committed.
    public func recentEvents(after eventID: Int64, limit: Int) -> Recent? {
        self.state.withLock { state in
            if eventID >= state.latest { return Recent(events: [], committedAt: nil) }
            return state.recent.events(after: eventID, limit: limit)
        }
    }

    /// The newest event id known to be committed.
    public var latest: Int64 { self.state.withLock { $0.latest } }

    /// Readers waiting now.
    public var waiting: Int { self.state.withLock { $0.waiters.count } }

    /// Records that the events up to `eventID` are committed (an older id changes nothing) and wakes the
    /// readers waiting for an id below it. `events`, when the store hands them over, are the events of
    /// this commit, ascending (kept while readers watch).
    public func advance(to eventID: Int64, events: [StoredFeedbackEvent] = []) {
        let woken: [CheckedContinuation<Int64?, Never>] = self.state.withLock { state in
            if !events.isEmpty, self.watchers.load(ordering: .relaxed) > 0 { state.recent.append(events, committedAt: .now) }
            guard eventID > state.latest else { return [] }
            state.latest = eventID
            var woken: [CheckedContinuation<Int64?, Never>] = []
            state.waiters = state.waiters.filter { _, waiter in
                guard waiter.after < eventID else { return true }
                woken.append(waiter.continuation)
                return false
            }
            return woken
        }
        for continuation in woken { continuation.resume(returning: eventID) }
    }

    /// ``wait(after:)``, or the newest committed id as it is at `deadline` when no commit passed `eventID`
    /// by then (nil deadline: none).
    public func wait(after eventID: Int64, until deadline: ContinuousClock.Instant?) async -> Int64? {
        guard let deadline else { return await self.wait(after: eventID) }
        return await withTaskGroup(of: Int64?.self) { group in
            group.addTask { await self.wait(after: eventID) }
            group.addTask {
                guard (try? await Task.sleep(until: deadline)) != nil else { return nil }
                return self.latest
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// The newest committed id, once it is above `eventID` (at once when it is already); nil as soon as
    /// the waiting task is cancelled.
    public func wait(after eventID: Int64) async -> Int64? {
        let id: UInt64? = self.state.withLock { state in
            guard state.latest <= eventID else { return nil }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return self.latest }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Int64?, Never>) in
                let now: Int64?? = self.state.withLock { state in
                    if state.latest > eventID { return .some(state.latest) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = Waiter(after: eventID, continuation: continuation)
                    return .none
                }
                if case .some(let value) = now { continuation.resume(returning: value) }
            }
        } onCancel: {
            let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(returning: nil)
        }
    }
}

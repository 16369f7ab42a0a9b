/// The newest committed events of this process, in memory, by id: a ring of contiguous ids, so that a
/// live reader that is caught up gets the events its store just committed without reading them back
/// from the database. Kept only while someone watches (``CommittedEvents/beginWatching()``).
///
/// Only a run of contiguous ids is held: events whose ids do not follow the newest held (another writer
/// inserted rows in between) start the ring again, so that "the ids after `n`, as far as held" never
/// skips one. A reader whose cursor lies before the ring reads the database instead.
struct RecentEvents {
    let capacity: Int
    private var storage: [StoredFeedbackEvent] = []
    /// When each event's commit was recorded (``storage``'s indices).
    private var committedAt: [ContinuousClock.Instant] = []
    /// Where the oldest event is in `storage` once it is full (it is then overwritten first).
    private var head = 0
    private(set) var firstID: Int64 = 0

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    var isEmpty: Bool { self.storage.isEmpty }
    var lastID: Int64 { self.firstID + Int64(self.storage.count) - 1 }

    mutating func removeAll() {
        self.storage = []
        self.committedAt = []
        self.head = 0
    }

    /// Adds a commit's events (ascending ids), committed at `instant`.
    mutating func append(_ events: [StoredFeedbackEvent], committedAt instant: ContinuousClock.Instant) {
        guard let first = events.first else { return }
        let contiguous = events.indices.allSatisfy { events[$0].eventID == first.eventID + Int64($0) }
        guard contiguous else {
            self.removeAll()  // not one run: nothing is held rather than a run with a hole
            return
        }
        if !self.storage.isEmpty, first.eventID != self.lastID + 1 { self.removeAll() }
        if self.storage.isEmpty { self.firstID = first.eventID }
        for event in events {
            if self.storage.count < self.capacity {
                self.storage.append(event)
                self.committedAt.append(instant)
            } else {
                self.storage[self.head] = event
                self.committedAt[self.head] = instant
                self.head = (self.head + 1) % self.capacity
                self.firstID += 1
            }
        }
    }

    /// Up to `limit` events after `eventID`, when the ring holds the one right after it, with when the first
    /// of them was committed; nil when it does not (the reader's cursor lies before the ring, or the ring is
    /// empty).
    func events(after eventID: Int64, limit: Int) -> CommittedEvents.Recent? {
        guard !self.storage.isEmpty, self.firstID <= eventID + 1, eventID <= self.lastID else { return nil }
        let start = Int(eventID + 1 - self.firstID)
        let count = min(limit, self.storage.count - start)
        guard count > 0 else { return CommittedEvents.Recent(events: [], committedAt: nil) }
        let index = { (offset: Int) in (self.head + offset) % self.storage.count }
        return CommittedEvents.Recent(events: (start..<(start + count)).map { self.storage[index($0)] }, committedAt: self.committedAt[index(start)])
    }
}

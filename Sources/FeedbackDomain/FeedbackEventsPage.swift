/// What a store fills as it reads the audit trail, one row at a time: the page decides when it is
/// full, so that a store reads no row past the one that did not fit.
public protocol FeedbackEventsPage: Sendable {
    /// The most events the page may hold: a store asks the database for no more rows.
    var limit: Int { get }
    /// The longest subject, in bytes, an event of this page could carry: a store reports a longer one
    /// as an ``UnreadableFeedbackEvent`` without reading it.
    var maxSubjectBytes: Int { get }
    /// Adds `event` when it fits; false when the page is full (`event` is left out, and the store reads
    /// no further).
    mutating func append(_ event: StoredFeedbackEvent) -> Bool
    /// The row read next cannot be represented: the page ends before it. Called at most once, last.
    mutating func end(before unreadable: UnreadableFeedbackEvent)
}

/// A page bounded by its number of events only: for tools and tests that want the events as a list.
public struct FeedbackEventList: FeedbackEventsPage {
    public var limit: Int
    public var maxSubjectBytes: Int { Int.max }
    public private(set) var events: [StoredFeedbackEvent] = []
    /// The row the page ended before, when it ended before an unreadable one.
    public private(set) var unreadable: UnreadableFeedbackEvent?

    public init(limit: Int) {
        self.limit = limit
    }

    public mutating func append(_ event: StoredFeedbackEvent) -> Bool {
        guard self.events.count < self.limit else { return false }
        self.events.append(event)
        return true
    }

    public mutating func end(before unreadable: UnreadableFeedbackEvent) {
        self.unreadable = unreadable
    }
}

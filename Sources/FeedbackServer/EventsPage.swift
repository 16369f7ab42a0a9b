import FeedbackDomain
import FeedbackProtos
import Foundation

/// A page of the ratings feed as it is read: its size limits and its encoding. A store appends events
/// one at a time and stops reading at the first that does not fit.
struct EventsPage: FeedbackEventsPage {
    static let defaultSize = 100
    static let maxSize: Int32 = 1000
    /// A page's body stays under this, so that its RESPONSE fits the smallest MAX_FRAME_SIZE a client
    /// may announce (16,384 bytes, SPEC.md section 4) with room for the status and metadata.
    static let maxBodyBytes = 15_000
    /// Room kept for `next_after_event_id` (a tag and a 10-byte varint at most).
    private static let cursorBytes = 11

    let limit: Int
    /// No event with a longer subject fits a page.
    var maxSubjectBytes: Int { Self.maxBodyBytes }
    private(set) var events: [Feedback_V1_FeedbackEvent] = []
    /// The event the page ended before, when it cannot be represented (or is too large for any page).
    private(set) var unreadable: UnreadableFeedbackEvent?
    private var size = 0

    init(limit: Int) {
        self.limit = limit
    }

    mutating func append(_ event: StoredFeedbackEvent) -> Bool {
        guard self.events.count < self.limit else { return false }
        let message = Self.message(event)
        // The field's own size: its tag, its length prefix, the event.
        let eventSize = Self.encodedSize(message)
        let fieldSize = 1 + Self.varintSize(eventSize) + eventSize
        guard self.size + fieldSize <= Self.maxBodyBytes - Self.cursorBytes else {
            if self.events.isEmpty {
                self.unreadable = UnreadableFeedbackEvent(
                    eventID: event.eventID, problem: "the event takes \(fieldSize) bytes, more than a page can carry"
                )
            }
            return false
        }
        self.size += fieldSize
        self.events.append(message)
        return true
    }

    mutating func end(before unreadable: UnreadableFeedbackEvent) {
        self.unreadable = unreadable
    }

    /// The page's response: its events, with the cursor of the next page.
    func response(after cursor: Int64) -> Feedback_V1_ListFeedbackEventsResponse {
        var response = Feedback_V1_ListFeedbackEventsResponse()
        response.events = self.events
        response.nextAfterEventID = self.events.last?.eventID ?? cursor
        return response
    }

    /// `event` on the wire: a subject that is not valid UTF-8 goes whole in `subject_bytes`, with its
    /// lossy decoding (U+FFFD for each invalid sequence) in `subject`.
    static func message(_ event: StoredFeedbackEvent) -> Feedback_V1_FeedbackEvent {
        var message = Feedback_V1_FeedbackEvent()
        message.eventID = event.eventID
        message.interactionID = event.interactionID
        message.rating = event.rating.rawValue
        if let subject = event.subjectText {
            message.subject = subject
        } else {
            message.subject = String(decoding: event.subject, as: UTF8.self)
            message.subjectBytes = Data(event.subject)
        }
        message.createdAt = event.createdAt
        return message
    }

    /// The size of `event` in proto3 binary (fields at their default are left out), computed rather than
    /// encoded: a page measures every event it takes.
    static func encodedSize(_ event: Feedback_V1_FeedbackEvent) -> Int {
        func integer(_ value: Int64) -> Int { value == 0 ? 0 : 1 + Self.varintSize(UInt64(bitPattern: value)) }
        func bytes(_ count: Int) -> Int { count == 0 ? 0 : 1 + Self.varintSize(UInt64(count)) + count }
        return integer(event.eventID) + integer(event.interactionID) + integer(Int64(event.rating))
            + bytes(event.subject.utf8.count) + bytes(event.createdAt.utf8.count) + bytes(event.subjectBytes.count)
    }

    private static func varintSize(_ value: Int) -> Int {
        Self.varintSize(UInt64(value))
    }

    private static func varintSize(_ value: UInt64) -> Int {
        var value = value
        var size = 1
        while value >= 0x80 {
            value >>= 7
            size += 1
        }
        return size
    }
}

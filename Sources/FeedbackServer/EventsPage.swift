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
        let eventSize = (try? message.serializedBytes() as [UInt8])?.count ?? Self.maxBodyBytes
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

    private static func varintSize(_ value: Int) -> Int {
        var value = UInt64(value)
        var size = 1
        while value >= 0x80 {
            value >>= 7
            size += 1
        }
        return size
    }
}

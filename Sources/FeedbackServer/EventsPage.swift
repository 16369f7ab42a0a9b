import FeedbackDomain
import FeedbackProtos

/// A page of the ratings feed: its size limits and its encoding.
enum EventsPage {
    static let defaultSize = 100
    static let maxSize: Int32 = 1000
    /// A page's body stays under this, so that its RESPONSE fits the smallest MAX_FRAME_SIZE a client
    /// may announce (16,384 bytes, SPEC.md section 4) with room for the status and metadata.
    static let maxBodyBytes = 15_000

    /// As many of `events` as fit ``maxBodyBytes`` (always the first: a subject is bounded by the token
    /// size limit), with the cursor of the next page.
    static func response(_ events: [StoredFeedbackEvent], after cursor: Int64) -> Feedback_V1_ListFeedbackEventsResponse {
        var response = Feedback_V1_ListFeedbackEventsResponse()
        var size = 0
        for event in events {
            var message = Feedback_V1_FeedbackEvent()
            message.eventID = event.eventID
            message.interactionID = event.interactionID
            message.rating = Int32(clamping: event.rating)
            message.subject = event.subject
            message.createdAt = event.createdAt
            // The field's own size: its tag, its length prefix, the event.
            let eventSize = (try? message.serializedBytes() as [UInt8])?.count ?? 0
            let fieldSize = 1 + Self.varintSize(eventSize) + eventSize
            if !response.events.isEmpty, size + fieldSize > Self.maxBodyBytes - 11 { break }  // 11: next_after_event_id
            size += fieldSize
            response.events.append(message)
        }
        response.nextAfterEventID = response.events.last?.eventID ?? cursor
        return response
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

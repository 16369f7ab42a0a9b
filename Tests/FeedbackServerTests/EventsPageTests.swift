import Foundation
import FeedbackProtos
import Testing

@testable import FeedbackServer

@Suite("A ratings-feed page measures its events without encoding them")
struct EventsPageTests {
    @Test("the computed size of an event is its encoded size, for every field at its default or not")
    func encodedSize() throws {
        var events: [Feedback_V1_FeedbackEvent] = [Feedback_V1_FeedbackEvent()]
        for (id, interaction, rating, subject, bytes) in [
            (Int64(1), Int64(42), Int32(1), "user", Data()),
            (Int64.max, Int64.min, Int32(-1), String(repeating: "é", count: 100), Data()),
            (Int64(4_294_967_296), Int64(0), Int32(0), "", Data([0xFF, 0xFE, 0x61])),
            (Int64(-5), Int64(300), Int32.min, String(repeating: "x", count: 20_000), Data(repeating: 7, count: 200)),
        ] {
            var event = Feedback_V1_FeedbackEvent()
            event.eventID = id
            event.interactionID = interaction
            event.rating = rating
            event.subject = subject
            event.subjectBytes = bytes
            event.createdAt = "2026-12-06T10:15:00.001Z"
            events.append(event)
        }
        for event in events {
            #expect(EventsPage.encodedSize(event) == (try event.serializedBytes() as [UInt8]).count)
        }
    }
}

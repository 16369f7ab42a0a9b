import FeedbackProtos
import RPCCore
import SwiftProtobuf

/// The live ratings feed as events (WatchFeedbackEvents, ``FeedbackClient/watchFeedbackEvents(afterEventID:token:resume:)``):
/// the stored events after a cursor, then each new one as it is committed, oldest first, one at a time.
///
/// With `resume` (the default) the sequence outlives the server: when the stream ends UNAVAILABLE or
/// UNKNOWN (feedbackd restarting, its connection lost) it calls again after the last event it returned,
/// with a backoff (0.1 s doubling to 2 s), so nothing is missed or repeated. Any other status ends the
/// sequence by throwing it (``RPCError``, whose metadata names `resume-after-event-id`). ``lastEventID``
/// is the cursor to give a later watch.
public struct FeedbackEventWatch: AsyncSequence, Sendable {
    public typealias Element = Feedback_V1_FeedbackEvent

    let transport: any ClientTransport
    let afterEventID: Int64
    let metadata: Metadata
    let resume: Bool

    public func makeAsyncIterator() -> Iterator {
        Iterator(watch: self, lastEventID: self.afterEventID)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let watch: FeedbackEventWatch
        /// The last event returned (the cursor a new watch resumes from).
        public private(set) var lastEventID: Int64
        private var stream: ClientStream.Iterator?
        private var pending: ArraySlice<Feedback_V1_FeedbackEvent> = []
        private var backoff: Duration = .milliseconds(100)

        init(watch: FeedbackEventWatch, lastEventID: Int64) {
            self.watch = watch
            self.lastEventID = lastEventID
        }

        public mutating func next() async throws -> Feedback_V1_FeedbackEvent? {
            while true {
                if let event = self.pending.popFirst() {
                    self.lastEventID = event.eventID
                    return event
                }
                if self.stream == nil {
                    var request = Feedback_V1_WatchFeedbackEventsRequest()
                    request.afterEventID = self.lastEventID
                    let bytes: [UInt8] = try request.serializedBytes()
                    self.stream = await self.watch.transport.serverStream(
                        method: MethodPaths.Feedback.watchFeedbackEvents, request: bytes, metadata: self.watch.metadata, timeout: nil
                    ).makeAsyncIterator()
                }
                do {
                    guard let message = try await self.stream?.next() else { return nil }  // ended OK
                    let decoded: Feedback_V1_WatchFeedbackEventsResponse
                    do {
                        decoded = try Feedback_V1_WatchFeedbackEventsResponse(serializedBytes: message)
                    } catch {
                        throw RPCError(code: .internal, message: "Malformed stream message: \(error)", cause: error)
                    }
                    self.pending = decoded.events[...]
                    self.backoff = .milliseconds(100)
                } catch let error as RPCError where self.watch.resume && (error.code == .unavailable || error.code == .unknown) {
                    self.stream = nil
                    try await Task.sleep(for: self.backoff)
                    self.backoff = Swift.min(self.backoff * 2, .seconds(2))
                }
            }
        }
    }
}

extension FeedbackClient {
    /// The live ratings feed: the events after `afterEventID` (0: from the first), then each new one as
    /// it is committed (WatchFeedbackEvents, protocol version 2). `token` needs the read scope. With
    /// `resume`, a restart of feedbackd or a lost connection is bridged (``FeedbackEventWatch``).
    public func watchFeedbackEvents(afterEventID: Int64, token: String, resume: Bool = true) -> FeedbackEventWatch {
        FeedbackEventWatch(transport: self.transport, afterEventID: afterEventID, metadata: [("authorization", "Bearer \(token)")], resume: resume)
    }
}

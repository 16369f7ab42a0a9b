import FeedbackProtos
import RPCCore
import SwiftProtobuf

/// The live ratings feed as events (WatchFeedbackEvents, ``FeedbackClient/watchFeedbackEvents(afterEventID:token:resume:)``):
/// the stored events after a cursor, then each new one as it is committed, oldest first, one at a time;
/// ``batches`` gives them as the server sent them, several at once (cheaper for a reader that writes them
/// out in bulk).
///
/// With `resume` (the default) the sequence outlives the server: when the stream ends UNAVAILABLE or
/// UNKNOWN (feedbackd restarting, its connection lost) it calls again after the last event it returned,
/// with a backoff (0.1 s doubling to 2 s), so nothing is missed or repeated. Any other status ends the
/// sequence by throwing it (``RPCError``, whose metadata names `resume-after-event-id`). The last event's
/// `eventID` is the cursor to give a later watch.
public struct FeedbackEventWatch: AsyncSequence, Sendable {
    public typealias Element = Feedback_V1_FeedbackEvent

    let transport: any ClientTransport
    let afterEventID: Int64
    let metadata: Metadata
    let resume: Bool

    public func makeAsyncIterator() -> Iterator {
        Iterator(batches: self.batches.makeAsyncIterator())
    }

    public struct Iterator: AsyncIteratorProtocol {
        private var batches: Batches.Iterator
        private var pending: ArraySlice<Feedback_V1_FeedbackEvent> = []

        init(batches: Batches.Iterator) {
            self.batches = batches
        }

        public mutating func next() async throws -> Feedback_V1_FeedbackEvent? {
            while self.pending.isEmpty {
                guard let batch = try await self.batches.next() else { return nil }
                self.pending = batch[...]
            }
            return self.pending.popFirst()
        }
    }

    /// The events as the server sent them: each element one message's events (one or more, oldest first).
    public var batches: Batches { Batches(watch: self) }

    public struct Batches: AsyncSequence, Sendable {
        public typealias Element = [Feedback_V1_FeedbackEvent]
        let watch: FeedbackEventWatch

        public func makeAsyncIterator() -> Iterator {
            Iterator(watch: self.watch, lastEventID: self.watch.afterEventID)
        }

        public struct Iterator: AsyncIteratorProtocol {
            let watch: FeedbackEventWatch
            /// The last event returned (the cursor a new watch resumes from).
            public private(set) var lastEventID: Int64
            private var stream: ClientStream.Iterator?
            private var backoff: Duration = .milliseconds(100)

            init(watch: FeedbackEventWatch, lastEventID: Int64) {
                self.watch = watch
                self.lastEventID = lastEventID
            }

            public mutating func next() async throws -> [Feedback_V1_FeedbackEvent]? {
                while true {
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
                        self.backoff = .milliseconds(100)
                        guard let last = decoded.events.last else { continue }
                        self.lastEventID = last.eventID
                        return decoded.events
                    } catch let error as RPCError where self.watch.resume && (error.code == .unavailable || error.code == .unknown) {
                        self.stream = nil
                        try await Task.sleep(for: self.backoff)
                        self.backoff = Swift.min(self.backoff * 2, .seconds(2))
                    }
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

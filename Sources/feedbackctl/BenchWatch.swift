import FeedbackClient
import FeedbackProtos
import Foundation
import RPCCore
import Synchronization

/// `feedbackctl bench --watch`: one reader of the live feed (WatchFeedbackEvents) beside the load, as the
/// retraining job would be: how many events it is delivered per second, how long after its batch began to
/// commit each event reaches it (its `created_at`, taken inside the transaction before the writes and the
/// fsync: an upper bound of commit→delivery, at millisecond resolution), and, once the load stops, how long it
/// takes to catch up. Every id is checked: each after the one before, none twice; with `resumeEvery` the
/// watcher drops its stream every so many events and resumes from the last id on a new connection.
struct BenchWatch: Sendable {
    let socket: String
    let token: String
    let after: Int64
    let resumeEvery: Int

    /// What the watcher saw.
    struct Result: Sendable {
        var events = 0
        var repeats = 0
        var first: Int64 = 0
        var last: Int64 = 0
        /// The sum of the ids delivered (wrapping), to compare with the audit trail's.
        var idSum: Int64 = 0
        var resumes = 0
        /// Delivery time minus `created_at`, in microseconds (millisecond resolution).
        var lags: [UInt32] = []
        /// Events delivered while the load ran.
        var duringLoad = 0
        /// From the end of the load until the watcher had every event it expected.
        var catchUp: Duration?
    }

    /// Set when the load is over: how many events the watcher must see in all (the OK submissions).
    final class Expectation: Sendable {
        private let state = Mutex<(count: Int?, endedAt: ContinuousClock.Instant?)>((nil, nil))

        func loadEnded(expecting count: Int) {
            self.state.withLock { $0 = (count, .now) }
        }

        var current: (count: Int?, endedAt: ContinuousClock.Instant?) { self.state.withLock { $0 } }
    }

    /// Reads the feed until it has the expected events (or none came for 10 s after the load ended).
    func run(expectation: Expectation) async -> Result {
        let client = FeedbackClient(socketPath: self.socket, defaultTimeout: nil)
        let delivered = DeliveredCount()
        let reading = Task { await self.read(client: client, expectation: expectation, delivered: delivered) }
        // Ends the watch when nothing more comes for 10 s after the load (a shortfall is then reported).
        let quiet = Task {
            var seen = -1
            var quietSince = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                let now = delivered.value
                if let expected = expectation.current.count, now >= expected {
                    reading.cancel()  // everything was delivered before the load was over
                    return
                }
                if now != seen {
                    seen = now
                    quietSince = .now
                } else if expectation.current.endedAt != nil, ContinuousClock.now - quietSince > .seconds(10) {
                    reading.cancel()
                    return
                }
            }
        }
        var result = await reading.value
        quiet.cancel()
        if result.catchUp == nil, let expected = expectation.current.count, result.events >= expected { result.catchUp = .zero }
        await client.close()
        return result
    }

    private func read(client: FeedbackClient, expectation: Expectation, delivered: DeliveredCount) async -> Result {
        var result = Result()
        var cursor = self.after
        outer: while !Task.isCancelled {
            var sinceResume = 0
            do {
                for try await batch in client.watchFeedbackEvents(afterEventID: cursor, token: self.token).batches {
                    let now = Date().timeIntervalSince1970
                    for event in batch {
                        if event.eventID <= cursor { result.repeats += 1 }
                        if result.events == 0 { result.first = event.eventID }
                        result.events += 1
                        result.last = event.eventID
                        result.idSum &+= event.eventID
                        cursor = event.eventID
                        if let created = Self.epochSeconds(event.createdAt) {
                            result.lags.append(UInt32(clamping: Int64(((now - created) * 1e6).rounded())))
                        }
                    }
                    let (expected, endedAt) = expectation.current
                    if endedAt == nil { result.duringLoad += batch.count }
                    delivered.value = result.events
                    if let expected, result.events >= expected {
                        result.catchUp = endedAt.map { .now - $0 }
                        break outer
                    }
                    sinceResume += batch.count
                    if self.resumeEvery > 0, sinceResume >= self.resumeEvery {
                        result.resumes += 1
                        continue outer  // drops this stream (CANCEL) and resumes after `cursor`
                    }
                }
            } catch {
                break outer
            }
        }
        return result
    }

    /// Events delivered so far, read by the task that notices a watch gone quiet.
    final class DeliveredCount: Sendable {
        private let count = Atomic<Int>(0)
        var value: Int {
            get { self.count.load(ordering: .relaxed) }
            set { self.count.store(newValue, ordering: .relaxed) }
        }
    }

    /// `2026-12-06T10:15:00.001Z` as seconds since 1970, without a formatter.
    static func epochSeconds(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard (48...57).contains(bytes[index]) else { return nil }
                value = value * 10 + Int(bytes[index] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var fraction = 0.0
        if bytes.count > 21, bytes[19] == UInt8(ascii: "."), let digits = number(20..<(bytes.count - 1)) {
            fraction = Double(digits) / pow(10, Double(bytes.count - 21))
        }
        // Days from civil (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Double(days * 86_400 + hour * 3600 + minute * 60 + second) + fraction
    }
}

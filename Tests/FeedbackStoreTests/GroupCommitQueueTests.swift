import FeedbackDomain
import FeedbackTestSupport
import Synchronization
import Testing

/// Outcomes reported to completions, by interaction id.
private final class Outcomes: Sendable {
    let all = Mutex<[Int64: Result<Void, FeedbackError>]>([:])
    func completion(_ id: Int64) -> @Sendable (Result<Void, FeedbackError>) -> Void {
        { result in self.all.withLock { $0[id] = result } }
    }
    func failure(_ id: Int64) -> FeedbackError? {
        self.all.withLock { outcomes in
            if case .failure(let error)? = outcomes[id] { error } else { nil }
        }
    }
    var count: Int { self.all.withLock { $0.count } }
}

@Suite("The group-commit queue every store shares")
struct GroupCommitQueueTests {
    private func submission(_ id: Int64) -> FeedbackSubmission {
        FeedbackSubmission(interactionID: id, rating: .positive, subject: "s")
    }

    @Test("withdrawn while queued: completed CANCELLED at once and never in a batch; once in a batch: too late")
    func withdrawal() {
        let queue = GroupCommitQueue()
        let outcomes = Outcomes()
        let withdrawFirst = queue.enqueue(self.submission(1), completion: outcomes.completion(1))
        let withdrawSecond = queue.enqueue(self.submission(2), completion: outcomes.completion(2))
        let withdrawThird = queue.enqueue(self.submission(3), completion: outcomes.completion(3))
        withdrawSecond()
        #expect(outcomes.failure(2) == .cancelled)
        let batch = queue.nextBatch(maxCount: 1)
        #expect(batch.map(\.submission.interactionID) == [1])
        #expect(queue.depth == (queued: 1, committing: 1))
        withdrawFirst()  // its batch is being written
        #expect(outcomes.count == 1, "no answer before the write's outcome")
        batch[0].complete(.success(()))
        queue.batchFinished(batch)
        #expect(queue.nextBatch(maxCount: 10).map(\.submission.interactionID) == [3])
        withdrawThird()  // taken already: nothing happens
        withdrawSecond()  // answered already: nothing happens
        #expect(outcomes.count == 2)
    }

    @Test("batches written at once: at most maxInFlight, and never two holding one interaction (its ratings stay in arrival order)")
    func batchesInFlight() {
        let queue = GroupCommitQueue()
        let outcomes = Outcomes()
        for id: Int64 in [1, 2, 1] { _ = queue.enqueue(self.submission(id), completion: outcomes.completion(id)) }
        let first = queue.nextBatch(maxCount: 2, maxInFlight: 2)
        #expect(first.map(\.submission.interactionID) == [1, 2])
        for id: Int64 in [3, 2, 4] { _ = queue.enqueue(self.submission(id), completion: outcomes.completion(id)) }
        // 1 and 2 are being written: the second batch skips them, keeps them queued in order.
        let second = queue.nextBatch(maxCount: 10, maxInFlight: 2)
        #expect(second.map(\.submission.interactionID) == [3, 4])
        #expect(queue.depth == (queued: 2, committing: 4))
        #expect(queue.nextBatch(maxCount: 10, maxInFlight: 2).isEmpty, "two batches are being written")
        queue.batchFinished(second)
        #expect(queue.nextBatch(maxCount: 10, maxInFlight: 2).isEmpty, "what waits is held by the first batch")
        queue.batchFinished(first)
        let third = queue.nextBatch(maxCount: 10, maxInFlight: 2)
        #expect(third.map(\.submission.interactionID) == [1, 2], "the held-back ratings, in arrival order")
        queue.batchFinished(third)
        #expect(queue.depth == (queued: 0, committing: 0))
    }

    @Test("a submission that could start a second batch wakes the writer, even when what waited was held back")
    func wakesForASecondBatch() async {
        let queue = GroupCommitQueue()
        let outcomes = Outcomes()
        _ = queue.enqueue(self.submission(1), completion: outcomes.completion(1))
        #expect(await queue.waitForWork())
        let first = queue.nextBatch(maxCount: 10, maxInFlight: 2)
        _ = queue.enqueue(self.submission(1), completion: outcomes.completion(1))  // held back: 1 is being written
        #expect(await queue.waitForWork())
        #expect(queue.nextBatch(maxCount: 10, maxInFlight: 2).isEmpty)
        _ = queue.enqueue(self.submission(2), completion: outcomes.completion(2))  // not the first waiting
        queue.finishWaiting()  // a wake-up already given is still delivered; none given, false
        #expect(await queue.waitForWork(), "the writer was not woken for interaction 2")
        #expect(queue.nextBatch(maxCount: 10, maxInFlight: 2).map(\.submission.interactionID) == [2])
        queue.batchFinished(first)
    }

    @Test("a writer on a thread of its own: a submission queued before it waits still wakes it; after finishWaiting every wait is false")
    func threadWakeups() {
        let queue = GroupCommitQueue(waiting: .thread)
        let outcomes = Outcomes()
        _ = queue.enqueue(self.submission(1), completion: outcomes.completion(1))
        // No timeout to speak of: a wake-up lost here hangs the test (the suite's limit ends it).
        #expect(queue.waitForWork(timeout: .seconds(3600)))
        let batch = queue.nextBatch(maxCount: 10)
        #expect(batch.map(\.submission.interactionID) == [1])
        _ = queue.enqueue(self.submission(2), completion: outcomes.completion(2))  // while a batch is written
        queue.batchFinished(batch)
        #expect(queue.waitForWork(timeout: .seconds(3600)), "woken for the submission that arrived during the batch")
        #expect(queue.nextBatch(maxCount: 10).map(\.submission.interactionID) == [2])
        queue.finishWaiting()
        #expect(!queue.waitForWork(timeout: .seconds(3600)))
        #expect(!queue.waitForWork(timeout: .seconds(3600)), "finished stays finished")
    }

    @Test("a writer on a thread of its own ends when its task is cancelled, having written what was queued, on that thread")
    func dedicatedThreadEndsOnCancel() async {
        var configuration = GroupCommitWriter.Configuration(maxBatchSize: 10)
        configuration.batchFormation = .onceBegun
        configuration.probing = .betweenBatches
        configuration.waiting = .thread
        let writer = GroupCommitWriter(store: "test", configuration: configuration, logger: quietLogger())
        let outcomes = Outcomes()
        let storage = CompletingStorage()
        _ = writer.enqueue(self.submission(1), completion: outcomes.completion(1))
        let task = Task { await writer.run(onDedicatedThread: storage, name: "test-writer") }
        task.cancel()
        await task.value
        #expect(outcomes.count == 1, "the queued submission was written before the writer ended")
        #expect(storage.threadNames.withLock { $0 }.allSatisfy { $0 == "test-writer" })
    }

    @Test("after stop, new submissions are refused as unavailable; those queued are still taken")
    func stop() {
        let queue = GroupCommitQueue()
        let outcomes = Outcomes()
        _ = queue.enqueue(self.submission(1), completion: outcomes.completion(1))
        queue.stop()
        _ = queue.enqueue(self.submission(2), completion: outcomes.completion(2))
        if case .storeUnavailable = outcomes.failure(2) {} else { Issue.record("not refused: \(String(describing: outcomes.failure(2)))") }
        #expect(queue.nextBatch(maxCount: 10).map(\.submission.interactionID) == [1])
    }

    @Test("submit (enqueue, awaited): a task cancelled before its submission is queued is refused, and nothing is stored")
    func cancelledBeforeQueued() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: [1])
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await store.submit(self.submission(1))
        }
        await #expect(throws: FeedbackError.cancelled) { try await task.value }
        #expect(try await store.events(after: 0, limit: 10).isEmpty)
        try await store.submit(self.submission(1))
        #expect(try await store.events(after: 0, limit: 10).count == 1)
    }
}

/// Storage that completes every item OK, noting the thread that wrote each batch.
private final class CompletingStorage: BlockingGroupCommitStorage {
    let threadNames = Mutex<[String]>([])

    func commit(_ batch: GroupCommitBatch) {
        let name = currentThreadName()
        self.threadNames.withLock { $0.append(name) }
        for item in batch.take() { item.complete(.success(())) }
    }

    func probe() {}
}

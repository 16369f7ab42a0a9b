import FeedbackDomain
import Logging
import PostgresNIO
import RPCCore
import ServiceLifecycle
import Synchronization

/// Ratings in PostgreSQL, for deployments with more than one host: every host runs its own feedbackd
/// against one shared (replicated) database. The same contract as the SQLite store: `UPDATE
/// interactions SET feedback = … WHERE id = …`, NOT_FOUND for an unknown id, an audit row in
/// `feedback_events` in the same transaction, answered only after COMMIT, re-rating overwrites.
///
/// A `Service`: ``run()`` runs PostgresNIO's connection pool and the writer. Group commit: every
/// submission waiting when a batch starts (two batches at a time, never with an interaction in common) goes into one statement, one round trip and one transaction
/// whatever its size (rows locked in id order, so that writers on several hosts never deadlock; one
/// `UPDATE … FROM unnest(…)`; one multi-row audit `INSERT`). Any failure (PostgreSQL down, restarted, a statement
/// timeout) fails the whole batch as UNAVAILABLE: never OK unless committed. Until a probe (once a
/// second) finds PostgreSQL writable again, batches are answered UNAVAILABLE at once instead of waiting
/// for a connection. PostgreSQL down at start-up is not fatal: the store reports NOT_SERVING meanwhile.
public final class PostgresFeedbackStore: FeedbackStore, Service {
    private let configuration: PostgresConfiguration
    private let logger: Logger
    private let client: PostgresClient
    private let queue = GroupCommitQueue(store: "postgres")
    /// Why writes are not expected to succeed, or nil when they are.
    private let unhealthy = Mutex<String?>("not connected yet")
    /// Why the store refused to run: PostgreSQL answered at start-up, but without a usable schema.
    private let startUpRefusal = Mutex<String?>(nil)
    /// Whether the schema was checked (and `feedback_events` created) since start-up: writes wait for it.
    private let schemaReady = Atomic<Bool>(false)

    public init(configuration: PostgresConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        var client = configuration.client
        let timeout = configuration.statementTimeout.components
        let milliseconds = timeout.seconds * 1000 + timeout.attoseconds / 1_000_000_000_000_000
        client.options.additionalStartupParameters.append(("statement_timeout", "\(milliseconds)"))
        self.client = PostgresClient(configuration: client, backgroundLogger: logger)
    }

    public func submit(_ submission: FeedbackSubmission) async throws(FeedbackError) {
        try await self.queue.submit(submission)
    }

    public func enqueue(
        _ submission: FeedbackSubmission,
        completion: @escaping @Sendable (Result<Void, FeedbackError>) -> Void
    ) -> @Sendable () -> Void {
        self.queue.enqueue(submission, completion: completion)
    }

    public var isServing: Bool { self.unhealthy.withLock { $0 == nil } }

    /// The audit trail after `eventID`, listing only events stored at least ``PostgresConfiguration/eventSettleTime``
    /// ago (by PostgreSQL's clock). Ids come from a sequence when a row is inserted, not when its
    /// transaction commits: a batch still being written (on this host or another) may hold smaller ids
    /// than one already committed, and a reader that paged past those would miss them. No transaction
    /// outlives the statement timeout, so once an event is older than twice that (its transaction's
    /// start, `created_at`), every event with a smaller id is final, whatever its own `created_at` (a
    /// batch that waited for a lock takes its ids late). A page is the events after `eventID` up to the
    /// last settled one among them.
    public func events(after eventID: Int64, limit: Int) async throws(FeedbackError) -> [StoredFeedbackEvent] {
        let settle = self.configuration.eventSettleTime.components
        let settleMilliseconds = settle.seconds * 1000 + settle.attoseconds / 1_000_000_000_000_000
        do {
            return try await self.bounded { statement in
                try await self.client.withConnection { connection in
                    statement.starts()
                    var events: [StoredFeedbackEvent] = []
                    var settledCount = 0
                    let rows = try await connection.query(
                        """
                        SELECT id, interaction_id, rating, subject,
                            to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                            created_at < now() - make_interval(secs => \(Double(settleMilliseconds) / 1000))
                        FROM feedback_events WHERE id > \(eventID) ORDER BY id LIMIT \(limit)
                        """,
                        logger: self.logger
                    )
                    for try await (id, interaction, rating, subject, createdAt, settled) in rows.decode((Int64, Int64, Int16, String, String, Bool).self) {
                        events.append(StoredFeedbackEvent(eventID: id, interactionID: interaction, rating: Int(rating), subject: subject, createdAt: createdAt))
                        if settled { settledCount = events.count }
                    }
                    return Array(events.prefix(settledCount))
                }
            }
        } catch {
            throw .storeUnavailable(cause: "cannot read the audit trail of \(self.configuration.description): \(String(reflecting: error))")
        }
    }

    /// Submissions waiting for a batch, and those in the batches being committed.
    public var depth: (queued: Int, committing: Int) { self.queue.depth }

    /// The connection pool and the writer, until graceful shutdown; then the last batches.
    /// - Throws: ``FeedbackError/storeUnavailable(cause:)`` when, at start-up, PostgreSQL answers but its
    ///   schema cannot be used (no `interactions(id, feedback)`): feedbackd refuses to start, naming what
    ///   is missing. A database that does not answer yet is waited for (NOT_SERVING meanwhile), and one
    ///   whose schema breaks later makes the store NOT_SERVING until it is repaired.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            // The probe runs beside the writer, so that while PostgreSQL is away (a probe may wait up to
            // the connect timeout) the writer keeps answering UNAVAILABLE at once.
            group.addTask {
                if let problem = await self.probeIfDue() {
                    self.startUpRefusal.withLock { $0 = problem.description }
                    self.queue.finishWaiting()
                    return
                }
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    await self.probeIfDue()
                }
            }
            // The writer: up to `batchesInFlight` batches at once, each on its own connection, so that one
            // batch's commit (its fsync) overlaps the next batch's work.
            await withDiscardingTaskGroup { writes in
                await withGracefulShutdownHandler {
                    repeat {
                        self.startBatches(in: &writes)
                    } while await self.queue.waitForWork()
                } onGracefulShutdown: {
                    self.queue.finishWaiting()
                }
                self.queue.stop()
            }  // waits for the batches being written
            await self.queue.drain(maxCount: self.configuration.maxBatchSize) { batch in await self.commit(batch) }
            group.cancelAll()
        }
        if let reason = self.startUpRefusal.withLock({ $0 }) {
            throw FeedbackError.storeUnavailable(cause: "\(self.configuration.description): \(reason)")
        }
    }

    /// Starts as many batches as may be written at once; each wakes the writer when it has finished.
    private func startBatches(in writes: inout DiscardingTaskGroup) {
        while true {
            let batch = self.queue.nextBatch(maxCount: self.configuration.maxBatchSize, maxInFlight: self.configuration.batchesInFlight)
            if batch.isEmpty { return }
            writes.addTask {
                await self.queue.write(batch) { batch in await self.commit(batch) }
            }
        }
    }

    /// One transaction for the batch; each submission is answered after COMMIT with its own outcome.
    private func commit(_ batch: [GroupCommitQueue.Item]) async {
        var writable: [GroupCommitQueue.Item] = []
        for item in batch {
            // PostgreSQL's text cannot hold NUL: such a subject would fail the whole batch.
            if item.submission.subject.utf8.contains(0) {
                item.complete(.failure(.unstorableSubject))
            } else {
                writable.append(item)
            }
        }
        guard !writable.isEmpty else { return }
        // While PostgreSQL is known to be unreachable (or its schema unusable), answer at once rather
        // than wait for a connection: the probe (each second) says when writes can succeed again.
        if let reason = self.unhealthy.withLock({ $0 }) {
            for item in writable { item.complete(.failure(.storeUnavailable(cause: reason))) }
            return
        }
        let submissions = writable.map(\.submission)
        do {
            let found = try await self.bounded { statement in
                if !self.schemaReady.load(ordering: .relaxed) { try await self.prepareSchema(statement) }
                return try await Self.write(submissions, on: self.client, statement: statement, logger: self.logger)
            }
            self.markHealthy()
            for item in writable {
                let id = item.submission.interactionID
                item.complete(found.contains(id) ? .success(()) : .failure(.interactionNotFound(id)))
            }
        } catch {
            let cause = String(reflecting: error)
            self.logger.error("feedback.store_write_failed", metadata: ["error": "\(cause)", "batch.size": "\(writable.count)"])
            self.markUnhealthy(cause)
            for item in writable { item.complete(.failure(.storeUnavailable(cause: cause))) }
        }
    }

    /// The batch's statement; returns the ids that exist. A connection on which it failed is closed (the
    /// pool opens another): PostgresNIO remembers a failed preparation for the connection's lifetime,
    /// and the failure may have been a schema that is repaired meanwhile.
    private static func write(
        _ submissions: [FeedbackSubmission], on client: PostgresClient, statement start: StatementStart, logger: Logger
    ) async throws -> Set<Int64> {
        let statement = BatchStatement(submissions)
        return try await client.withConnection { connection in
            start.starts()
            do {
                var found: Set<Int64> = []
                for try await id in try await connection.execute(statement, logger: logger) { found.insert(id) }
                return found
            } catch {
                try? await connection.close()
                throw error
            }
        }
    }

    /// While unhealthy, once a second (under load too: writes are refused meanwhile): can PostgreSQL be
    /// written to? The schema is checked (and `feedback_events` created) on the way.
    /// Returns the schema's problem when PostgreSQL answered but its schema cannot be used.
    @discardableResult
    private func probeIfDue() async -> PostgresSchema.Problem? {
        guard !self.isServing else { return nil }
        do {
            try await self.bounded { statement in try await self.prepareSchema(statement) }
            self.markHealthy()
        } catch let problem as PostgresSchema.Problem {
            self.markUnhealthy(problem.description)
            return problem
        } catch {
            self.markUnhealthy("PostgreSQL (\(self.configuration.description)) cannot be reached: \(String(reflecting: error))")
        }
        return nil
    }

    /// Runs `work` (a batch, a probe, a page of events) with bounded waits: at most the connect timeout
    /// for a connection, then, from when `work` says its statement starts (``StatementStart/starts()``),
    /// the statement timeout and a second for the answer. Waiting for a connection while PostgreSQL is
    /// down or restarting must not hold the writer, nor graceful shutdown. Past a limit the work is
    /// cancelled and left behind (a PostgresNIO lease or query can outlive its cancellation around a
    /// server restart: waiting for it is what hung the writer); a batch stopped so is answered
    /// UNAVAILABLE, not OK, since its COMMIT is not known to have happened. The second limit counts from
    /// the statement's start, and PostgreSQL stops the statement at its statement_timeout: a batch given
    /// up on cannot commit later, behind a newer batch of the same interaction.
    private func bounded<T: Sendable>(_ work: @escaping @Sendable (StatementStart) async throws -> T) async throws -> T {
        let connectTimeout = self.configuration.client.options.connectTimeout
        let statementLimit = self.configuration.statementTimeout + .seconds(1)
        let outcome = OneShot<Result<T, any Error>>()
        let start = StatementStart()
        // Unstructured on purpose: a task group would wait for a child that ignores cancellation.
        let task = Task {
            do { outcome.set(.success(try await work(start))) } catch { outcome.set(.failure(error)) }
        }
        let timer = Task {
            try await Task.sleep(for: connectTimeout)
            // Each statement's window counts from its own start: a later one moves the limit.
            var waitedFor: ContinuousClock.Instant?
            while let started = start.instant, started != waitedFor {
                waitedFor = started
                try await Task.sleep(until: started + statementLimit)
            }
            task.cancel()
            let what = start.instant == nil ? "no connection within \(connectTimeout)" : "no answer within \(statementLimit)"
            outcome.set(.failure(PostgresUnavailable(description: "PostgreSQL (\(self.configuration.description)): \(what)")))
        }
        let result = await outcome.value()
        timer.cancel()
        return try result.get()
    }

    /// Checks `interactions(id, feedback)` and creates `feedback_events` when missing.
    private func prepareSchema(_ statement: StatementStart) async throws {
        try await self.client.withConnection { connection in
            statement.starts()
            try await PostgresSchema.prepare(connection, logger: self.logger)
        }
        self.schemaReady.store(true, ordering: .relaxed)
    }

    private func markHealthy() {
        let was = self.unhealthy.withLock { unhealthy -> String? in
            defer { unhealthy = nil }
            return unhealthy
        }
        if was != nil { self.logger.notice("feedback.store_serving", metadata: ["db": "\(self.configuration.description)"]) }
    }

    private func markUnhealthy(_ reason: String) {
        let changed = self.unhealthy.withLock { unhealthy -> Bool in
            defer { unhealthy = reason }
            return unhealthy != reason
        }
        if changed { self.logger.error("feedback.store_not_serving", metadata: ["error": "\(reason)"]) }
    }
}

import AsyncOneShot
import FeedbackDomain
import Logging
import PostgresNIO
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
/// `UPDATE … FROM unnest(…)`; one multi-row audit `INSERT`). OK only once PostgreSQL confirmed the commit
/// (``run(_:of:on:)``). Any failure (PostgreSQL down, restarted, a statement timeout) fails the whole
/// batch: UNAVAILABLE when PostgreSQL refused the statement or it was never sent, UNKNOWN when it was
/// sent and its commit never confirmed (the connection lost, the store gave up waiting). Until a probe (once a
/// second) finds PostgreSQL writable again, batches are answered UNAVAILABLE at once instead of waiting
/// for a connection. PostgreSQL down at start-up is not fatal: the store reports NOT_SERVING meanwhile.
///
/// A call's CANCEL or deadline still counts while its batch is being written (``BatchWrite``): before
/// the batch's statement is sent, the rating is left out of it and answered CANCELLED at once; while it
/// runs (waiting for a row lock, say), the store asks PostgreSQL to cancel it (`pg_cancel_backend`), and
/// the rating is answered by what happened: OK when the statement committed first, CANCELLED when the
/// cancel stopped it (nothing of it was written; the rest of the batch is written by a new statement).
/// So no caller waits for a lock past its deadline by more than the cancel's round trip.
public final class PostgresFeedbackStore: FeedbackStore, Service {
    let configuration: PostgresConfiguration
    let logger: Logger
    /// One connection pool per server of the URL.
    let clients: [PostgresClient]
    /// One connection per server, apart from the pools, for LISTEN (``listenForCommits()``): it never
    /// takes a connection the writes need.
    let listenClients: [PostgresClient]
    /// The server written to (an index of ``clients``): the first found that takes writes.
    let primary = Atomic<Int>(0)
    /// The queue, the writer loop and the store's health (shared with every store with group commit).
    let writer: GroupCommitWriter
    /// The newest audit event known committed: this store's commits advance it at once, other hosts'
    /// within a second (the probe's catch-up).
    public let committedEvents = CommittedEvents()
    public var eventSettleTime: Duration { self.configuration.eventSettleTime }
    /// Whether the writer's first probe has run (a schema problem found by it stops the store).
    let probedOnce = Atomic<Bool>(false)
    /// Why the store refused to run: PostgreSQL answered at start-up, but without a usable schema.
    let startUpRefusal = Mutex<String?>(nil)
    /// Whether the schema and the role's privileges were checked since the store last found a problem:
    /// writes wait for it.
    let schemaReady = Atomic<Bool>(false)
    /// The batches being written, by server, for their abandonment when the primary changes.
    let writesOn = Mutex<(next: UInt64, signals: [UInt64: (server: Int, signal: AbandonSignal)])>((0, [:]))
    /// Whether each server makes commits wait for a synchronous standby (as the probe last found; true
    /// until it looks): then a commit a cancel reached there is answered UNKNOWN.
    let synchronousReplication: Mutex<[Bool]>
    /// Why the ratings feed cannot be read (no SELECT on feedback_events), as last logged.
    let feedUnreadable = Mutex<String?>(nil)
    /// The batches being written, for the withdrawals of their submissions.
    let inFlight = InFlightBatches()
    /// Statements to cancel (a batch member withdrawn while its statement runs), for the canceller.
    let (cancelRequests, cancelRequester) = AsyncStream<CancelRequest>.makeStream()
    /// Work given up on that still runs.
    let leftBehind = LeftBehindWork(store: "postgres")
    /// The limits of the waits on PostgreSQL in flight (``bounded(connectTimeout:abandon:_:)``).
    let boundedWaits: BoundedWaits
    /// The backend process of each connection the writer used (PostgresNIO does not say), to cancel its statement.
    let backends = Mutex<[ConnectionKey: Int32]>([:])

    struct ConnectionKey: Hashable {
        var server: Int
        var connection: PostgresConnection.ID
    }

    struct CancelRequest: Sendable {
        var backend: BatchWrite.Backend
        var batch: BatchWrite
    }

    /// The pool of the server written to.
    var client: PostgresClient { self.clients[self.primary.load(ordering: .relaxed)] }

    public init(configuration: PostgresConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        var writes = GroupCommitWriter.Configuration(maxBatchSize: configuration.maxBatchSize)
        writes.batchesInFlight = configuration.batchesInFlight
        writes.healthLog = .reasonChanges
        var writerLogger = logger
        writerLogger[metadataKey: "db"] = "\(configuration.description)"
        self.writer = GroupCommitWriter(store: "postgres", configuration: writes, initiallyUnhealthy: "not connected yet", logger: writerLogger)
        let timeout = configuration.statementTimeout.components
        let milliseconds = timeout.seconds * 1000 + timeout.attoseconds / 1_000_000_000_000_000
        self.synchronousReplication = Mutex(Array(repeating: true, count: configuration.servers.count))
        self.boundedWaits = BoundedWaits(shortestLimit: min(configuration.options.connectTimeout, Self.probeConnectTimeout, configuration.statementTimeout))
        self.clients = configuration.servers.indices.map { index in
            var client = configuration.client(index)
            client.options.additionalStartupParameters.append(("statement_timeout", "\(milliseconds)"))
            return PostgresClient(configuration: client, backgroundLogger: logger)
        }
        self.listenClients = configuration.servers.indices.map { index in
            var client = configuration.client(index)
            client.options.minimumConnections = 0
            client.options.maximumConnections = 1
            return PostgresClient(configuration: client, backgroundLogger: logger)
        }
        let (inFlight, cancelRequester) = (self.inFlight, self.cancelRequester)
        self.writer.queue.onWithdrawalWhileWriting { id in
            let withdrawal = inFlight.withdraw(id)
            if case .none = withdrawal { return nil }
            return { Self.perform(withdrawal, cancelRequester) }
        }
    }

    public func enqueue(
        _ submission: FeedbackSubmission,
        completion: @escaping @Sendable (Result<Void, FeedbackError>) -> Void
    ) -> @Sendable () -> Void {
        self.writer.enqueue(submission, completion: completion)
    }

    public var isServing: Bool { self.writer.isServing }

    /// The audit trail after `eventID`, listing only events stored at least ``PostgresConfiguration/eventSettleTime``
    /// ago (by PostgreSQL's clock). Ids come from a sequence when a row is inserted, not when its
    /// transaction commits: a batch still being written (on this host or another) may hold smaller ids
    /// than one already committed, and a reader that paged past those would miss them. No transaction
    /// outlives the statement timeout, so once an event is older than twice that (its transaction's
    /// start, `created_at`), every event with a smaller id is final, whatever its own `created_at` (a
    /// batch that waited for a lock takes its ids late). A page is the events after `eventID` up to the
    /// last settled one among them.
    ///
    /// Rows are streamed and reading stops at the first that does not fit `page` or cannot be
    /// represented (``StoredEventRow``): PostgreSQL is asked for no subject longer than the page can
    /// carry, and the stream is cancelled after the last row the page takes.
    public func events<Page: FeedbackEventsPage>(after eventID: Int64, into page: Page) async throws(FeedbackError) -> Page {
        let settle = self.configuration.eventSettleTime.components
        let settleSeconds = Double(settle.seconds) + Double(settle.attoseconds / 1_000_000_000_000_000) / 1000
        do {
            return try await self.bounded { statement in
                try await self.client.withConnection { connection in
                    guard statement.starts() else { throw WorkGivenUp() }
                    var page = page
                    let rows = try await connection.query(
                        StoredEventRow.query(after: eventID, limit: page.limit, settleSeconds: settleSeconds, maxSubjectBytes: page.maxSubjectBytes),
                        logger: self.logger
                    )
                    var last = eventID
                    for try await row in rows {
                        switch try StoredEventRow.event(row, after: last) {
                        case .success(let event):
                            last = event.eventID
                            guard page.append(event) else { return page }
                        case .failure(let unreadable):
                            page.end(before: unreadable)
                            return page
                        }
                    }
                    return page
                }
            }
        } catch is WorkCancelled {
            throw .cancelled
        } catch {
            throw .storeUnavailable(cause: "cannot read the audit trail of \(self.configuration.description): \(String(reflecting: error))")
        }
    }

    /// Submissions waiting for a batch, and those in the batches being committed.
    public var depth: (queued: Int, committing: Int) { self.writer.depth }

    /// The connection pool and the writer, until graceful shutdown; then the last batches.
    /// - Throws: ``FeedbackError/storeUnavailable(cause:)`` when, at start-up, PostgreSQL answers but its
    ///   schema cannot be used (no `interactions(id, feedback)`): feedbackd refuses to start, naming what
    ///   is missing. A database that does not answer yet is waited for (NOT_SERVING meanwhile), and one
    ///   whose schema breaks later makes the store NOT_SERVING until it is repaired.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for client in self.clients + self.listenClients { group.addTask { await client.run() } }
            group.addTask { await self.cancelStatements() }
            group.addTask { await self.boundedWaits.run() }
            // The writer (``GroupCommitWriter``): up to `batchesInFlight` batches at once, each on its own
            // connection, so that one batch's commit (its fsync) overlaps the next batch's work; the probe
            // runs beside it, so that while PostgreSQL is away (a probe may wait up to the connect
            // timeout) the writer keeps answering UNAVAILABLE at once.
            // The listener is a task of its own, cancelled when the writer has stopped and never waited
            // for: a PostgresNIO lease can outlive its cancellation around a server restart.
            let listener = Task { await self.listenForCommits() }
            await self.writer.run(Writes(store: self))
            listener.cancel()
            self.cancelRequester.finish()
            // Work given up on (a lease or a query that outlived its cancellation), as long as it could
            // take by its own limits.
            let limit = self.configuration.options.connectTimeout + self.configuration.statementTimeout * 2 + .seconds(1)
            let stillRunning = await self.leftBehind.waitForAll(atMost: limit)
            if stillRunning > 0 { self.logger.warning("feedback.store_work_left_running", metadata: ["work.count": "\(stillRunning)"]) }
            group.cancelAll()
        }
        if let reason = self.startUpRefusal.withLock({ $0 }) {
            throw FeedbackError.storeUnavailable(cause: "\(self.configuration.description): \(reason)")
        }
    }

    /// What the writer calls: one batch, and the probe (once a second). A schema problem found by the
    /// first probe stops the store (``run()`` throws it).
    struct Writes: GroupCommitStorage {
        let store: PostgresFeedbackStore

        func commit(_ batch: GroupCommitBatch) async {
            await self.store.write(batch)
        }

        func probe() async {
            let problem = await self.store.probe()
            guard !self.store.probedOnce.exchange(true, ordering: .relaxed), let problem else { return }
            self.store.startUpRefusal.withLock { $0 = problem.description }
            self.store.writer.stopWaiting()
        }
    }

    /// Writes `batch` (from the queue), known to ``inFlight`` meanwhile, so that its members' withdrawals
    /// reach it. The queue is told the batch is written before ``inFlight`` forgets it: a withdrawal
    /// arriving in between would otherwise be kept for a batch that never comes.
    func write(_ batch: GroupCommitBatch) async {
        let write = BatchWrite(batch.take())
        for withdrawal in self.inFlight.add(write) { Self.perform(withdrawal, self.cancelRequester) }
        await self.commit(write)
        batch.written()
        self.inFlight.remove(write)
    }

    /// The batch in one statement (one implicit transaction), or in more when a member's withdrawal
    /// stopped one; each submission is answered after COMMIT with its own outcome, exactly once.
    func commit(_ batch: BatchWrite) async {
        for item in batch.items where item.submission.subject.utf8.contains(0) {
            // PostgreSQL's text cannot hold NUL: such a subject would fail the whole batch.
            batch.answer(item.id, .failure(.unstorableSubject))
        }
        guard batch.isWaiting else { return }
        // While PostgreSQL is known to be unreachable (or its schema unusable), answer at once rather
        // than wait for a connection: the probe (each second) says when writes can succeed again.
        if let reason = self.writer.unhealthyReason {
            batch.fail(cause: reason)
            return
        }
        // The server written to; when the probe finds another primary, this batch's work there is
        // abandoned at once rather than waited for (a primary that is gone may never answer).
        // Read and registered under the lock the probe changes the primary under: a batch either
        // starts on the new primary or is abandoned on the old one.
        let abandon = AbandonSignal()
        let (server, registration) = self.writesOn.withLock { writes in
            writes.next += 1
            let server = self.primary.load(ordering: .relaxed)
            writes.signals[writes.next] = (server, abandon)
            return (server, writes.next)
        }
        defer { _ = self.writesOn.withLock { $0.signals.removeValue(forKey: registration) } }
        do {
            // With several servers a batch waits for a connection no longer than the probe does: one
            // waiting on a primary that is gone must not hold the writer past the failover.
            let connectTimeout = self.clients.count > 1 ? min(self.configuration.options.connectTimeout, Self.probeConnectTimeout) : nil
            while try await self.bounded(connectTimeout: connectTimeout, abandon: abandon, { statement in
                try await self.writeStatement(of: batch, server: server, statement: statement)
            }) {}
            self.writer.markHealthy()
        } catch is PrimaryChanged {
            // Members whose statement was sent there are answered UNKNOWN, the others UNAVAILABLE.
            batch.fail(cause: PrimaryChanged(from: self.configuration.servers[server].description).description)
        } catch is WorkCancelled {
            // Shutdown past its limit: members whose statement was sent are answered UNKNOWN (it may still commit).
            batch.fail(cause: "feedbackd stopped waiting for PostgreSQL while shutting down")
        } catch {
            let cause = String(reflecting: error)
            self.logger.error("feedback.store_write_failed", metadata: ["error": "\(cause)", "batch.size": "\(batch.items.count)"])
            self.writer.markUnhealthy(cause)
            batch.fail(cause: cause)
        }
    }

    /// One statement of `batch`: its members not answered yet (``BatchWrite/begin(backend:)``). Returns
    /// true when a member's withdrawal stopped it, and the others wait for the next statement.
    ///
    /// The connection is given back only once the cancels asked for while it ran are done; it is closed
    /// instead (the pool opens another) when the statement failed otherwise (PostgresNIO remembers a
    /// failed preparation for the connection's lifetime, and the failure may have been a schema that is
    /// repaired meanwhile), or when a cancel may still reach its backend.
    func writeStatement(of batch: BatchWrite, server: Int, statement start: StatementStart) async throws -> Bool {
        if !self.schemaReady.load(ordering: .relaxed) { try await self.checkSchema(start, server: server) }
        return try await self.clients[server].withConnection { connection in
            guard start.starts() else { throw WorkGivenUp() }
            let backend = try await self.backend(of: connection, server: server)
            guard start.starts(), let members = batch.begin(backend: backend) else { throw WorkGivenUp() }
            guard !members.isEmpty else { return false }
            let result = await self.run(members, of: batch, on: connection)
            // What the cancels asked for meanwhile did is known before the outcome is (statementEnded).
            batch.statementStopped()
            let cancelMayArrive = await batch.cancelsSettled()
            let end = batch.statementEnded(result, synchronousReplication: self.synchronousReplication.withLock { $0[server] })
            switch end {
            case .committed:
                if cancelMayArrive { await self.close(connection, server: server) }
                return false
            case .stoppedByCancel:
                // Closed as well: the cancel may have stopped the statement's preparation, which
                // PostgresNIO then remembers as failed for the connection's life.
                await self.close(connection, server: server)
                return true
            case .failed(let error):
                await self.close(connection, server: server)
                throw error
            }
        }
    }

    /// Runs the statement writing `members` on `connection`, and confirms its commit.
    ///
    /// The statement is one implicit transaction, which PostgreSQL commits when it processes the
    /// protocol's Sync, after the statement's CommandComplete; PostgresNIO ends the rows at
    /// CommandComplete and does not surface the answer to Sync (ReadyForQuery). A commit that fails
    /// after CommandComplete (PostgreSQL shut down meanwhile, a deferred constraint) would be taken for
    /// a success. So the commit is confirmed by one more statement on the same connection: PostgresNIO
    /// sends it only after ReadyForQuery, and PostgresNIO closes the connection when an error follows a
    /// CommandComplete. When the batch inserted audit rows, that statement also reads the newest of
    /// their ids (`currval` of the id sequence: this session's last, needing only the sequence's USAGE,
    /// which the writes need anyway) and tells every feedbackd listening (`NOTIFY feedback_events`);
    /// this store's readers are woken at once (``committedEvents``).
    func run(_ members: [BatchWrite.Item], of batch: BatchWrite, on connection: PostgresConnection) async -> BatchWrite.StatementResult {
        var found: Set<Int64> = []
        do {
            for try await id in try await connection.execute(BatchStatement(members.map(\.submission)), logger: self.logger) {
                found.insert(id)
            }
        } catch let error as PSQLError where error.code == .server {
            return .rolledBack(error, queryCanceled: error.serverInfo?[.sqlState] == "57014")
        } catch {
            return .unknown(error)
        }
        batch.statementCompleted()
        var newestEvent: Int64?
        do {
            if found.isEmpty {
                try await connection.query(";", logger: self.logger)
            } else {
                let rows = try await connection.query(
                    """
                    SELECT newest, pg_notify('\(unescaped: Self.commitChannel)', newest::text)::text
                    FROM currval(pg_get_serial_sequence('feedback_events', 'id')) AS newest
                    """,
                    logger: self.logger
                )
                for try await (newest, _) in rows.decode((Int64, String).self) { newestEvent = newest }
            }
        } catch let error as PSQLError where error.code == .server {
            // PostgreSQL received it, so the transaction before it ended normally (a late cancel, a
            // full notification queue); the probe's catch-up finds the events.
        } catch {
            return .unknown(error)
        }
        if let newestEvent { self.committedEvents.advance(to: newestEvent) }
        return .committed(found)
    }

    /// The backend process of `connection`, on `server` (its id asked once per connection).
    func backend(of connection: PostgresConnection, server: Int) async throws -> BatchWrite.Backend {
        let key = ConnectionKey(server: server, connection: connection.id)
        if let pid = self.backends.withLock({ $0[key] }) { return BatchWrite.Backend(server: server, pid: pid) }
        var pid: Int32 = 0
        for try await value in try await connection.query("SELECT pg_backend_pid()", logger: self.logger).decode(Int32.self) {
            pid = value
        }
        self.backends.withLock { backends in
            if backends.count >= 64 { backends.removeAll() }  // connections the pool closed
            backends[key] = pid
        }
        return BatchWrite.Backend(server: server, pid: pid)
    }

    func close(_ connection: PostgresConnection, server: Int) async {
        self.backends.withLock { _ = $0.removeValue(forKey: ConnectionKey(server: server, connection: connection.id)) }
        try? await connection.close()
    }

}

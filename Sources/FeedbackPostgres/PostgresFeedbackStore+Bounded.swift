import AsyncOneShot
import FeedbackDomain
import Logging
import PostgresNIO
import Synchronization

// Every wait on PostgreSQL with a limit: a connection, a statement, an answer.

extension PostgresFeedbackStore {
    /// Runs `work` (a batch, a probe, a page of events, a cancel) with bounded waits (watched by
    /// ``boundedWaits``, which ``run()`` sweeps): at most the connect
    /// timeout for a connection, then, from when `work` says a statement starts
    /// (``StatementStart/starts()``, which `work` must check before each statement), twice the statement
    /// timeout (a preparation and an execution) and a second for the answer. Waiting for a connection while PostgreSQL is down or
    /// restarting must not hold the writer, nor graceful shutdown. Past a limit the work is cancelled and
    /// left behind (a PostgresNIO lease or query can outlive its cancellation around a server restart:
    /// waiting for it is what hung the writer), counted and awaited on shutdown (``LeftBehindWork``); a
    /// batch stopped so is answered UNAVAILABLE. Work given up on before it sent a statement never sends
    /// one (a lease granted late finds ``StatementStart/starts()`` false). Work given up on after it sent
    /// one gets no answer within its statement's window (PostgreSQL ends the statement at its
    /// statement_timeout, but not a COMMIT waiting for a synchronous standby, say): a batch's members in
    /// it are answered UNKNOWN (``BatchWrite/fail(cause:)``).
    func bounded<T: Sendable>(
        connectTimeout: Duration? = nil,
        abandon: AbandonSignal? = nil,
        _ work: @escaping @Sendable (StatementStart) async throws -> T
    ) async throws -> T {
        let connectTimeout = connectTimeout ?? self.configuration.options.connectTimeout
        // A statement on a new connection is two messages, its preparation and its execution, each
        // bounded by statement_timeout on its own.
        let statementLimit = self.configuration.statementTimeout * 2 + .seconds(1)
        let outcome = OneShot<Result<T, any Error>>()
        let start = StatementStart()
        // Unstructured on purpose: a task group would wait for a child that ignores cancellation.
        let work = self.leftBehind.start {
            do { outcome.set(.success(try await work(start))) } catch { outcome.set(.failure(error)) }
        }
        let watched = self.boundedWaits.add(connectTimeout: connectTimeout, statementLimit: statementLimit, start: start) { [leftBehind] waitedFor in
            leftBehind.giveUp(work)
            let what = waitedFor == nil ? "no connection within \(connectTimeout)" : "no answer within \(statementLimit)"
            outcome.set(.failure(PostgresUnavailable(description: "PostgreSQL (\(self.configuration.description)): \(what)")))
        }
        abandon?.onFire { [leftBehind] in
            start.giveUpNow()
            leftBehind.giveUp(work)
            outcome.set(.failure(PrimaryChanged(from: "the server")))
        }
        // A cancelled caller (shutdown past --shutdown-timeout-s, a reader's CANCEL) does not wait for
        // the work either: it is given up on and left behind, as on a timeout.
        guard let result = await outcome.valueUnlessCancelled() else {
            self.boundedWaits.remove(watched)
            start.giveUpNow()
            self.leftBehind.giveUp(work)
            throw WorkCancelled()
        }
        self.boundedWaits.remove(watched)
        return try result.get()
    }
}

/// The work was given up on because the store now writes to another server.
struct PrimaryChanged: Error, CustomStringConvertible {
    var from: String
    var description: String { "feedbackd stopped waiting for \(self.from), no longer the server written to (a failover)" }
}

/// The caller of ``PostgresFeedbackStore/bounded(_:)`` was cancelled; the work is left behind.
struct WorkCancelled: Error {}

/// PostgreSQL did not answer in time.
struct PostgresUnavailable: Error, CustomStringConvertible {
    var description: String
}

/// The store gave up on the work before it sent its statement: it was never sent.
struct WorkGivenUp: Error, CustomStringConvertible {
    var description: String { "given up on before its statement was sent" }
}

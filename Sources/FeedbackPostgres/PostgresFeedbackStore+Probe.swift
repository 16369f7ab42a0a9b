import AsyncOneShot
import FeedbackDomain
import Logging
import PostgresNIO
import Synchronization

// The probe: once a second, can PostgreSQL be written to, and which server takes writes.

extension PostgresFeedbackStore {
    /// Once a second, idle or under load: can PostgreSQL be written to? A database that stops answering
    /// or becomes read-only (a standby) makes the store NOT_SERVING within the second, and writes are
    /// then answered UNAVAILABLE at once. With several servers, the store then looks for the one that
    /// takes writes (``locatePrimary()``) and writes there from then on (a promoted standby, after a
    /// failover). While it is NOT_SERVING the schema and the role's privileges are checked again
    /// (``PostgresSchema/check(_:logger:)``, the catalog only: no DDL).
    /// Returns the schema's problem when PostgreSQL answered but its schema cannot be used.
    @discardableResult
    func probe() async -> PostgresSchema.Problem? {
        do {
            let current = self.primary.load(ordering: .relaxed)
            // Not serving with several servers: the one written to may be gone, and asking it alone first
            // would cost its connection wait; all are asked at once instead.
            if self.clients.count > 1, !self.isServing {
                self.writeTo(try await self.locatePrimary(), before: current)
            } else {
                do {
                    let synchronous = try await self.bounded(connectTimeout: Self.probeConnectTimeout) { statement in
                        try await self.requireWritable(server: current, statement)
                    }
                    self.synchronousReplication.withLock { $0[current] = synchronous }
                } catch where self.clients.count > 1 {
                    self.writeTo(try await self.locatePrimary(), before: current)
                }
            }
            if !self.isServing || !self.schemaReady.load(ordering: .relaxed) {
                try await self.bounded { statement in try await self.checkSchema(statement, server: self.primary.load(ordering: .relaxed)) }
            }
            self.writer.markHealthy()
            await self.catchUpCommittedEvents()
        } catch let problem as PostgresSchema.Problem {
            self.schemaReady.store(false, ordering: .relaxed)
            self.writer.markUnhealthy(problem.description)
            return problem
        } catch let problem as NotWritable {
            self.writer.markUnhealthy(problem.description)
        } catch is WorkCancelled {
            // The store is stopping: what the probe would have found does not matter any more.
        } catch {
            self.writer.markUnhealthy("PostgreSQL (\(self.configuration.description)) cannot be reached: \(String(reflecting: error))")
        }
        return nil
    }

    /// Advances ``committedEvents`` to the newest event in `feedback_events`, whoever committed it (the
    /// other hosts' feedbackd): a notification missed, or never sent, delays a reader by a second at most.
    /// Only while a live reader watches (nobody else waits on it: no query, no connection taken from the
    /// writes, otherwise); skipped while the role cannot read the feed; a failure is left to the next second.
    func catchUpCommittedEvents() async {
        guard self.committedEvents.wantsEvents, self.feedUnreadable.withLock({ $0 }) == nil else { return }
        do {
            let newest = try await self.bounded(connectTimeout: Self.probeConnectTimeout) { statement in
                try await self.client.withConnection { connection in
                    guard statement.starts() else { throw WorkGivenUp() }
                    var newest: Int64 = 0
                    for try await id in try await connection.query("SELECT coalesce(max(id), 0) FROM feedback_events", logger: self.logger)
                        .decode(Int64.self)
                    {
                        newest = id
                    }
                    return newest
                }
            }
            self.committedEvents.advance(to: newest)
        } catch {
            self.logger.debug("feedback.store_catch_up_failed", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    /// Writes go to `located` (a server and whether its commits wait for a synchronous standby) from now
    /// on; the batches still on `before` are abandoned (``AbandonSignal``).
    func writeTo(_ located: (server: Int, synchronous: Bool), before current: Int) {
        let found = located.server
        self.synchronousReplication.withLock { $0[found] = located.synchronous }
        guard found != current else { return }
        self.schemaReady.store(false, ordering: .relaxed)
        let stale = self.writesOn.withLock { writes in
            self.primary.store(found, ordering: .relaxed)
            return writes.signals.values.filter { $0.server != found }.map(\.signal)
        }
        for signal in stale { signal.fire() }
        self.logger.notice(
            "feedback.store_primary",
            metadata: ["db.server": "\(self.configuration.servers[found].description)", "db.server.before": "\(self.configuration.servers[current].description)"]
        )
    }

    /// How long the probe waits for a connection to the server it asks: a pool hands an idle one at once,
    /// and a server that is gone must not keep the store SERVING (or hold the search for the primary)
    /// for a whole connect timeout.
    static let probeConnectTimeout: Duration = .seconds(1)

    /// The server that takes writes, and whether its commits wait for a synchronous standby: every server
    /// is asked at once, each for at most a second to hand a connection (a server that is gone must not
    /// hold the search), and the first to answer that it takes writes is taken. (Two servers taking
    /// writes at once is a split brain that fencing, not feedbackd, must prevent.)
    /// - Throws: ``NotWritable`` saying what each server answered.
    func locatePrimary() async throws -> (server: Int, synchronous: Bool) {
        let connectTimeout = min(self.configuration.options.connectTimeout, Self.probeConnectTimeout)
        return try await withThrowingTaskGroup(of: (Int, Result<Bool, any Error>).self) { group in
            for index in self.clients.indices {
                group.addTask {
                    do {
                        return (index, .success(try await self.bounded(connectTimeout: connectTimeout) { statement in try await self.requireWritable(server: index, statement) }))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var answers: [Int: String] = [:]
            for try await (index, result) in group {
                switch result {
                case .success(let synchronous):
                    group.cancelAll()
                    return (index, synchronous)
                case .failure(let cancelled as WorkCancelled):
                    throw cancelled
                case .failure(let problem as NotWritable):
                    answers[index] = problem.description
                case .failure(let error):
                    answers[index] = "\(self.configuration.servers[index].description): cannot be reached (\(String(reflecting: error)))"
                }
            }
            let said = answers.sorted { $0.key < $1.key }.map(\.value).joined(separator: "; ")
            throw NotWritable(description: "no server of \(self.configuration.description) takes writes: \(said)")
        }
    }

    /// Throws ``NotWritable`` unless `server` takes writes (`transaction_read_only` off, as libpq's
    /// `target_session_attrs=read-write` checks): a standby in recovery never does. Returns whether its
    /// commits wait for a synchronous standby.
    func requireWritable(server: Int, _ statement: StatementStart) async throws -> Bool {
        try await self.clients[server].withConnection { connection in
            guard statement.starts() else { throw WorkGivenUp() }
            var readOnly = "off"
            var synchronous = true
            let rows = try await connection.query(
                """
                SELECT current_setting('transaction_read_only'),
                    current_setting('synchronous_standby_names') <> '' AND current_setting('synchronous_commit') NOT IN ('off', 'local')
                """,
                logger: self.logger
            )
            for try await (setting, waits) in rows.decode((String, Bool).self) {
                (readOnly, synchronous) = (setting, waits)
            }
            if readOnly == "on" {
                throw NotWritable(
                    description: "\(self.configuration.servers[server].description) is read-only (a standby, or default_transaction_read_only): feedbackd writes only to a primary"
                )
            }
            return synchronous
        }
    }

    /// PostgreSQL answers, but takes no writes.
    struct NotWritable: Error, CustomStringConvertible {
        var description: String
    }

    /// Checks the schema and the role's privileges on `server` (``PostgresSchema/check(_:logger:)``); logs once
    /// when the ratings feed cannot be read.
    func checkSchema(_ statement: StatementStart, server: Int) async throws {
        let checked = try await self.clients[server].withConnection { connection in
            guard statement.starts() else { throw WorkGivenUp() }
            return try await PostgresSchema.check(connection, logger: self.logger)
        }
        let changed = self.feedUnreadable.withLock { logged in
            defer { logged = checked.feedUnreadable }
            return logged != checked.feedUnreadable
        }
        if changed, let reason = checked.feedUnreadable { self.logger.warning("feedback.feed_unreadable", metadata: ["error": "\(reason)"]) }
        self.schemaReady.store(true, ordering: .relaxed)
    }
}

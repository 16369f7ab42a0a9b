import AsyncOneShot
import FeedbackDomain
import Logging
import PostgresNIO
import Synchronization

// Withdrawals of ratings whose statement runs: cancelling that statement (pg_cancel_backend).

extension PostgresFeedbackStore {
    /// What a withdrawal of a batch being written needs: an answer, or a cancel for the canceller.
    static func perform(_ withdrawal: BatchWrite.Withdrawal, _ requester: AsyncStream<CancelRequest>.Continuation) {
        switch withdrawal {
        case .none:
            break
        case .answer(let item):
            item.complete(.failure(.cancelled))
        case .cancel(let backend, let batch):
            if case .terminated = requester.yield(CancelRequest(backend: backend, batch: batch)) {
                batch.cancelFinished(delivered: true, signalled: false)  // never sent
            }
        }
    }

    /// The canceller: asks PostgreSQL to cancel the statements of ``cancelRequests`` (on another
    /// connection of the pool: `pg_cancel_backend`), each within the limits of ``bounded(_:)``, until
    /// the requests end (after the last batch).
    func cancelStatements() async {
        await withDiscardingTaskGroup { group in
            for await request in self.cancelRequests {
                group.addTask {
                    do {
                        // Only a statement waiting for a lock is cancelled (the wait the cancel is for):
                        // never one whose commit waits for a synchronous standby, which a cancel would end
                        // with the transaction committed on the primary only. Until the statement waits
                        // for a lock, or ends, the request is made again every 20 ms.
                        var signalled = false
                        repeat {
                            signalled = try await self.bounded { statement in
                                try await self.clients[request.backend.server].withConnection { connection in
                                    guard statement.starts() else { throw WorkGivenUp() }
                                    let rows = try await connection.query(
                                        """
                                        SELECT pg_cancel_backend(pid) FROM pg_stat_activity
                                        WHERE pid = \(request.backend.pid) AND wait_event_type = 'Lock'
                                        """,
                                        logger: self.logger
                                    )
                                    var sent = false
                                    for try await cancelled in rows.decode(Bool.self) { sent = sent || cancelled }
                                    return sent
                                }
                            } || signalled
                        } while await request.batch.statementStillRuns(pause: .milliseconds(20))
                        request.batch.cancelFinished(delivered: true, signalled: signalled)
                    } catch {
                        self.logger.warning("feedback.store_cancel_failed", metadata: ["error": "\(String(reflecting: error))"])
                        request.batch.cancelFinished(delivered: false, signalled: false)
                    }
                }
            }
        }
    }
}

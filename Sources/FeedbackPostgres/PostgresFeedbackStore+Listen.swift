import FeedbackDomain
import Logging
import PostgresNIO

// Commits of every feedbackd on the database, heard as they happen.

extension PostgresFeedbackStore {
    /// The channel every feedbackd's commits notify, with the batch's newest event id.
    static let commitChannel = "feedback_events"

    /// Listens on ``commitChannel`` on a connection of its own to the server written to, advancing
    /// ``committedEvents`` with each notification: another host's commit reaches this host's readers
    /// without waiting for the probe's catch-up. After a failure (PostgreSQL restarting, a failover) it
    /// listens again a second later, on the server written to then; a notification lost meanwhile is
    /// caught up by the probe (``catchUpCommittedEvents()``). Ends when its task is cancelled.
    func listenForCommits() async {
        while !Task.isCancelled {
            do {
                try await self.listenClients[self.primary.load(ordering: .relaxed)].withConnection { connection in
                    try await connection.listen(on: Self.commitChannel) { notifications in
                        for try await notification in notifications {
                            if let newest = Int64(notification.payload) { self.committedEvents.advance(to: newest) }
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                self.logger.debug("feedback.store_listen_failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}

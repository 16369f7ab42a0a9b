import Foundation
import GRDB
import Logging
import Synchronization

/// An open database and the identities of the files it was opened on.
struct OpenDatabase: Sendable {
    var queue: DatabaseQueue
    var identity: FileIdentity
    /// The `-wal` file this connection writes, which stays at the path when the database file is
    /// deleted or replaced under it.
    var walIdentity: FileIdentity?
    /// `PRAGMA synchronous` as read back from this connection.
    var synchronous: SQLiteConfiguration.Synchronous
    /// The newest audit event's id when the file was opened (0: none).
    var latestEventID: Int64

    /// Whether the files at `path` are still the ones this connection writes: the database and its WAL.
    func isCurrent(at path: String) -> Bool {
        FileIdentity(path: path) == self.identity && (self.walIdentity == nil || FileIdentity(path: path + "-wal") == self.walIdentity)
    }
}

extension OpenDatabase {
    /// Opens `configuration.path` with the store's settings and checks (or, when `creating`, creates)
    /// the schema, waiting for other processes' locks until `deadline`. Without `creating`, a missing
    /// file is an error rather than a new empty database. The connection's lock waits are `busyWait`'s.
    static func open(
        _ configuration: SQLiteConfiguration, busyWait: BusyWait, deadline: ContinuousClock.Instant, creating: Bool
    ) throws -> OpenDatabase {
        try busyWait.waiting(until: deadline) {
            try self.open(configuration, busyWait: busyWait, creating: creating)
        }
    }

    private static func open(_ configuration: SQLiteConfiguration, busyWait: BusyWait, creating: Bool) throws -> OpenDatabase {
        if !creating, FileIdentity(path: configuration.path) == nil {
            throw StoreFailure.fileMissing(configuration.path)
        }
        var grdb = Configuration()
        grdb.busyMode = .callback { tries in busyWait.shouldRetry(tries: tries) }
        grdb.label = "feedback-store"
        // WAL and `synchronous` set here rather than with GRDB's `journalMode = .wal`, which sets
        // `synchronous = NORMAL` after this runs: FULL must hold on the connection that commits.
        let synchronous = configuration.synchronous.rawValue
        grdb.prepareDatabase { db in
            guard try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") == "wal" else {
                throw StoreFailure.walUnavailable(configuration.path)
            }
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        let before = FileIdentity(path: configuration.path)
        let queue = try DatabaseQueue(path: configuration.path, configuration: grdb)
        do {
            let (inEffect, latestEventID) = try queue.write { db -> (Int, Int64) in
                try SQLiteSchema.prepare(db, createInteractions: creating)
                return (try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1, try Int64.fetchOne(db, sql: "SELECT max(id) FROM feedback_events") ?? 0)
            }
            // The file opened is the one at the path: it did not change while it was being opened.
            guard let identity = FileIdentity(path: configuration.path), before == nil || before == identity else {
                throw StoreFailure.fileChanged(configuration.path)
            }
            guard let mode = SQLiteConfiguration.Synchronous(level: inEffect), mode == configuration.synchronous else {
                throw StoreFailure.synchronousNotApplied(inEffect)
            }
            return OpenDatabase(
                queue: queue, identity: identity, walIdentity: FileIdentity(path: configuration.path + "-wal"), synchronous: mode,
                latestEventID: latestEventID
            )
        } catch {
            try? queue.close()
            throw error
        }
    }

    /// When the database file at `path` was deleted or replaced, renames this connection's WAL
    /// `<path>-wal.orphaned-<inode>` while the connection still holds it open (so the name is surely that
    /// file's): SQLite leaves a moved database's WAL at the path and would replay its pages into whatever
    /// file is put there. The shared-memory index is left for SQLite to rebuild. Call before closing.
    func setAsideOrphanedWAL(path: String, logger: Logger) {
        guard FileIdentity(path: path) != self.identity, let wal = self.walIdentity, FileIdentity(path: path + "-wal") == wal else {
            return
        }
        let aside = "\(path)-wal.orphaned-\(wal.inode)"
        if rename(path + "-wal", aside) == 0 {
            logger.warning("feedback.store_wal_set_aside", metadata: ["db.path": "\(path)", "wal.path": "\(aside)"])
        } else {
            logger.error("feedback.store_wal_set_aside_failed", metadata: ["db.path": "\(path)", "errno": "\(errno)"])
        }
    }
}

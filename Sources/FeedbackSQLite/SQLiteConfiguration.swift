/// How ``SQLiteFeedbackStore`` opens its database.
public struct SQLiteConfiguration: Sendable {
    /// The database file: the chat backend's, which must exist (unless ``createIfMissing``).
    public var path: String
    /// Whether a missing file is created with the whole demo schema (`interactions` and
    /// `feedback_events`): for demos and tests. Otherwise a missing file is an error, never a new empty
    /// database that would answer every rating NOT_FOUND.
    public var createIfMissing = false
    /// How long a write may wait, from its arrival, for a lock another process holds before it fails as
    /// unavailable. A caller's deadline should be longer, so that this answer arrives first.
    public var busyTimeout: Duration = .seconds(5)
    /// `PRAGMA synchronous`: `FULL` (the default) fsyncs every commit, so an acknowledged rating
    /// survives a power cut; `NORMAL` survives a crash of feedbackd but not of the machine.
    public var synchronous: Synchronous = .full
    /// Most ratings written in one transaction (one fsync).
    public var maxBatchSize = 512

    public enum Synchronous: String, Sendable, CaseIterable {
        case full = "FULL"
        case normal = "NORMAL"

        /// The level `PRAGMA synchronous` reads back as (NORMAL 1, FULL 2); nil for the others.
        init?(level: Int) {
            switch level {
            case 1: self = .normal
            case 2: self = .full
            default: return nil
            }
        }
    }

    public init(path: String, createIfMissing: Bool = false) {
        self.path = path
        self.createIfMissing = createIfMissing
    }
}

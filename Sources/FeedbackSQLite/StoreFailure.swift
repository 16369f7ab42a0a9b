/// Why the store cannot write, beyond SQLite's own errors. For logs and health only: callers see
/// "Feedback store unavailable."
enum StoreFailure: Error, CustomStringConvertible {
    case fileChanged(String)
    case fileMissing(String)
    case diskFull(UInt64)
    case walUnavailable(String)
    case synchronousNotApplied(Int)

    var description: String {
        switch self {
        case .fileChanged(let path): "the database file at \(path) was deleted or replaced while open"
        case .fileMissing(let path): "there is no database file at \(path) (feedbackd writes to the chat backend's database and never creates one)"
        case .diskFull(let free): "the file system holding the database has \(free) bytes free"
        case .walUnavailable(let path): "\(path) cannot be put in WAL mode"
        case .synchronousNotApplied(let level): "PRAGMA synchronous is \(level), not the level configured"
        }
    }
}

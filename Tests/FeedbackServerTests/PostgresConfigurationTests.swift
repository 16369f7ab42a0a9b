import FeedbackAuth
import FeedbackPostgres
import Foundation
import Testing

/// What --postgres-url refuses beyond the basics (PostgresStoreTests): whatever could smuggle a startup
/// parameter in, or would be ignored in silence.
@Suite("PostgreSQL URL: refused rather than misread")
struct PostgresConfigurationTests {
    /// Before: `%00` ended the database name in the startup message and what followed was read as more
    /// parameters (ratings acknowledged into another schema); unknown parameters were ignored; sslmode was
    /// not checked with ?host=.
    @Test("a control character anywhere, an unknown or repeated parameter, a bad sslmode on a socket: refused, naming why", arguments: [
        ("postgres://feedback@db/chat%00options%00-csearch_path=evil", "database holds a control character"),
        ("postgres://feed%00back@db/chat", "user holds a control character"),
        ("postgres://feedback@db/chat?host=/run/pg%0A", "host holds a control character"),
        ("postgres://feedback@db/chat?options=-csearch_path%3Devil", "parameter \"options\" is not supported"),
        ("postgres://feedback@db/chat?sslmode=require&sslmode=disable", "gives sslmode twice"),
        ("postgres://feedback@localhost/chat?host=/run/postgresql&sslmode=bogus", "sslmode=bogus"),
        ("postgres://feedback@db/chat?host=db2", "must be a socket directory"),
    ])
    func refused(url: String, reason: String) {
        #expect {
            try PostgresConfiguration(url: url, password: nil)
        } throws: { error in
            String(describing: error).contains(reason)
        }
    }

    @Test("what the README documents is still accepted")
    func accepted() throws {
        _ = try PostgresConfiguration(url: "postgres://feedback@db.internal:5432/chat?sslmode=require", password: nil)
        _ = try PostgresConfiguration(url: "postgresql://feedback@localhost/chat?host=/run/postgresql&sslmode=disable", password: nil)
        _ = try PostgresConfiguration(url: "postgres://fb%20user@db/my%20chat", password: nil)
    }

    @Test("a secret file every user may read is told apart from one only its owner and group may")
    func readableByOthers() throws {
        try withTemporaryDirectorySync { directory in
            let path = directory + "/secret"
            try Data("pw\n".utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o644)
            #expect(SecretFile.isReadableByOthers(path))
            chmod(path, 0o640)
            #expect(!SecretFile.isReadableByOthers(path))
        }
    }
}

import FeedbackAuth
import FeedbackPostgres
import FeedbackTestSupport
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

    @Test("several servers, as libpq takes them: in the URL's order, each with its port", arguments: [
        ("postgres://feedback@h1:5432,h2:5433/chat", ["h1:5432", "h2:5433"]),
        ("postgres://feedback@h1,h2/chat?target_session_attrs=read-write", ["h1:5432", "h2:5432"]),
        ("postgres://feedback@h1,h2/chat?port=6432", ["h1:6432", "h2:6432"]),
        ("postgres://feedback@h1,h2/chat?port=6432,6433", ["h1:6432", "h2:6433"]),
        ("postgres://feedback@[::1]:5432,[fd00::2]/chat?target_session_attrs=primary", ["[::1]:5432", "[fd00::2]:5432"]),
        ("postgres://feedback@localhost:5433/chat?host=/run/a,/run/b", ["/run/a/.s.PGSQL.5433", "/run/b/.s.PGSQL.5433"]),
        ("postgres://feedback@localhost/chat?host=/run/a,/run/b&port=5433,5434", ["/run/a/.s.PGSQL.5433", "/run/b/.s.PGSQL.5434"]),
        // Before: the port of an empty host was dropped (5432 used).
        ("postgres://feedback@:5433/chat?host=/run/a", ["/run/a/.s.PGSQL.5433"]),
    ])
    func severalServers(url: String, servers: [String]) throws {
        let configuration = try PostgresConfiguration(url: url, password: nil)
        #expect(configuration.servers.map(\.description) == servers)
        #expect(configuration.description == "feedback@\(servers.joined(separator: ","))/chat")
    }

    @Test("a list of servers that cannot be read one way is refused, naming why", arguments: [
        ("postgres://feedback@h1,h2/chat?target_session_attrs=standby", "target_session_attrs=standby"),
        ("postgres://feedback@h1,h2/chat?port=1,2,3", "gives 3 ports for 2 hosts"),
        ("postgres://feedback@h1:5432,h2/chat?port=5433", "ports both after the hosts and in port="),
        ("postgres://feedback@h1,h2/chat?host=/run/a", "hosts both before the database and in host="),
        ("postgres://feedback@h1:99999,h2/chat", "is not a port number"),
        ("postgres://feedback@h1,,h2/chat", "names no host"),
        ("postgres://feedback@h1/chat?port=http", "is not a list of port numbers"),
        // Before: the decoded host was pasted back, and the URL then read /run/pg as its host and run/pg/chat as its database.
        ("postgres://feedback@%2Frun%2Fpg/chat", "is a path: give a socket directory as ?host=/run/pg"),
    ])
    func severalServersRefused(url: String, reason: String) {
        #expect {
            try PostgresConfiguration(url: url, password: nil)
        } throws: { error in
            String(describing: error).contains(reason)
        }
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

import Foundation
import NIOSSL
import PostgresNIO

/// Where the PostgreSQL store connects, read from a libpq-style URL:
/// `postgres://USER@HOST:PORT/DATABASE?sslmode=…&sslrootcert=FILE` or `…?host=/socket/dir`.
///
/// The password never comes from the URL (it would be visible in the process list): it comes from a
/// file or `PGPASSWORD`. `sslmode` as in libpq: `disable`; `allow` and `prefer` (TLS when the server
/// offers it, the default for TCP; the certificate is not checked); `require` (TLS or fail; the
/// certificate is not checked, unless `sslrootcert` names a CA file: then as `verify-ca`);
/// `verify-ca` (the certificate must chain to `sslrootcert`, or to the system's roots without it);
/// `verify-full` (that, and the certificate must name the host). A Unix socket never uses TLS.
public struct PostgresConfiguration: Sendable {
    public var client: PostgresClient.Configuration
    /// A readable description without secrets, for logs: `user@host:port/db`.
    public var description: String
    /// Submissions committed in one transaction at most.
    public var maxBatchSize = 512
    /// Batches written at once, each in its own transaction on its own connection: while one commits
    /// (waits for its WAL flush), the next is already being written.
    public var batchesInFlight = 2
    /// Every statement is bounded by this (`statement_timeout`): a lock or a stuck server fails the
    /// batch as UNAVAILABLE instead of holding it.
    public var statementTimeout: Duration = .seconds(5)
    /// How old an audit event must be before the ratings feed lists it: by default twice the statement
    /// timeout (which bounds every transaction), and a second for the commit itself. Every feedbackd
    /// writing to the database should have the same (or a shorter) statement timeout.
    public var eventSettleTime: Duration {
        get { self.settleTimeSet ?? self.statementTimeout * 2 + .seconds(1) }
        set { self.settleTimeSet = newValue }
    }
    private var settleTimeSet: Duration?

    /// A URL the store cannot use: the message says why.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public init(url: String, password: String?) throws(Invalid) {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw Invalid(description: "the PostgreSQL URL must look like postgres://USER@HOST:PORT/DATABASE")
        }
        guard components.password == nil else {
            throw Invalid(description: "the PostgreSQL URL must not hold a password: use --postgres-password-file or PGPASSWORD")
        }
        guard let user = components.user.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw Invalid(description: "the PostgreSQL URL names no user (postgres://USER@HOST/DATABASE)")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()).removingPercentEncoding ?? "" : ""
        guard !database.isEmpty else { throw Invalid(description: "the PostgreSQL URL names no database (postgres://USER@HOST/DATABASE)") }
        let items = components.queryItems ?? []
        var query: [String: String] = [:]
        for item in items {
            guard Self.parameters.contains(item.name) else {
                throw Invalid(
                    description: "the PostgreSQL URL parameter \(item.name.debugDescription) is not supported (only \(Self.parameters.sorted().joined(separator: ", ")))"
                )
            }
            guard query.updateValue(item.value ?? "", forKey: item.name) == nil else {
                throw Invalid(description: "the PostgreSQL URL gives \(item.name) twice")
            }
        }
        // A NUL (or another control character) would end the value early in the startup message, and
        // what follows it would be read as further parameters: `%00options%00-csearch_path=…`.
        for (name, value) in [("user", user), ("database", database), ("host", components.host ?? "")] + query.map({ ($0.key, $0.value) })
        where value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw Invalid(description: "the PostgreSQL URL's \(name) holds a control character (such as %00)")
        }
        let port = components.port ?? 5432
        // sslmode is checked whether or not it applies (a Unix socket never uses TLS), as libpq does.
        let tls = try Self.tls(mode: query["sslmode"] ?? "prefer", rootCertificate: query["sslrootcert"])
        if let host = query["host"], !host.hasPrefix("/") {
            throw Invalid(description: "host=\(host) must be a socket directory (an absolute path); give a TCP host as postgres://USER@HOST:PORT/DATABASE")
        }
        let socketDirectory = query["host"]
        if let socketDirectory {
            self.client = PostgresClient.Configuration(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database
            )
            self.description = "\(user)@\(socketDirectory)/.s.PGSQL.\(port)/\(database)"
        } else {
            guard let host = components.host, !host.isEmpty else {
                throw Invalid(description: "the PostgreSQL URL names no host (or ?host=/socket/directory)")
            }
            self.client = PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
            self.description = "\(user)@\(host):\(port)/\(database)"
        }
        self.client.options.additionalStartupParameters = [("application_name", "feedbackd")]
        self.client.options.connectTimeout = .seconds(5)
    }

    /// The URL parameters understood; any other is refused rather than ignored.
    static let parameters: Set<String> = ["sslmode", "sslrootcert", "host"]

    /// The TLS of libpq's `sslmode` (and `sslrootcert`).
    private static func tls(mode: String, rootCertificate: String?) throws(Invalid) -> PostgresClient.Configuration.TLS {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let rootCertificate, rootCertificate != "system" {
            guard FileManager.default.isReadableFile(atPath: rootCertificate) else {
                throw Invalid(description: "sslrootcert=\(rootCertificate) is not a readable file")
            }
            configuration.trustRoots = .file(rootCertificate)
        }
        switch mode {
        case "disable":
            return .disable
        case "allow", "prefer":
            configuration.certificateVerification = .none
            return .prefer(configuration)
        case "require":
            configuration.certificateVerification = rootCertificate == nil ? .none : .noHostnameVerification
            return .require(configuration)
        case "verify-ca":
            configuration.certificateVerification = .noHostnameVerification
            return .require(configuration)
        case "verify-full":
            configuration.certificateVerification = .fullVerification
            return .require(configuration)
        default:
            throw Invalid(description: "sslmode=\(mode) is not one of disable, allow, prefer, require, verify-ca, verify-full")
        }
    }
}

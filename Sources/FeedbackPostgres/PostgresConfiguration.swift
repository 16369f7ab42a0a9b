import Foundation
import NIOSSL
import PostgresNIO

/// Where the PostgreSQL store connects, read from a libpq-style URL:
/// `postgres://USER@HOST:PORT/DATABASE?sslmode=…&sslrootcert=FILE` or `…?host=/socket/dir`.
///
/// Several servers, as libpq takes them, for a primary with standbys: `postgres://USER@H1:5432,H2:5433/DB`,
/// or socket directories `?host=/dir1,/dir2` (with `&port=5432,5433`, or one port for all). The store
/// writes only to a server that takes writes (`transaction_read_only` off: the primary), trying them in
/// the order given, and looks again when the one it writes to stops answering or turns read-only (a
/// failover). `target_session_attrs` may say `read-write` or `primary`, which is what the store does
/// anyway; anything else is refused.
///
/// The password never comes from the URL (it would be visible in the process list): it comes from a
/// file or `PGPASSWORD`. `sslmode` as in libpq: `disable`; `allow` and `prefer` (TLS when the server
/// offers it, the default for TCP; the certificate is not checked); `require` (TLS or fail; the
/// certificate is not checked, unless `sslrootcert` names a CA file: then as `verify-ca`);
/// `verify-ca` (the certificate must chain to `sslrootcert`, or to the system's roots without it);
/// `verify-full` (that, and the certificate must name the host). A Unix socket never uses TLS.
public struct PostgresConfiguration: Sendable {
    /// One server of the URL.
    public struct Server: Sendable {
        /// Where it is and how to reach it (its options are ``PostgresConfiguration/options``).
        var target: PostgresClient.Configuration
        /// `host:port` or the socket's path, for logs.
        public var description: String
    }

    /// The servers, in the URL's order: the store writes to the first that takes writes.
    public var servers: [Server]
    /// The connection pool's options, for every server (connect timeout, connections at most, …).
    public var options: PostgresClient.Configuration.Options
    /// A readable description without secrets, for logs: `user@host:port/db` (`user@h1:5432,h2:5433/db`).
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

    /// The pool's configuration for server `index`.
    func client(_ index: Int) -> PostgresClient.Configuration {
        var client = self.servers[index].target
        client.options = self.options
        return client
    }

    /// A URL the store cannot use: the message says why.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public init(url: String, password: String?) throws(Invalid) {
        // libpq's host list (`h1:5432,h2:5433`) is not a URL authority: it is taken out first, and the rest
        // read as a URL with one host.
        let (single, authorityHosts) = try Self.splitHosts(url)
        guard let components = URLComponents(string: single), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
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
        for (name, value) in [("user", user), ("database", database), ("host", authorityHosts.map(\.host).joined(separator: ","))] + query.map({ ($0.key, $0.value) })
        where value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw Invalid(description: "the PostgreSQL URL's \(name) holds a control character (such as %00)")
        }
        if let attributes = query["target_session_attrs"], !["read-write", "primary"].contains(attributes) {
            throw Invalid(
                description: "target_session_attrs=\(attributes): feedbackd writes, so it always looks for the server that takes writes (read-write, primary)"
            )
        }
        // sslmode is checked whether or not it applies (a Unix socket never uses TLS), as libpq does.
        let tls = try Self.tls(mode: query["sslmode"] ?? "prefer", rootCertificate: query["sslrootcert"])
        let ports = try Self.ports(query["port"])
        var servers: [Server] = []
        if let directories = query["host"] {
            let list = directories.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            for directory in list where !directory.hasPrefix("/") {
                throw Invalid(description: "host=\(directory) must be a socket directory (an absolute path); give a TCP host as postgres://USER@HOST:PORT/DATABASE")
            }
            guard authorityHosts.count <= 1 else {
                throw Invalid(description: "the PostgreSQL URL gives hosts both before the database and in host=: give them in one place")
            }
            let defaultPort = authorityHosts.first?.port ?? 5432
            guard ports.isEmpty || ports.count == 1 || ports.count == list.count else {
                throw Invalid(description: "port= gives \(ports.count) ports for \(list.count) hosts: give one port, or one per host")
            }
            for (index, directory) in list.enumerated() {
                let port = ports.isEmpty ? defaultPort : ports[ports.count == 1 ? 0 : index]
                let path = "\(directory)/.s.PGSQL.\(port)"
                servers.append(
                    Server(target: PostgresClient.Configuration(unixSocketPath: path, username: user, password: password, database: database), description: path)
                )
            }
        } else {
            guard !authorityHosts.isEmpty, authorityHosts.allSatisfy({ !$0.host.isEmpty }) else {
                throw Invalid(description: "the PostgreSQL URL names no host (or ?host=/socket/directory)")
            }
            guard ports.isEmpty || authorityHosts.allSatisfy({ $0.port == nil }) else {
                throw Invalid(description: "the PostgreSQL URL gives ports both after the hosts and in port=: give them in one place")
            }
            guard ports.isEmpty || ports.count == 1 || ports.count == authorityHosts.count else {
                throw Invalid(description: "port= gives \(ports.count) ports for \(authorityHosts.count) hosts: give one port, or one per host")
            }
            for (index, entry) in authorityHosts.enumerated() {
                let port = entry.port ?? (ports.isEmpty ? 5432 : ports[ports.count == 1 ? 0 : index])
                servers.append(
                    Server(
                        target: PostgresClient.Configuration(host: entry.host, port: port, username: user, password: password, database: database, tls: tls),
                        description: entry.host.contains(":") ? "[\(entry.host)]:\(port)" : "\(entry.host):\(port)"
                    )
                )
            }
        }
        self.servers = servers
        self.description = "\(user)@\(servers.map(\.description).joined(separator: ","))/\(database)"
        var options = PostgresClient.Configuration.Options()
        options.additionalStartupParameters = [("application_name", "feedbackd")]
        options.connectTimeout = .seconds(5)
        self.options = options
    }

    /// The URL with its host list replaced by its first host (for `URLComponents`), and the list.
    private static func splitHosts(_ url: String) throws(Invalid) -> (String, [(host: String, port: Int?)]) {
        guard let schemeEnd = url.range(of: "://") else { return (url, []) }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { "/?#".contains($0) }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let at = authority.lastIndex(of: "@")
        let userinfo = at.map { authority[...$0] } ?? ""
        let hostList = at.map { authority[authority.index(after: $0)...] } ?? authority
        guard !hostList.isEmpty else { return (url, []) }
        var hosts: [(host: String, port: Int?)] = []
        for entry in hostList.split(separator: ",", omittingEmptySubsequences: false) {
            var host = Substring(entry)
            var port: Substring?
            if host.hasPrefix("[") {
                guard let close = host.firstIndex(of: "]") else { throw Invalid(description: "the PostgreSQL URL's host \(entry) has no closing ]") }
                let after = host[host.index(after: close)...]
                host = host[host.index(after: host.startIndex)..<close]
                if after.hasPrefix(":") { port = after.dropFirst() } else if !after.isEmpty { throw Invalid(description: "the PostgreSQL URL's host \(entry) is not [address]:port") }
            } else if let colon = host.lastIndex(of: ":") {
                port = host[host.index(after: colon)...]
                host = host[..<colon]
            }
            var number: Int?
            if let port {
                guard let value = Int(port), (1...65535).contains(value) else { throw Invalid(description: "the PostgreSQL URL's port \(port.debugDescription) is not a port number") }
                number = value
            }
            let decoded = String(host).removingPercentEncoding ?? String(host)
            if decoded.contains("/") {
                throw Invalid(description: "the PostgreSQL URL's host \(decoded) is a path: give a socket directory as ?host=\(decoded)")
            }
            hosts.append((decoded, number))
        }
        // Only the user, the database and the parameters are read from the URL with one host: the host
        // itself is a fixed placeholder (a decoded host pasted back could change how the URL reads).
        let single = url[..<schemeEnd.upperBound] + userinfo + "localhost" + rest[authorityEnd...]
        return (String(single), hosts)
    }

    /// `port=5432` or `port=5432,5433`.
    private static func ports(_ value: String?) throws(Invalid) -> [Int] {
        guard let value else { return [] }
        var ports: [Int] = []
        for entry in value.split(separator: ",", omittingEmptySubsequences: false) {
            guard let port = Int(entry), (1...65535).contains(port) else { throw Invalid(description: "port=\(value) is not a list of port numbers") }
            ports.append(port)
        }
        return ports
    }

    /// The URL parameters understood; any other is refused rather than ignored.
    static let parameters: Set<String> = ["sslmode", "sslrootcert", "host", "port", "target_session_attrs"]

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

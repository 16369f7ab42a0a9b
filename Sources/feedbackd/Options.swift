import ArgumentParser
import FeedbackAuth
import FeedbackEnvironment
import FeedbackPostgres
import FeedbackSQLite
import FeedbackMetrics
import FeedbackServer
import Foundation
import Logging
import RPCCore
import RPCUnixTransport

struct SocketOptions: ParsableArguments {
    @Option(help: "Unix socket to listen on (at most 107 bytes; or set FEEDBACK_SOCKET). A live server on it makes feedbackd refuse to start; a stale file is replaced.")
    var socket: String = FeedbackEnvironment.socketPath

    @Option(help: "Permission bits of the socket file, in octal. 0660: owner and group may connect.")
    var socketMode: String = "0660"

    @Option(help: ArgumentHelp("Only peers with this uid may connect (repeatable; with --allow-gid, either matches).", valueName: "uid"))
    var allowUID: [UInt32] = []

    @Option(help: ArgumentHelp("Only peers with this gid may connect (repeatable).", valueName: "gid"))
    var allowGID: [UInt32] = []
}

struct StorageOptions: ParsableArguments {
    @Option(help: "SQLite database shared with the chat backend (the default store: feedback.db). It must exist and have interactions(id, feedback); feedback_events is created when missing.")
    var db: String?

    @Flag(help: "Create the SQLite database with the demo schema (interactions, feedback_events) when the file is missing: for trying feedbackd, never for production.")
    var createDemoDatabase = false

    @Option(help: ArgumentHelp("PostgreSQL instead of SQLite, for more than one host: postgres://USER@HOST:PORT/DATABASE, with ?sslmode=disable|allow|prefer|require|verify-ca|verify-full (as libpq; prefer by default) and &sslrootcert=CA-FILE, or ?host=/socket/directory. interactions(id, feedback) must exist, and feedback_events (created once by `feedbackd migrate`); feedbackd never changes the schema.", valueName: "url"))
    var postgresUrl: String?

    @Option(help: ArgumentHelp("File holding the PostgreSQL password (a trailing newline is ignored). Or set PGPASSWORD. Never in the URL.", valueName: "path"))
    var postgresPasswordFile: String?

    @Option(help: "How long a rating may wait, from its arrival, for a lock another process holds before it fails as UNAVAILABLE (with PostgreSQL: every statement's statement_timeout). Keep callers' deadlines longer (the gateway's --timeout-ms defaults to 6000).")
    var busyTimeoutMs: Int = 5000

    @Option(help: "PRAGMA synchronous: FULL (fsync each commit; survives power loss) or NORMAL.")
    var synchronous: SQLiteConfiguration.Synchronous = .full

    /// The store chosen: exactly one.
    enum Store {
        case sqlite(SQLiteConfiguration)
        case postgres(PostgresConfiguration)
    }

    func validate() throws {
        if self.db != nil, self.postgresUrl != nil {
            throw ValidationError("give either --db (SQLite) or --postgres-url (PostgreSQL), not both")
        }
        if self.createDemoDatabase, self.postgresUrl != nil {
            throw ValidationError("--create-demo-database is for SQLite: feedbackd never creates PostgreSQL's interactions")
        }
        if self.postgresPasswordFile != nil, self.postgresUrl == nil {
            throw ValidationError("--postgres-password-file needs --postgres-url")
        }
        if let url = self.postgresUrl { try Self.validate(postgresURL: url) }
    }

    /// A URL that cannot be used is a usage error (exit 64): systemd does not retry it.
    static func validate(postgresURL url: String) throws {
        do {
            _ = try PostgresConfiguration(url: url, password: nil)
        } catch {
            throw ValidationError("--postgres-url: \(error)")
        }
    }

    /// - Parameter warn: told of what is accepted but unsafe (a password file others may read).
    func store(warn: (String) -> Void = { _ in }) throws -> Store {
        guard let url = self.postgresUrl else { return .sqlite(self.sqliteConfiguration()) }
        var configuration = try Self.postgresConfiguration(url: url, passwordFile: self.postgresPasswordFile, warn: warn)
        configuration.statementTimeout = .milliseconds(self.busyTimeoutMs)
        return .postgres(configuration)
    }

    /// The PostgreSQL configuration of `url`, with the password from `passwordFile` or PGPASSWORD.
    static func postgresConfiguration(url: String, passwordFile: String?, warn: (String) -> Void) throws -> PostgresConfiguration {
        var password = ProcessInfo.processInfo.environment["PGPASSWORD"]
        if let file = passwordFile {
            if SecretFile.isReadableByOthers(file) {
                warn("the PostgreSQL password file \(file) is readable by every user: chmod o-r it")
            }
            guard let contents = FileManager.default.contents(atPath: file), let text = String(data: contents, encoding: .utf8) else {
                throw ConfigurationError("cannot read the PostgreSQL password file \(file)")
            }
            password = text.hasSuffix("\n") ? String(text.dropLast()) : text
        }
        do {
            return try PostgresConfiguration(url: url, password: password)
        } catch {
            throw ConfigurationError("--postgres-url: \(error)")
        }
    }

    private func sqliteConfiguration() -> SQLiteConfiguration {
        var configuration = SQLiteConfiguration(path: self.db ?? "feedback.db", createIfMissing: self.createDemoDatabase)
        configuration.busyTimeout = .milliseconds(self.busyTimeoutMs)
        configuration.synchronous = self.synchronous
        return configuration
    }
}

extension SQLiteConfiguration.Synchronous: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}

struct AuthOptions: ParsableArguments {
    @Option(help: ArgumentHelp("File holding the HS256 secret: its bytes, less the CRs and LFs at its end (at least 32 bytes). Or set FEEDBACK_JWT_SECRET.", valueName: "path"))
    var jwtSecretFile: String?

    @Option(help: ArgumentHelp("PEM public key (RSA → RS256, P-256 → ES256, Ed25519 → EdDSA); repeatable.", valueName: "path"))
    var jwtPublicKey: [String] = []

    @Option(help: ArgumentHelp("JWKS file with the public keys.", valueName: "path"))
    var jwtJwks: String?

    @Option(help: "Required iss claim.")
    var jwtIssuer: String?

    @Option(help: "Required aud claim.")
    var jwtAudience: String?

    @Option(help: "Scope a token must carry (scope or scp claim) to submit ratings; without it: PERMISSION_DENIED.")
    var jwtRequiredScope: String?

    @Option(help: "Scope a token must carry to read the ratings stored (ListFeedbackEvents, feedbackctl export). An empty value lets any valid token read them.")
    var jwtReadScope: String = "feedback:read"

    @Option(help: "Clock skew tolerated on exp and nbf, in seconds.")
    var jwtLeewayS: Int = 30

    /// - Parameter warn: told of what is accepted but unsafe (a secret file others may read).
    func configuration(warn: (String) -> Void = { _ in }) throws -> TokenVerifierConfiguration {
        var configuration = TokenVerifierConfiguration(
            issuer: self.jwtIssuer, audience: self.jwtAudience, requiredScope: self.jwtRequiredScope,
            readScope: self.jwtReadScope.isEmpty ? nil : self.jwtReadScope,
            leeway: .seconds(self.jwtLeewayS)
        )
        if let path = self.jwtSecretFile {
            if SecretFile.isReadableByOthers(path) {
                warn("the JWT secret file \(path) is readable by every user: chmod o-r it")
            }
            do {
                configuration.hmacSecret = try SecretFile.read(path)
            } catch {
                throw ConfigurationError("cannot read \(path): \(error.localizedDescription)")
            }
        } else if let secret = ProcessInfo.processInfo.environment["FEEDBACK_JWT_SECRET"], !secret.isEmpty {
            configuration.hmacSecret = Array(secret.utf8)
        }
        configuration.publicKeysPEM = try self.jwtPublicKey.map(Self.read)
        configuration.jwksJSON = try self.jwtJwks.map(Self.read)
        return configuration
    }

    static func read(_ path: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError("cannot read \(path): \(error.localizedDescription)")
        }
    }
}

struct LimitOptions: ParsableArguments {
    @Option(help: "Calls run at once per connection; more get RESOURCE_EXHAUSTED.")
    var maxConcurrentCalls: Int = 100

    @Option(help: "Connections at once; more are refused (GOAWAY REFUSED).")
    var maxConnections: Int = 1024

    @Option(help: "Calls in flight on all connections together; more get RESOURCE_EXHAUSTED.")
    var maxCallsInFlight: Int = 10_000

    @Option(help: "Server-streaming calls (WatchFeedbackEvents) at once on all connections together; more get RESOURCE_EXHAUSTED.")
    var maxStreams: Int = 64

    @Option(help: "Seconds a stream waits for its reader's credit, while it has a message to send, before it ends RESOURCE_EXHAUSTED (naming where to resume).")
    var streamStallTimeoutS: Int64 = 30

    @Option(help: "Largest frame payload accepted, in bytes (16384 to 16777215). Announced in HELLO; a rating's frame is under 10 KiB.")
    var maxFrameSize: Int = 65_536

    @Option(help: "A client must send HELLO within this many milliseconds.")
    var handshakeTimeoutMs: Int64 = 5000

    @Option(help: "Close connections idle this many seconds.")
    var idleTimeoutS: Int64 = 300

    @Option(help: "Seconds a graceful shutdown (SIGTERM) may take to answer the calls received and commit; then calls still running are cut off (their connections close unanswered) and feedbackd exits. Keep it under systemd's TimeoutStopSec (45 s).")
    var shutdownTimeoutS: Int64 = 35

    mutating func validate() throws {
        guard (16_384...16_777_215).contains(self.maxFrameSize) else {
            throw ValidationError("--max-frame-size must be 16384 to 16777215")
        }
        guard self.shutdownTimeoutS > 0 else {
            throw ValidationError("--shutdown-timeout-s must be positive")
        }
        guard self.maxConcurrentCalls > 0, self.maxConnections > 0, self.maxCallsInFlight > 0, self.maxStreams > 0 else {
            throw ValidationError("--max-concurrent-calls, --max-connections, --max-calls-in-flight and --max-streams must be positive")
        }
        guard self.streamStallTimeoutS > 0 else {
            throw ValidationError("--stream-stall-timeout-s must be positive")
        }
    }
}

struct CallLogOptions: ParsableArguments {
    @Option(help: "Which calls get an rpc.call line (at info): errors (calls not answered OK; the default) or all.")
    var logCalls: ServerCallExecutor.CallLog = .errors
}

extension ServerCallExecutor.CallLog: ExpressibleByArgument {}

// End-to-end throughput: `swift build -c release --product feedback-bench && .build/release/feedback-bench`.
// Runs feedbackd's server in process on a temporary socket and database and measures, in one run:
// the limits (a raw Unix-socket ping-pong; SQLite's commit rate with synchronous=FULL), then RPC health
// checks and SubmitFeedback at several concurrencies, through the Swift client. Results go in BENCHMARKS.md.
import FeedbackAuth
import FeedbackClient
import FeedbackDomain
import FeedbackSQLite
import FeedbackServer
import Foundation
import GRDB
import Logging
import RPCCore
import RPCUnixTransport
import ServiceLifecycle

let seconds = Double(CommandLine.arguments.dropFirst().first ?? "") ?? 3
let directory = NSTemporaryDirectory() + "feedback-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }

/// Writes a line at once (stdout is block-buffered into a pipe).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func report(_ name: String, operations: Int, elapsed: Duration, unit: String = "calls/s") {
    let time = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    say(name.padding(toLength: 74, withPad: " ", startingAt: 0) + String(format: "%9.0f %@  (%d in %.2f s)", Double(operations) / time, unit, operations, time))
}

/// Runs `body` on `concurrency` tasks until `seconds` pass; returns how many calls completed.
func load(concurrency: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws -> (Int, Duration) {
    let start = ContinuousClock.now
    let end = start + .milliseconds(Int64(seconds * 1000))
    let total = try await withThrowingTaskGroup(of: Int.self) { group in
        for worker in 0..<concurrency {
            group.addTask {
                var count = 0
                while ContinuousClock.now < end {
                    try await body(worker * 1_000_000 + count)
                    count += 1
                }
                return count
            }
        }
        return try await group.reduce(0, +)
    }
    return (total, ContinuousClock.now - start)
}

// MARK: limit 1: a raw Unix-socket ping-pong (blocking sockets, one byte each way, two threads)

func rawPingPong() throws -> (Int, Duration) {
    var fds: [Int32] = [0, 0]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw POSIXError(.EIO) }
    let peer = fds[1]
    let echo = Thread {
        var byte: UInt8 = 0
        while read(peer, &byte, 1) == 1 { _ = write(peer, &byte, 1) }
    }
    echo.start()
    var byte: UInt8 = 1
    var count = 0
    let start = ContinuousClock.now
    let end = start + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < end {
        _ = write(fds[0], &byte, 1)
        _ = read(fds[0], &byte, 1)
        count += 1
    }
    let elapsed = ContinuousClock.now - start
    close(fds[0])
    close(fds[1])
    return (count, elapsed)
}

// MARK: limit 2: SQLite commits, one UPDATE per transaction, WAL + synchronous FULL

func sqliteCommits(path: String) throws -> (Int, Duration) {
    var configuration = Configuration()
    configuration.journalMode = .wal
    configuration.prepareDatabase { try $0.execute(sql: "PRAGMA synchronous = FULL") }
    let queue = try DatabaseQueue(path: path, configuration: configuration)
    try queue.write { db in
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS interactions (id INTEGER PRIMARY KEY, feedback INTEGER)")
        try db.execute(sql: "INSERT OR IGNORE INTO interactions (id) VALUES (1)")
    }
    var count = 0
    let start = ContinuousClock.now
    let end = start + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < end {
        try queue.write { try $0.execute(sql: "UPDATE interactions SET feedback = ? WHERE id = 1", arguments: [count % 2 == 0 ? 1 : -1]) }
        count += 1
    }
    return (count, ContinuousClock.now - start)
}

say("feedback-bench: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(seconds) s per measurement, release build, logs at warning")
let (pings, pingTime) = try rawPingPong()
report("limit: raw Unix-socket ping-pong (1 byte, 1 connection)", operations: pings, elapsed: pingTime, unit: "round trips/s")
let (commits, commitTime) = try sqliteCommits(path: directory + "/limit.db")
report("limit: SQLite commits (1 UPDATE per txn, WAL, synchronous=FULL)", operations: commits, elapsed: commitTime, unit: "commits/s")

// MARK: the server

var logger = Logger(label: "bench")
logger.logLevel = .warning
let databasePath = directory + "/chat.db"
do {
    let queue = try DatabaseQueue(path: databasePath)
    try queue.write { db in
        try db.execute(sql: "CREATE TABLE interactions (id INTEGER PRIMARY KEY, question TEXT, answer TEXT, feedback INTEGER)")
        try db.execute(sql: "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) INSERT INTO interactions (id) SELECT i FROM n")
    }
}
let store = try SQLiteFeedbackStore(configuration: SQLiteConfiguration(path: databasePath), logger: logger)
let secret = Array("benchmark-secret-0123456789-abcdefghij".utf8)
let verifier = try await TokenVerifier(configuration: TokenVerifierConfiguration(hmacSecret: secret))
var router = RPCRouter(services: [FeedbackService(store: store), HealthService(store: store)])
router.intercept(with: AuthInterceptor(verifier: verifier))
var serverConfiguration = ServerConfiguration(socketPath: "/tmp/fbench-\(getpid()).sock")
serverConfiguration.maxConcurrentCallsPerConnection = 1024
let server = UnixSocketServer(configuration: serverConfiguration, router: router, logger: logger)
let group = ServiceGroup(services: [store, server], logger: logger)
let token = try await DevelopmentToken.mint(secret: secret, subject: "bench", ttl: .seconds(3600))

try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask { try await group.run() }
    try await server.waitUntilListening()
    let socket = serverConfiguration.socketPath

    for concurrency in [1, 64] {
        let client = FeedbackClient(socketPath: socket)
        let (calls, elapsed) = try await load(concurrency: concurrency) { _ in _ = try await client.checkHealth() }
        report("RPC Health/Check, 1 connection, \(concurrency) in flight", operations: calls, elapsed: elapsed)
        await client.close()
    }
    for concurrency in [1, 16, 64, 256] {
        let client = FeedbackClient(socketPath: socket)
        let (calls, elapsed) = try await load(concurrency: concurrency) { index in
            try await client.submitFeedback(interactionID: Int64(index % 100_000) + 1, rating: index % 2 == 0 ? 1 : -1, token: token)
        }
        report("SubmitFeedback (JWT verified, SQLite FULL), 1 connection, \(concurrency) in flight", operations: calls, elapsed: elapsed)
        await client.close()
    }
    await group.triggerGracefulShutdown()
    try await tasks.waitForAll()
}

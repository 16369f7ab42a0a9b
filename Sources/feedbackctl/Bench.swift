import ArgumentParser
import FeedbackAuth
import FeedbackClient
import FeedbackEnvironment
import Foundation
import RPCCore
import Synchronization

/// `feedbackctl bench`: a load generator in the spirit of ghz, in its own process, so that feedbackd's
/// CPU per call can be read beside the calls per second.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load-test feedbackd: calls/s, latency percentiles and errors by status.",
        discussion: """
            Keeps --concurrency calls in flight, spread over --connections connections, for --duration \
            seconds or --calls calls. Health/Check by default; SubmitFeedback (--method submit --allow-writes) \
            spreads its writes over interactions 1...--rows, alternating +1 and -1, overwriting the ratings \
            stored there. Progress goes to stderr (one line a second); the result to stdout (--json: one object).

            --watch adds one reader of the live feed (WatchFeedbackEvents) from --watch-after on: events \
            delivered per second, their lag behind their commit, how long it takes to catch up once the \
            load stops, and the ids it got (count, first, last, sum) to check against the audit trail; \
            --watch-resume-every N drops and resumes its stream every N events. It needs --secret-file \
            (a token with the read scope is minted) or --read-token.
            """
    )

    enum Method: String, ExpressibleByArgument, CaseIterable, Sendable {
        case submit, health
    }

    enum Engine: String, ExpressibleByArgument, CaseIterable {
        /// Pipelined frames on blocking sockets, a thread per connection: a few µs per call.
        case lean
        /// The Swift client library (`FeedbackClient`), a task per call in flight: measures the client too.
        case client
    }

    @Option(help: ArgumentHelp(FeedbackEnvironment.socketHelp)) var socket: String = FeedbackEnvironment.socketPath
    @Option(help: "The JWT for SubmitFeedback (or set FEEDBACK_TOKEN).") var token: String?
    @Option(help: ArgumentHelp("Mint a token from this HS256 secret instead (or FEEDBACK_JWT_SECRET).", valueName: "path"))
    var secretFile: String?
    @Option(help: "Connections to open.") var connections: Int = 1
    @Option(help: "Calls in flight, spread over the connections.") var concurrency: Int = 64
    @Option(help: "Seconds to run (unless --calls is given).") var duration: Double = 10
    @Option(help: "Calls to make, then stop.") var calls: Int?
    @Option(help: "health (the default) or submit: SubmitFeedback writes real ratings, so it needs --allow-writes.") var method: Method = .health
    @Flag(help: "Let --method submit write: each call rates one of interactions 1...--rows (subject \"bench\"), overwriting what users gave. Never against a database whose ratings matter.")
    var allowWrites = false
    @Option(help: "SubmitFeedback's writes go to interaction ids 1...N.") var rows: Int64 = 10_000
    @Option(help: "Deadline of each call, in milliseconds.") var timeoutMs: Int64 = 10_000
    @Option(help: "lean: pipelined frames, a thread per connection (measures feedbackd); client: the Swift client library.")
    var engine: Engine = .lean
    @Flag(help: "Print one JSON object: calls, calls_per_second, latency_us {p50, p90, p99, p999, max}, errors.")
    var json = false
    @Flag(help: "Watch the live feed beside the load (WatchFeedbackEvents).") var watch = false
    @Option(help: "The watch starts after this event id.") var watchAfter: Int64 = 0
    @Option(help: "The watcher drops its stream and resumes every N events (0: never).") var watchResumeEvery: Int = 0
    @Option(help: "The JWT for the watch (read scope); minted from --secret-file when absent.") var readToken: String?

    func validate() throws {
        guard !self.watch || self.method == .submit else {
            throw ValidationError("--watch follows the ratings the load writes: give --method submit --allow-writes")
        }
        guard self.method != .submit || self.allowWrites else {
            throw ValidationError("--method submit writes real ratings into interactions 1...\(self.rows) of the database feedbackd serves, overwriting users' ratings: add --allow-writes only where that is wanted")
        }
        guard self.connections > 0, self.concurrency >= self.connections else {
            throw ValidationError("--connections must be positive and --concurrency at least --connections")
        }
        guard self.duration > 0, self.calls.map({ $0 > 0 }) ?? true, self.rows > 0 else {
            throw ValidationError("--duration, --calls and --rows must be positive")
        }
    }

    func run() async throws {
        let token: String
        switch (self.method, self.token) {
        case (.health, _): token = ""
        case (.submit, let given?): token = given
        case (.submit, nil) where self.secretFile == nil && FeedbackEnvironment.token != nil: token = try givenToken(nil)
        case (.submit, nil):
            token = try await DevelopmentToken.mint(
                secret: try developmentSecret(file: self.secretFile), subject: "bench", ttl: .seconds(86_400)
            )
        }
        let watching: (task: Task<BenchWatch.Result, Never>, expectation: BenchWatch.Expectation)?
        if self.watch {
            let readToken: String
            if let given = self.readToken {
                readToken = given
            } else {
                readToken = try await DevelopmentToken.mint(
                    secret: try developmentSecret(file: self.secretFile), subject: "bench-watch", ttl: .seconds(86_400), scope: "feedback:read"
                )
            }
            let watcher = BenchWatch(socket: self.socket, token: readToken, after: self.watchAfter, resumeEvery: self.watchResumeEvery)
            let expectation = BenchWatch.Expectation()
            watching = (Task { await watcher.run(expectation: expectation) }, expectation)
        } else {
            watching = nil
        }
        let run = BenchRun(limit: self.calls, until: ContinuousClock.now + .milliseconds(Int64(self.duration * 1000)))
        let start = ContinuousClock.now
        let results: WorkerResult
        switch self.engine {
        case .lean:
            let load = LeanLoad(
                socket: self.socket, method: self.method, token: token, rows: self.rows, timeoutMs: self.timeoutMs, inFlight: self.concurrency
            )
            let connections = self.connections
            let all = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = await run.reportProgress(since: start) }
                defer { group.cancelAll() }
                return try await LeanLoad.run(load, connections: connections, run)
            }
            results = all.reduce(into: WorkerResult()) { merged, result in
                merged.latencies += result.latencies
                merged.errors.merge(result.errors, uniquingKeysWith: +)
            }
        case .client:
            results = await self.runClients(token: token, run: run, start: start)
        }
        let elapsed = ContinuousClock.now - start
        var watched: BenchWatch.Result?
        if let watching {
            watching.expectation.loadEnded(expecting: results.latencies.count - results.errors.values.reduce(0, +))
            watched = await watching.task.value
        }
        self.report(results, elapsed: elapsed, watched: watched)
    }

    /// The load through `FeedbackClient`: one task per call in flight.
    private func runClients(token: String, run: BenchRun, start: ContinuousClock.Instant) async -> WorkerResult {
        let clients = (0..<self.connections).map { _ in
            FeedbackClient(socketPath: self.socket, defaultTimeout: .milliseconds(self.timeoutMs))
        }
        let (method, rows, concurrency) = (self.method, self.rows, self.concurrency)
        let results = await withTaskGroup(of: WorkerResult.self) { group in
            group.addTask { await run.reportProgress(since: start) }
            for worker in 0..<concurrency {
                let client = clients[worker % clients.count]
                group.addTask {
                    var result = WorkerResult()
                    while let sequence = run.next() {
                        let begun = ContinuousClock.now
                        do {
                            switch method {
                            case .health: _ = try await client.checkHealth()
                            case .submit:
                                try await client.submitFeedback(
                                    interactionID: Int64(sequence) % rows + 1, rating: sequence % 2 == 0 ? 1 : -1, token: token
                                )
                            }
                        } catch {
                            result.errors[(error as? RPCError)?.code.name ?? "UNKNOWN", default: 0] += 1
                        }
                        result.latencies.append(UInt32(clamping: (ContinuousClock.now - begun).microseconds))
                        run.finished()
                    }
                    return result
                }
            }
            var merged = WorkerResult()
            for await result in group {
                merged.latencies += result.latencies
                merged.errors.merge(result.errors, uniquingKeysWith: +)
            }
            return merged
        }
        for client in clients { await client.close() }
        return results
    }

    private func report(_ results: WorkerResult, elapsed: Duration, watched: BenchWatch.Result?) {
        FileHandle.standardError.write(Data("\n".utf8))
        let summary = LatencySummary(results.latencies)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(results.latencies.count) / seconds
        if self.json {
            var object: [String: Any] = [
                "calls": results.latencies.count,
                "calls_per_second": (rate * 10).rounded() / 10,
                "latency_us": ["p50": summary.p50, "p90": summary.p90, "p99": summary.p99, "p999": summary.p999, "max": summary.max],
                "errors": results.errors,
            ]
            if let watched {
                let lag = LatencySummary(watched.lags)
                object["watch"] = [
                    "events": watched.events, "events_per_second_during_load": (Double(watched.duringLoad) / seconds * 10).rounded() / 10,
                    "repeats": watched.repeats, "first": watched.first, "last": watched.last, "id_sum": watched.idSum,
                    "resumes": watched.resumes, "catch_up_ms": watched.catchUp.map { Double($0.microseconds) / 1000 } ?? -1,
                    "lag_us": ["p50": lag.p50, "p90": lag.p90, "p99": lag.p99, "p999": lag.p999, "max": lag.max],
                ] as [String: Any]
            }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "%d calls in %.2f s: %.0f calls/s", results.latencies.count, seconds, rate))
            print("latency (µs): p50 \(summary.p50)  p90 \(summary.p90)  p99 \(summary.p99)  p99.9 \(summary.p999)  max \(summary.max)")
            print(results.errors.isEmpty ? "errors: none" : "errors: " + results.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            if let watched {
                let lag = LatencySummary(watched.lags)
                let catchUp = watched.catchUp.map { String(format: "%.1f ms", Double($0.microseconds) / 1000) } ?? "never (events missing)"
                print(
                    String(format: "watch: %d events (%.0f/s during the load), ids %lld...%lld, sum %lld, %d repeated, %d resumes; caught up %@ after the load",
                        watched.events, Double(watched.duringLoad) / seconds, watched.first, watched.last, watched.idSum, watched.repeats,
                        watched.resumes, catchUp)
                )
                print("watch lag behind the commit (µs, ms resolution): p50 \(lag.p50)  p90 \(lag.p90)  p99 \(lag.p99)  p99.9 \(lag.p999)  max \(lag.max)")
            }
        }
    }
}

/// What one worker saw.
struct WorkerResult: Sendable {
    var latencies: [UInt32] = []
    var errors: [String: Int] = [:]
}

/// Hands out call numbers until the limit or the deadline, and counts calls done for the progress line.
final class BenchRun: Sendable {
    private let limit: Int?
    private let until: ContinuousClock.Instant
    private let issued = Atomic<Int>(0)
    private let done = Atomic<Int>(0)

    init(limit: Int?, until: ContinuousClock.Instant) {
        self.limit = limit
        self.until = until
    }

    /// The next call's number, or nil when the run is over.
    func next() -> Int? {
        if self.limit == nil, ContinuousClock.now >= self.until { return nil }
        let number = self.issued.wrappingAdd(1, ordering: .relaxed).oldValue
        if let limit = self.limit, number >= limit { return nil }
        return number
    }

    func finished() {
        self.done.wrappingAdd(1, ordering: .relaxed)
    }

    /// Reports progress on stderr every second until the run is over: on a terminal, one line rewritten
    /// in place (ended when the run is); otherwise (a file, a pipe, a CI log) one line per report.
    func reportProgress(since start: ContinuousClock.Instant) async -> WorkerResult {
        let terminal = isatty(STDERR_FILENO) == 1
        var last = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let done = self.done.load(ordering: .relaxed)
            let over = self.limit.map { done >= $0 } ?? (ContinuousClock.now >= self.until)
            let progress = String(format: "%d calls, %d/s, %.0f s", done, done - last, Double((ContinuousClock.now - start).microseconds) / 1e6)
            let line = terminal ? "\r" + progress + (over ? "\n" : "") : progress + "\n"
            FileHandle.standardError.write(Data(line.utf8))
            last = done
            if over { return WorkerResult() }
        }
        return WorkerResult()
    }
}

/// Latency percentiles in microseconds (nearest rank).
struct LatencySummary {
    var p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0

    init(_ latencies: [UInt32]) {
        guard !latencies.isEmpty else { return }
        let sorted = latencies.sorted()
        func rank(_ fraction: Double) -> Int {
            Int(sorted[Swift.min(sorted.count - 1, Int((fraction * Double(sorted.count)).rounded(.up)) - 1)])
        }
        self.p50 = rank(0.5)
        self.p90 = rank(0.9)
        self.p99 = rank(0.99)
        self.p999 = rank(0.999)
        self.max = Int(sorted[sorted.count - 1])
    }
}

extension Duration {
    var microseconds: Int64 {
        self.components.seconds * 1_000_000 + self.components.attoseconds / 1_000_000_000_000
    }
}

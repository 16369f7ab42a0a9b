import FeedbackAuth
import FeedbackClient
import FeedbackProtos
import FeedbackTestSupport
import FeedbackVersion
import Foundation
import RPCCore
import Testing

/// Tests where a process is the point: signals, crashes, the command lines.
@Suite("feedbackd and feedbackctl processes", .serialized)
struct ProcessTests {
    @Test("every acknowledged rating survives SIGKILL in the middle of a load")
    func sigkillKeepsAcknowledgedRatings() async throws {
        try await withTemporaryDirectory { directory in
            try seedDatabase(at: directory + "/chat.db", interactions: 1...2000)
            let daemon = try FeedbackdProcess(directory: directory)
            try await daemon.start()
            let token = try await TestAuth.token()
            let client = FeedbackClient(socketPath: daemon.socket, defaultTimeout: .seconds(5))
            let acknowledged = AcknowledgedSet()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        var id = Int64(worker + 1)
                        while id <= 2000 {
                            do {
                                try await client.submitFeedback(interactionID: id, rating: id % 3 == 0 ? -1 : 1, token: token)
                                acknowledged.insert(id)
                            } catch {
                                return  // the server died under us: the call was not acknowledged
                            }
                            id += 16
                        }
                    }
                }
                group.addTask {
                    while acknowledged.count < 300 { try await Task.sleep(for: .milliseconds(5)) }
                    daemon.signal(SIGKILL)
                }
                try await group.waitForAll()
            }
            #expect(await daemon.wait() != 0)
            await client.close()
            let acked = acknowledged.values
            #expect(acked.count >= 300)

            let restarted = try FeedbackdProcess(directory: directory)
            try await restarted.start()
            for id in acked {
                #expect(try readRating(path: directory + "/chat.db", id: id) == (id % 3 == 0 ? -1 : 1), "acknowledged rating \(id) lost")
            }
            let events = try runProcess("/usr/bin/sqlite3", [directory + "/chat.db", "SELECT COUNT(DISTINCT interaction_id) FROM feedback_events"])
            #expect(Int(events.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 >= acked.count)
            restarted.signal(SIGTERM)
            #expect(await restarted.wait() == 0)
        }
    }

    @Test("feedbackd runs its tasks on NIO's event loops, says so at start, and its SQLite writer is a thread of its own")
    func tasksOnEventLoops() async throws {
        try await withTemporaryDirectory { directory in
            try seedDatabase(at: directory + "/chat.db", interactions: 1...1)
            let daemon = try FeedbackdProcess(directory: directory, arguments: ["--log-level", "info"])
            try await daemon.start()
            let token = try await TestAuth.token()
            let client = FeedbackClient(socketPath: daemon.socket)
            try await client.submitFeedback(interactionID: 1, rating: 1, token: token)
            let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.process.processIdentifier)/task").map {
                try String(contentsOfFile: "/proc/\(daemon.process.processIdentifier)/task/\($0)/comm", encoding: .utf8)
                    .trimmingCharacters(in: .newlines)
            }
            #expect(threads.filter { $0 == "feedback-writer" }.count == 1, "\(threads)")
            await client.close()
            daemon.signal(SIGTERM)
            #expect(await daemon.wait() == 0)
            let log = daemon.errorOutput()
            #expect(log.contains("feedbackd.tasks_executor executor=nio-event-loops"), "\(log)")
        }
    }

    @Test("SIGTERM: in-flight calls finish, exit status 0, socket file removed; a second feedbackd refused a live socket")
    func sigtermAndSecondInstance() async throws {
        try await withTemporaryDirectory { directory in
            try seedDatabase(at: directory + "/chat.db", interactions: 1...5)
            let daemon = try FeedbackdProcess(directory: directory)
            try await daemon.start()

            let second = try FeedbackdProcess(directory: directory, socket: daemon.socket)
            try second.process.run()
            #expect(await second.wait() == 2)
            #expect(second.errorOutput().contains("another server is listening on \(daemon.socket)"))

            let token = try await TestAuth.token()
            let client = FeedbackClient(socketPath: daemon.socket)
            try await client.submitFeedback(interactionID: 1, rating: 1, token: token)
            daemon.signal(SIGTERM)
            #expect(await daemon.wait() == 0)
            #expect(!FileManager.default.fileExists(atPath: daemon.socket))
            #expect(try readRating(path: directory + "/chat.db", id: 1) == 1)
            await client.close()
        }
    }

    @Test("feedbackctl: token, submit and health with readable and JSON output and scriptable exit codes")
    func feedbackctlContract() async throws {
        try await withTemporaryDirectory { directory in
            try seedDatabase(at: directory + "/chat.db", interactions: 1...5)
            let daemon = try FeedbackdProcess(directory: directory)
            try await daemon.start()
            let socket = daemon.socket

            let token = try feedbackctl(["token", "--secret-file", daemon.secretFile, "--sub", "ctl", "--ttl", "60", "--scope", "feedback:write"])
            #expect(token.status == 0)
            let jwt = token.output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(jwt.split(separator: ".").count == 3)
            let fromEnvironment = try feedbackctl(["token"], environment: ["FEEDBACK_JWT_SECRET": String(decoding: TestAuth.secret, as: UTF8.self)])
            #expect(fromEnvironment.status == 0)

            let ok = try feedbackctl(["submit", "--socket", socket, "--token", jwt, "--interaction-id", "2", "--rating", "-1"])
            #expect(ok.status == 0)
            #expect(try readRating(path: directory + "/chat.db", id: 2) == -1)

            let missing = try feedbackctl(["submit", "--socket", socket, "--token", jwt, "--interaction-id", "77", "--rating", "1", "--json"])
            #expect(missing.status == 5)
            let object = try JSONSerialization.jsonObject(with: Data(missing.output.utf8)) as? [String: Any]
            #expect(object?["code"] as? Int == 5)
            #expect(object?["status"] as? String == "NOT_FOUND")
            #expect(object?["message"] as? String == "Interaction 77 not found.")

            #expect(try feedbackctl(["submit", "--socket", socket, "--token", jwt, "--interaction-id", "2", "--rating", "3"]).status == 3)
            #expect(try feedbackctl(["submit", "--socket", socket, "--token", "nope", "--interaction-id", "2", "--rating", "1"]).status == 16)
            // FEEDBACK_SOCKET and FEEDBACK_TOKEN stand for --socket and --token in every command.
            let environment = ["FEEDBACK_SOCKET": socket, "FEEDBACK_TOKEN": jwt]
            #expect(try feedbackctl(["submit", "--interaction-id", "3", "--rating", "1"], environment: environment).status == 0)
            #expect(try readRating(path: directory + "/chat.db", id: 3) == 1)
            #expect(try feedbackctl(["health"], environment: environment).status == 0)
            let noToken = try runProcessWithOutputs(
                productsDirectory + "/feedbackctl", ["submit", "--socket", socket, "--interaction-id", "3", "--rating", "1"],
                environment: ProcessInfo.processInfo.environment.filter { $0.key != "FEEDBACK_TOKEN" }
            )
            #expect(noToken.status == 64)
            #expect(noToken.errors.contains("give --token or set FEEDBACK_TOKEN"), "\(noToken.errors)")
            #expect(try feedbackctl(["health", "--socket", socket]).status == 0)
            #expect(try feedbackctl(["health", "--socket", socket, "--json"]).output.contains("\"SERVING\""))

            daemon.signal(SIGTERM)
            _ = await daemon.wait()
            #expect(try feedbackctl(["health", "--socket", socket]).status == 14)
            #expect(try feedbackctl(["submit", "--socket", socket, "--token", jwt, "--interaction-id", "2", "--rating", "1"]).status == 14)
        }
    }

    @Test("SIGHUP reloads the JWT secret: after the switch old tokens are refused and new ones accepted, open connections stay; a secret that cannot be used keeps the one in force")
    func sighupReloadsKeys() async throws {
        try await withTemporaryDirectory { directory in
            try seedDatabase(at: directory + "/chat.db", interactions: 1...3)
            let daemon = try FeedbackdProcess(directory: directory, arguments: ["--log-level", "info"])
            try await daemon.start()
            let old = try await TestAuth.token()
            let rotated = Array("rotated-secret-0123456789-abcdefghijklmnopq".utf8)
            let new = try await DevelopmentToken.mint(secret: rotated, subject: "rotated", ttl: .seconds(600))
            let client = FeedbackClient(socketPath: daemon.socket)
            try await client.submitFeedback(interactionID: 1, rating: 1, token: old)
            // A connection open across the reload (health needs no token): it must still answer after it.
            let raw = try RawConnection(path: daemon.socket)

            try Data(rotated).write(to: URL(fileURLWithPath: daemon.secretFile))
            daemon.signal(SIGHUP)
            #expect(daemon.waitForLog(containing: "feedbackd.keys_reloaded").contains("feedbackd.keys_reloaded"))
            // The same client, its connection kept: the new token is accepted, the old one refused.
            try await client.submitFeedback(interactionID: 2, rating: -1, token: new)
            let refused = await #expect(throws: RPCError.self) { try await client.submitFeedback(interactionID: 3, rating: 1, token: old) }
            #expect(refused?.code == .unauthenticated)
            try raw.send(callID: 1, request(MethodPaths.Health.check))
            #expect(try await raw.receiveSkippingHello()?.response?.response.code == 0, "the connection opened before the reload still answers")

            // A secret too short to use: the reload fails and the rotated one stays in force.
            try Data("short".utf8).write(to: URL(fileURLWithPath: daemon.secretFile))
            daemon.signal(SIGHUP)
            #expect(daemon.waitForLog(containing: "feedbackd.keys_reload_failed").contains("at least 32 bytes"))
            try raw.send(callID: 3, request(MethodPaths.Health.check))
            #expect(try await raw.receive()?.response?.response.code == 0)
            try await client.submitFeedback(interactionID: 3, rating: -1, token: new)
            await client.close()
            raw.closeNow()
            daemon.signal(SIGTERM)
            #expect(await daemon.wait() == 0)
            #expect(try readRating(path: directory + "/chat.db", id: 2) == -1)
            #expect(try readRating(path: directory + "/chat.db", id: 3) == -1)
        }
    }

    @Test("feedbackctl call: any unary method with a JSON request, its JSON response; typed failures; describe shows the messages' fields")
    func callAndDescribe() async throws {
        try await withTemporaryDirectory { directory in
            try seedDatabase(at: directory + "/chat.db", interactions: 1...3)
            let daemon = try FeedbackdProcess(directory: directory)
            try await daemon.start()
            let token = try await TestAuth.token()
            let environment = ["FEEDBACK_SOCKET": daemon.socket, "FEEDBACK_TOKEN": token]
            func call(_ arguments: [String], token: Bool = true) throws -> (status: Int32, output: String, errors: String) {
                var environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
                if !token { environment["FEEDBACK_TOKEN"] = nil }
                return try runProcessWithOutputs(productsDirectory + "/feedbackctl", ["call"] + arguments, environment: environment)
            }
            let stored = try call(["SubmitFeedback", #"{"interaction_id": 2, "rating": -1}"#])
            #expect(stored.status == 0 && stored.output == "{}\n", "\(stored)")
            #expect(try readRating(path: directory + "/chat.db", id: 2) == -1)
            let byPath = try call(["/feedback.v1.FeedbackService/SubmitFeedback", #"{"interactionId": "3", "rating": 1}"#])
            #expect(byPath.status == 0)
            #expect(try readRating(path: directory + "/chat.db", id: 3) == 1)
            #expect(try call(["Check"]).output == #"{"status":"SERVING"}"# + "\n")
            let missing = try call(["SubmitFeedback", #"{"interaction_id": 99, "rating": 1}"#])
            #expect(missing.status == 5 && missing.errors.contains("NOT_FOUND: Interaction 99 not found."), "\(missing)")
            #expect(try call(["Nope"]).status == 3)
            let stream = try call(["WatchFeedbackEvents"])
            #expect(stream.status == 3 && stream.errors.contains("export --follow"), "\(stream)")
            let malformed = try call(["SubmitFeedback", #"{"bogus": 1}"#])
            #expect(malformed.status == 3 && malformed.errors.contains("not a feedback.v1.SubmitFeedbackRequest"), "\(malformed)")
            let tokenless = try call(["SubmitFeedback", #"{"interaction_id": 1, "rating": 1}"#], token: false)
            #expect(tokenless.status == 64 && tokenless.errors.contains("FEEDBACK_TOKEN"), "\(tokenless)")
            #expect(try readRating(path: directory + "/chat.db", id: 1) == nil)

            let describe = try runProcessWithOutputs(productsDirectory + "/feedbackctl", ["describe"], environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
            #expect(describe.status == 0)
            #expect(describe.output.contains("message SubmitFeedbackRequest {\n  int64 interaction_id = 1;\n  int32 rating = 2;\n}"), "\(describe.output)")
            #expect(describe.output.contains("message HealthCheckResponse {"))
        }
    }

    @Test("export --cursor-file: resumes where the last run stopped, CSV's header once across runs; a cursor file that cannot be written stops it before any output")
    func exportCursorFile() async throws {
        try await withTemporaryDirectory { directory in
            try seedDatabase(at: directory + "/chat.db", interactions: 1...5)
            let daemon = try FeedbackdProcess(directory: directory)
            try await daemon.start()
            let writer = try await TestAuth.token()
            let reader = try await TestAuth.token(scope: "feedback:read")
            let client = FeedbackClient(socketPath: daemon.socket)
            func export(_ cursorFile: String) throws -> (status: Int32, output: String, errors: String) {
                try runProcessWithOutputs(
                    productsDirectory + "/feedbackctl", ["export", "--socket", daemon.socket, "--format", "csv", "--cursor-file", cursorFile],
                    environment: ProcessInfo.processInfo.environment.merging(["FEEDBACK_TOKEN": reader]) { $1 }
                )
            }
            try await client.submitFeedback(interactionID: 1, rating: 1, token: writer)
            let first = try export(directory + "/cursor")
            try await client.submitFeedback(interactionID: 2, rating: -1, token: writer)
            let second = try export(directory + "/cursor")
            await client.close()
            #expect(first.status == 0 && second.status == 0)
            let lines = (first.output + second.output).split(separator: "\r\n").map { $0.split(separator: ",").prefix(3).joined(separator: ",") }
            #expect(lines == ["event_id,interaction_id,rating", "1,1,1", "2,2,-1"])
            #expect(try String(contentsOfFile: directory + "/cursor", encoding: .utf8) == "2\n")
            let unwritable = try export(directory + "/no-such-directory/cursor")
            #expect(unwritable.status == 74 && unwritable.output.isEmpty, "\(unwritable)")
            #expect(unwritable.errors.contains("cannot write the cursor file"))
        }
    }

    @Test("--version: each binary prints the git describe of its build")
    func versions() throws {
        #expect(FeedbackVersion.current != "unknown", "the tests run from a git checkout")
        for binary in ["feedbackd", "feedback-gateway", "feedbackctl"] {
            let run = try runProcessWithStatus(productsDirectory + "/" + binary, ["--version"])
            #expect(run.status == 0, "\(binary)")
            #expect(run.output.trimmingCharacters(in: .whitespacesAndNewlines) == FeedbackVersion.current, "\(binary)")
        }
    }

    @Test("feedbackctl bench: writes only with --allow-writes (Health/Check by default), --calls N makes exactly N calls, --json has the documented shape, failures are counted by status")
    func bench() async throws {
        try await withTemporaryDirectory { directory in
            try seedDatabase(at: directory + "/chat.db", interactions: 1...20)
            let daemon = try FeedbackdProcess(directory: directory)
            try await daemon.start()
            let countRated = {
                try runProcess("/usr/bin/sqlite3", [directory + "/chat.db", "SELECT COUNT(*) FROM interactions WHERE feedback IS NOT NULL"])
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let unasked = try runProcessWithOutputs(
                productsDirectory + "/feedbackctl", ["bench", "--socket", daemon.socket, "--secret-file", daemon.secretFile, "--method", "submit", "--calls", "50"]
            )
            #expect(unasked.status == 64)
            #expect(unasked.errors.contains("--allow-writes"), "\(unasked.errors)")
            let health = try feedbackctl(["bench", "--socket", daemon.socket, "--calls", "50", "--concurrency", "4", "--json"])
            #expect(health.status == 0)
            #expect(try countRated() == "0", "neither run wrote")
            let run = try feedbackctl([
                "bench", "--socket", daemon.socket, "--secret-file", daemon.secretFile, "--method", "submit", "--allow-writes", "--calls", "300",
                "--concurrency", "8", "--connections", "2", "--rows", "10", "--json",
            ])
            #expect(run.status == 0)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
            #expect(Set(object.keys) == ["calls", "calls_per_second", "latency_us", "errors"])
            #expect(object["calls"] as? Int == 300)
            #expect((object["calls_per_second"] as? Double ?? 0) > 0)
            let latency = try #require(object["latency_us"] as? [String: Int])
            #expect(Set(latency.keys) == ["p50", "p90", "p99", "p999", "max"])
            #expect(latency["p50"]! <= latency["p99"]! && latency["p99"]! <= latency["max"]!)
            #expect((object["errors"] as? [String: Int])?.isEmpty == true)
            #expect(try countRated() == "10", "writes spread over ids 1...10")
            let refused = try feedbackctl([
                "bench", "--socket", daemon.socket, "--token", "nope", "--method", "submit", "--allow-writes", "--calls", "20", "--concurrency", "4", "--json",
            ])
            let errors = try #require((try JSONSerialization.jsonObject(with: Data(refused.output.utf8)) as? [String: Any])?["errors"] as? [String: Int])
            #expect(errors == ["UNAUTHENTICATED": 20])
        }
    }

    @Test("feedbackctl export: every rating across pages as JSON lines or CSV, the last event id on stderr, resumable")
    func export() async throws {
        try await withTemporaryDirectory { directory in
            try seedDatabase(at: directory + "/chat.db", interactions: 1...20)
            let daemon = try FeedbackdProcess(directory: directory)
            try await daemon.start()
            let client = FeedbackClient(socketPath: daemon.socket)
            for id: Int64 in 1...7 {
                let subject = id == 7 ? "line\r\nbreak" : "user \(id), \"q\""
                try await client.submitFeedback(interactionID: id, rating: id % 2 == 0 ? 1 : -1, token: try await TestAuth.token(subject: subject))
            }
            await client.close()
            let reader = try await TestAuth.token(subject: "export-job", scope: "feedback:read")
            let base = ["export", "--socket", daemon.socket, "--page-size", "3"]

            let jsonl = try runProcessWithOutputs(productsDirectory + "/feedbackctl", base + ["--token", reader])
            #expect(jsonl.status == 0, "\(jsonl.errors)")
            let objects = jsonl.output.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(objects.count == 7)
            #expect(objects.map { $0?["interaction_id"] as? Int } == Array(1...7))
            #expect(objects.map { $0?["rating"] as? Int } == (1...7).map { $0 % 2 == 0 ? 1 : -1 })
            #expect(objects.first??["subject"] as? String == "user 1, \"q\"")
            #expect(Set(objects.compactMap { $0?.keys.sorted() }) == [["created_at", "event_id", "interaction_id", "rating", "subject"]])
            let last = objects.last??["event_id"] as? Int
            #expect(jsonl.errors == "last_event_id=\(last ?? -1)\n")

            // Resuming from the cursor: nothing new, the same cursor; then one more rating is all there is.
            let again = try runProcessWithOutputs(productsDirectory + "/feedbackctl", base + ["--after", "\(last ?? 0)"], environment: ["FEEDBACK_TOKEN": reader])
            #expect(again.status == 0 && again.output.isEmpty && again.errors == "last_event_id=\(last ?? -1)\n")

            let csv = try runProcessWithOutputs(productsDirectory + "/feedbackctl", base + ["--token", reader, "--format", "csv", "--after", "5"])
            #expect(csv.status == 0)
            let lines = csv.output.components(separatedBy: "\r\n")
            #expect(lines.first == "event_id,interaction_id,rating,subject,created_at")
            #expect(lines.count == 5, "the header, event 6, event 7 (its subject holds a quoted line break), and the final line break")
            #expect(lines[1].hasPrefix("6,6,1,\"user 6, \"\"q\"\"\",20"), "\(lines[1])")
            #expect(lines[2] == "7,7,-1,\"line" && lines[3].hasPrefix("break\",20"), "\(lines[2...3])")

            // A token without the read scope: PERMISSION_DENIED's exit code, the cursor still reported.
            let denied = try runProcessWithOutputs(productsDirectory + "/feedbackctl", base + ["--token", try await TestAuth.token()])
            #expect(denied.status == 7)
            #expect(denied.errors.hasPrefix("last_event_id=0\nPERMISSION_DENIED: token lacks the scope feedback:read"))
            daemon.signal(SIGTERM)
            _ = await daemon.wait()
        }
    }

    /// Subjects a spreadsheet would read as formulas (OWASP, "CSV injection"), and one it would not.
    static let formulaSubjects = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\r=cr", "a=b"]

    @Test("feedbackctl export --format csv neutralises cells a spreadsheet would read as formulas; numbers, --csv-raw and JSON lines stay exact")
    func exportNeutralisesFormulas() async throws {
        try await withTemporaryDirectory { directory in
            let subjects = Self.formulaSubjects
            try seedDatabase(at: directory + "/chat.db", interactions: 1...Int64(subjects.count))
            let daemon = try FeedbackdProcess(directory: directory)
            try await daemon.start()
            let client = FeedbackClient(socketPath: daemon.socket)
            for (index, subject) in subjects.enumerated() {
                try await client.submitFeedback(interactionID: Int64(index + 1), rating: -1, token: try await TestAuth.token(subject: subject))
            }
            await client.close()
            let reader = try await TestAuth.token(subject: "export-job", scope: "feedback:read")
            let base = ["export", "--socket", daemon.socket, "--token", reader]

            let safe = try runProcessWithOutputs(productsDirectory + "/feedbackctl", base + ["--format", "csv"])
            #expect(safe.status == 0, "\(safe.errors)")
            // Each record is "N,N,-1,<subject>,<created_at>": the rating -1 is a number, never touched.
            let records = safe.output.components(separatedBy: ",-1,").dropFirst().map { $0.components(separatedBy: ",20").first ?? "" }
            #expect(
                records == [
                    #""'=HYPERLINK(""http://x"",""y"")""#, #""'+1+1""#, #""'-2+3""#, #""'@SUM(A1)""#, "\"'\tTAB\"", "\"'\r=cr\"", "a=b",
                ],
                "\(safe.output)"
            )
            let lines = safe.output.components(separatedBy: "\r\n")
            #expect(lines[1].hasPrefix("1,1,-1,\"'=HYPERLINK("), "\(lines[1])")

            let raw = try runProcessWithOutputs(productsDirectory + "/feedbackctl", base + ["--format", "csv", "--csv-raw"])
            #expect(raw.status == 0, "\(raw.errors)")
            let rawRecords = raw.output.components(separatedBy: ",-1,").dropFirst().map { $0.components(separatedBy: ",20").first ?? "" }
            #expect(rawRecords == [#""=HYPERLINK(""http://x"",""y"")""#, "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\"\r=cr\"", "a=b"], "\(raw.output)")

            let jsonl = try runProcessWithOutputs(productsDirectory + "/feedbackctl", base)
            #expect(jsonl.status == 0, "\(jsonl.errors)")
            let objects = jsonl.output.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(objects.map { $0?["subject"] as? String } == subjects)
            #expect(objects.map { $0?["rating"] as? Int } == Array(repeating: -1, count: subjects.count))

            let mixed = try runProcessWithOutputs(productsDirectory + "/feedbackctl", base + ["--csv-raw"])
            #expect(mixed.status != 0 && mixed.errors.contains("--csv-raw applies to --format csv only"), "\(mixed.errors)")
            let help = try runProcessWithOutputs(productsDirectory + "/feedbackctl", ["export", "--help"]).output
            #expect(help.contains("--csv-raw") && help.contains("OWASP") && help.contains("-1 for a negative"), "\(help)")
            daemon.signal(SIGTERM)
            _ = await daemon.wait()
        }
    }

    @Test("feedbackctl export: a subject stored as bytes that are not UTF-8 is exact as subject_base64; an event that cannot be listed stops it with DATA_LOSS naming its id, --after skips it")
    func exportStoredBytes() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/chat.db"
            try seedDatabase(at: path, interactions: 1...3)
            let daemon = try FeedbackdProcess(directory: directory)
            try await daemon.start()
            let client = FeedbackClient(socketPath: daemon.socket)
            try await client.submitFeedback(interactionID: 1, rating: 1, token: try await TestAuth.token(subject: "a\u{0}b"))
            await client.close()
            // Another writer of the file: a BLOB subject that is not UTF-8, then a rating the feed cannot list.
            try runProcess("/usr/bin/sqlite3", [
                path,
                """
                INSERT INTO feedback_events (interaction_id, rating, subject, created_at) VALUES (2, -1, X'FF61', '2026-12-01T00:00:00.000Z');
                INSERT INTO feedback_events (interaction_id, rating, subject, created_at) VALUES (3, 7, 'x', '2026-12-01T00:00:00.000Z');
                """,
            ])
            let reader = try await TestAuth.token(subject: "export-job", scope: "feedback:read")
            let base = ["export", "--socket", daemon.socket, "--token", reader]
            let jsonl = try runProcessWithOutputs(productsDirectory + "/feedbackctl", base)
            #expect(jsonl.status == 15, "DATA_LOSS's exit code: \(jsonl.errors)")
            #expect(jsonl.errors.contains("last_event_id=2") && jsonl.errors.contains("Event 3 cannot be listed: rating is 7, not 1 or -1"), "\(jsonl.errors)")
            let objects = jsonl.output.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(objects.count == 2)
            #expect(objects.first??["subject"] as? String == "a\u{0}b", "a NUL kept")
            #expect(objects.first??["subject_base64"] == nil, "valid UTF-8: subject is exact")
            #expect(objects.last??["subject_base64"] as? String == Data([0xFF, 0x61]).base64EncodedString())
            #expect(objects.last??["subject"] as? String == "\u{FFFD}a")
            let skipped = try runProcessWithOutputs(productsDirectory + "/feedbackctl", base + ["--after", "3"])
            #expect(skipped.status == 0 && skipped.output.isEmpty && skipped.errors == "last_event_id=3\n", "\(skipped.errors)")
            daemon.signal(SIGTERM)
            _ = await daemon.wait()
        }
    }

    @Test("feedbackd --jwt-read-scope '' lets any valid token read the ratings feed; another scope is required when named")
    func readScopeFlag() async throws {
        for (flag, unscopedReads) in [("", true), ("export:ratings", false)] {
            try await withTemporaryDirectory { directory in
                try seedDatabase(at: directory + "/chat.db", interactions: 1...2)
                let daemon = try FeedbackdProcess(directory: directory, arguments: ["--jwt-read-scope", flag])
                try await daemon.start()
                let unscoped = try runProcessWithOutputs(productsDirectory + "/feedbackctl", ["export", "--socket", daemon.socket, "--token", try await TestAuth.token()])
                #expect((unscoped.status == 0) == unscopedReads, "--jwt-read-scope '\(flag)': \(unscoped.errors)")
                if !unscopedReads {
                    #expect(unscoped.errors.contains("token lacks the scope export:ratings"))
                    let scoped = try runProcessWithOutputs(
                        productsDirectory + "/feedbackctl", ["export", "--socket", daemon.socket, "--token", try await TestAuth.token(scope: flag)]
                    )
                    #expect(scoped.status == 0, "\(scoped.errors)")
                }
                daemon.signal(SIGTERM)
                _ = await daemon.wait()
            }
        }
    }

    @Test("feedbackd --help explains the flags; a bad configuration exits 2 with a clear message")
    func helpAndBadConfiguration() async throws {
        let help = try runProcess(productsDirectory + "/feedbackd", ["--help"])
        for flag in ["--socket", "--db", "--jwt-secret-file", "--jwt-public-key", "--jwt-jwks", "--jwt-issuer", "--jwt-audience", "--socket-mode", "--log-format"] {
            #expect(help.contains(flag), "--help does not mention \(flag)")
        }
        try await withTemporaryDirectory { directory in
            let noKey = Process()
            noKey.executableURL = URL(fileURLWithPath: productsDirectory + "/feedbackd")
            noKey.arguments = ["--socket", uniqueSocketPath(), "--db", directory + "/x.db"]
            noKey.environment = [:]
            let stderr = Pipe()
            noKey.standardError = stderr
            try noKey.run()
            noKey.waitUntilExit()
            #expect(noKey.terminationStatus == 2)
            #expect(String(decoding: stderr.fileHandleForReading.availableData, as: UTF8.self).contains("no key configured"))

            // A --db path with no file (a typo, a missing mount): refused, nothing created; the demo flag creates it.
            let missing = directory + "/missing.db"
            let secret = directory + "/secret"
            try Data(TestAuth.secret).write(to: URL(fileURLWithPath: secret))
            let noDatabase = Process()
            noDatabase.executableURL = URL(fileURLWithPath: productsDirectory + "/feedbackd")
            noDatabase.arguments = ["--socket", uniqueSocketPath(), "--db", missing, "--jwt-secret-file", secret]
            let noDatabaseErrors = Pipe()
            noDatabase.standardError = noDatabaseErrors
            try noDatabase.run()
            noDatabase.waitUntilExit()
            #expect(noDatabase.terminationStatus == 2)
            let message = String(decoding: noDatabaseErrors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(message.contains("there is no database file at \(missing)"), "\(message)")
            #expect(!FileManager.default.fileExists(atPath: missing))
        }
    }

    @Test("--log-format json: one JSON object per line; rpc.call lines for calls not answered OK, for every call with --log-calls all")
    func jsonLogs() async throws {
        for logCalls in ["errors", "all"] {
            try await withTemporaryDirectory { directory in
                try seedDatabase(at: directory + "/chat.db", interactions: 1...2)
                let arguments = ["--log-format", "json", "--log-level", "info"] + (logCalls == "all" ? ["--log-calls", "all"] : [])
                let daemon = try FeedbackdProcess(directory: directory, arguments: arguments)
                try await daemon.start()
                let client = FeedbackClient(socketPath: daemon.socket)
                try await client.submitFeedback(interactionID: 1, rating: 1, token: try await TestAuth.token(), requestID: "req-json-ok")
                await #expect(throws: RPCError.self) {
                    try await client.submitFeedback(interactionID: 99, rating: 1, token: try await TestAuth.token(), requestID: "req-json-missing")
                }
                await client.close()
                daemon.signal(SIGTERM)
                _ = await daemon.wait()
                let lines = daemon.errorOutput().split(separator: "\n")
                let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
                #expect(objects.count == lines.count, "every line is JSON")
                let calls = objects.filter { $0["msg"] == "rpc.call" }
                let missing = calls.first { $0["rpc.request_id"] == "req-json-missing" }
                #expect(missing?["rpc.status"] == "NOT_FOUND", "\(logCalls)")
                // The field names the README documents as stable.
                let documented = ["ts", "level", "msg", "label", "rpc.method", "rpc.call_id", "rpc.request_id", "rpc.connection_id", "peer.uid", "rpc.status", "rpc.duration_ms"]
                #expect(documented.filter { missing?[$0] == nil } == [], "\(missing ?? [:])")
                let okLogged = calls.contains { $0["rpc.request_id"] == "req-json-ok" && $0["rpc.status"] == "OK" }
                #expect(okLogged == (logCalls == "all"), "\(logCalls)")
            }
        }
    }
}

/// Interaction ids whose rating was acknowledged, shared by the load's tasks.
final class AcknowledgedSet: @unchecked Sendable {
    private let lock = NSLock()
    private var set: Set<Int64> = []
    func insert(_ id: Int64) { self.lock.withLock { _ = self.set.insert(id) } }
    var count: Int { self.lock.withLock { self.set.count } }
    var values: Set<Int64> { self.lock.withLock { self.set } }
}

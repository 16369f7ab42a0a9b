import ArgumentParser
import FastAPICompat
import FeedbackClient
import FeedbackProtos
import Foundation
import RPCCore
import Synchronization

/// `feedbackctl export`: the ratings feed (ListFeedbackEvents) to stdout, page after page, for jobs that
/// read the ratings (retraining). The last event id is printed on stderr, so that the next run resumes
/// with `--after` it.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the ratings stored after an event id to stdout (JSON lines or CSV), oldest first.",
        discussion: """
            Pages through ListFeedbackEvents until nothing newer is stored, then prints \
            `last_event_id=N` on stderr: give it to the next run's --after to read only what is new, or let \
            --cursor-file keep it (read at the start, rewritten after every page). On a failure, what was \
            written is complete up to that id, and the exit code is the status code (74 when the cursor \
            file cannot be written). \
            The token needs the read scope (feedbackd's --jwt-read-scope, feedback:read by default).

            CSV is safe to open in a spreadsheet: a text cell (subject, created_at) that starts with \
            = + - @, a tab or a carriage return is written with a ' before it and quoted (OWASP, "CSV \
            injection"), so that no spreadsheet reads it as a formula; numbers (event_id, \
            interaction_id, rating, which is -1 for a negative rating) are never changed. --csv-raw \
            writes every cell as stored. JSON lines are always exact.

            A subject whose stored bytes are not valid UTF-8 (written by another tool) is exact in JSON \
            lines as `subject_base64` (standard base64 of the bytes), with `subject` its lossy decoding \
            (U+FFFD for each invalid sequence); CSV has only the lossy decoding. A stored event that \
            cannot be listed (a rating that is not 1 or -1, ...) stops the export with DATA_LOSS (exit \
            code 15) after the events before it: the message names its id, and --after that id skips it.

            --follow keeps going: after what is stored it prints each rating as it is committed \
            (WatchFeedbackEvents, a stream), across restarts of feedbackd, until interrupted (Ctrl-C or \
            SIGTERM), then prints `last_event_id=N` as well.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case jsonl, csv
    }

    @OptionGroup var options: SocketOption
    @Option(help: "The JWT to send (without 'Bearer '), or set FEEDBACK_TOKEN (not visible in the process list).")
    var token: String?
    @Option(help: "Only events after this event id; 0 (the default) from the first.") var after: Int64?
    @Option(help: ArgumentHelp("Resume after the event id stored in this file (from the first when it does not exist), and store there the last one written, after every page: a job that runs this again gets each event once (twice only if stopped between a write and its cursor's).", valueName: "path"))
    var cursorFile: String?
    @Option(help: "jsonl (one JSON object per line) or csv (with a header line).") var format: Format = .jsonl
    @Option(help: "Events asked for per call, 1 to 1000.") var pageSize: Int32 = 1000
    @Flag(help: "CSV: write text cells as stored, even those a spreadsheet would read as a formula.")
    var csvRaw = false
    @Flag(help: "Keep printing ratings as they are committed, until interrupted (Ctrl-C, SIGTERM).")
    var follow = false

    func validate() throws {
        guard (self.after ?? 0) >= 0 else { throw ValidationError("--after must not be negative") }
        guard self.after == nil || self.cursorFile == nil else { throw ValidationError("give --after or --cursor-file, not both") }
        guard (1...1000).contains(self.pageSize) else { throw ValidationError("--page-size must be 1 to 1000") }
        guard !self.csvRaw || self.format == .csv else { throw ValidationError("--csv-raw applies to --format csv only") }
    }

    func run() async throws {
        let token = try givenToken(self.token)
        let cursorFile = self.cursorFile.map(CursorFile.init)
        let start = try cursorFile?.read() ?? self.after ?? 0
        do {
            // Before anything is written: a cursor file that cannot be written stops the export here.
            try cursorFile?.write(start)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(74)
        }
        let client = FeedbackClient(socketPath: self.options.socket)
        var cursor = start
        var failure: (any Error)?
        // With a cursor file the output is appended to run after run: its header only once, at the start.
        if self.format == .csv, cursorFile == nil || start == 0 { Self.write("event_id,interaction_id,rating,subject,created_at\r\n") }
        if self.follow {
            (cursor, failure) = await self.follow(client: client, token: token, from: start, cursorFile: cursorFile)
        }
        while !self.follow {
            do {
                let page = try await client.listFeedbackEvents(
                    afterEventID: cursor, pageSize: self.pageSize, token: token, timeout: .milliseconds(self.options.timeoutMs)
                )
                if page.events.isEmpty { break }
                let cells: CSVCells = self.csvRaw ? .raw : .spreadsheetSafe
                Self.write(page.events.map { self.format == .csv ? Self.csvLine($0, cells: cells) : Self.jsonLine($0) }.joined())
                cursor = page.nextAfterEventID
                try cursorFile?.write(cursor)
            } catch {
                failure = error
                break
            }
        }
        await client.close()
        FileHandle.standardError.write(Data("last_event_id=\(cursor)\n".utf8))
        switch failure {
        case let failure as RPCError:
            FileHandle.standardError.write(Data("\(failure.code.name): \(failure.message)\n".utf8))
            throw ExitCode(Int32(failure.code.rawValue))
        case let failure?:
            FileHandle.standardError.write(Data("error: \(failure)\n".utf8))
            throw ExitCode(74)  // EX_IOERR
        case nil:
            break
        }
    }

    /// `--follow`: the live feed from `--after` until SIGINT or SIGTERM (or a status that ends it).
    /// Returns the last event id written and the failure, if any.
    private func follow(client: FeedbackClient, token: String, from after: Int64, cursorFile: CursorFile?) async -> (Int64, (any Error)?) {
        let cursor = Atomic<Int64>(after)
        let cells: CSVCells = self.csvRaw ? .raw : .spreadsheetSafe
        let format = self.format
        let watching = Task { () -> (any Error)? in
            do {
                // One write per message the server sent: the lines of every event in it.
                for try await batch in client.watchFeedbackEvents(afterEventID: after, token: token).batches {
                    Self.write(batch.map { format == .csv ? Self.csvLine($0, cells: cells) : Self.jsonLine($0) }.joined())
                    cursor.store(batch.last?.eventID ?? cursor.load(ordering: .relaxed), ordering: .relaxed)
                    try cursorFile?.write(cursor.load(ordering: .relaxed))
                }
                return nil
            } catch let error as CursorFileError {
                return error
            } catch let error as RPCError {
                return error.code == .cancelled && Task.isCancelled ? nil : error
            } catch {
                return nil  // cancelled while it waited to resume
            }
        }
        let signals = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { watching.cancel() }
            source.resume()
            return source
        }
        let failure = await watching.value
        for source in signals { source.cancel() }
        return (cursor.load(ordering: .relaxed), failure)
    }

    private static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// One event as a JSON object on a line of its own (keys sorted: a stable shape for readers), compact
    /// and without a formatter: a live export writes tens of thousands a second.
    static func jsonLine(_ event: Feedback_V1_FeedbackEvent) -> String {
        var members: [(key: String, value: JSONValue)] = [
            ("created_at", .string(event.createdAt)), ("event_id", .integer("\(event.eventID)")),
            ("interaction_id", .integer("\(event.interactionID)")), ("rating", .integer("\(event.rating)")),
            ("subject", .string(event.subject)),
        ]
        // Only for a subject that is not valid UTF-8: `subject` then is its lossy decoding.
        if !event.subjectBytes.isEmpty { members.append(("subject_base64", .string(event.subjectBytes.base64EncodedString()))) }
        return JSONValue.object(members).pythonJSON + "\n"
    }

    /// How `--format csv` writes text cells.
    enum CSVCells {
        /// A cell a spreadsheet would read as a formula is prefixed with `'` and quoted (the default).
        case spreadsheetSafe
        /// Every cell as stored (`--csv-raw`).
        case raw
    }

    /// One event as a CSV record (RFC 4180: a field with a comma, quote or line break is quoted). The
    /// numbers are written as they are: only the text cells (subject, created_at) follow `cells`.
    static func csvLine(_ event: Feedback_V1_FeedbackEvent, cells: CSVCells) -> String {
        "\(event.eventID),\(event.interactionID),\(event.rating),\(Self.csvField(event.subject, cells)),\(Self.csvField(event.createdAt, cells))\r\n"
    }

    /// The first characters that make a spreadsheet read a cell as a formula (OWASP, "CSV injection").
    private static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]

    private static func csvField(_ value: String, _ cells: CSVCells) -> String {
        if cells == .spreadsheetSafe, let first = value.unicodeScalars.first, Self.formulaStarts.contains(first) {
            return "\"'" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        // By scalars: "\r\n" is one Character, equal to neither "\r" nor "\n".
        guard value.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

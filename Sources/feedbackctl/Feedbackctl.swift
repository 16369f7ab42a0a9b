import ArgumentParser
import FeedbackAuth
import FeedbackClient
import FeedbackEnvironment
import FeedbackVersion
import Foundation
import RPCCore

@main
struct Feedbackctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedbackctl",
        abstract: "Talk to feedbackd: submit a rating, check health, export the ratings, mint a development token, load-test it.",
        discussion: """
            Exit codes: 0 on success; for a failed call, the status code (3 INVALID_ARGUMENT, 5 NOT_FOUND, \
            7 PERMISSION_DENIED, 14 UNAVAILABLE, 16 UNAUTHENTICATED, ...); 20 when health is not SERVING; \
            64 for bad arguments.
            """,
        version: FeedbackVersion.current,
        subcommands: [Submit.self, Health.self, Token.self, Export.self, Describe.self, Call.self, Bench.self]
    )
}

struct SocketOption: ParsableArguments {
    @Option(help: ArgumentHelp(FeedbackEnvironment.socketHelp))
    var socket: String = FeedbackEnvironment.socketPath

    @Option(help: "Give up after this many milliseconds (DEADLINE_EXCEEDED).")
    var timeoutMs: Int64 = 10_000

    @Flag(help: "Print one JSON object instead of text.")
    var json = false
}

/// Prints a call's outcome as text or JSON and returns the exit code.
func report(_ result: Result<String, RPCError>, json: Bool) -> Int32 {
    let (code, status, message): (UInt32, String, String) =
        switch result {
        case .success(let message): (0, "OK", message)
        case .failure(let error): (error.code.rawValue, error.code.name, error.message)
        }
    if json {
        let object: [String: Any] = ["code": code, "status": status, "message": message]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    } else if code == 0 {
        print(message.isEmpty ? "OK" : "OK: \(message)")
    } else {
        FileHandle.standardError.write(Data("\(status): \(message)\n".utf8))
    }
    return Int32(code)
}

struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rate an interaction: exit 0 when stored.")

    @OptionGroup var options: SocketOption
    @Option(help: "The JWT to send (without 'Bearer '), or set FEEDBACK_TOKEN (not visible in the process list).") var token: String?
    @Option(parsing: .unconditional, help: "The interactions.id to rate.") var interactionId: Int64
    @Option(parsing: .unconditional, help: "1 (positive) or -1 (negative); -1 may follow the flag as is.") var rating: Int32
    @Option(help: "x-request-id to send.") var requestId: String?

    func run() async throws {
        let token = try givenToken(self.token)
        let client = FeedbackClient(socketPath: self.options.socket)
        let result: Result<String, RPCError>
        do {
            try await client.submitFeedback(
                interactionID: self.interactionId, rating: self.rating, token: token,
                timeout: .milliseconds(self.options.timeoutMs), requestID: self.requestId
            )
            result = .success("")
        } catch {
            result = .failure(error)
        }
        await client.close()
        let code = report(result, json: self.options.json)
        if code != 0 { throw ExitCode(code) }
    }
}

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check feedbackd: exit 0 when SERVING.")

    @OptionGroup var options: SocketOption
    @Option(help: "Service to ask about; empty for the whole server.") var service: String = ""

    func run() async throws {
        let client = FeedbackClient(socketPath: self.options.socket)
        let result: Result<String, RPCError>
        var serving = false
        do {
            let status = try await client.checkHealth(service: self.service, timeout: .milliseconds(self.options.timeoutMs))
            serving = status == .serving
            result = .success(serving ? "SERVING" : "NOT_SERVING")
        } catch {
            result = .failure(error)
        }
        await client.close()
        let code = report(result, json: self.options.json)
        if code != 0 { throw ExitCode(code) }
        if !serving { throw ExitCode(20) }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print an HS256 development token on stdout.")

    @Option(help: ArgumentHelp("File holding the HS256 secret (or set FEEDBACK_JWT_SECRET).", valueName: "path"))
    var secretFile: String?
    @Option(help: "The sub claim.") var sub: String = "dev-user"
    @Option(help: "Lifetime in seconds (exp = now + ttl).") var ttl: Int64 = 3600
    @Option(help: "The scope claim (space-separated scopes).") var scope: String?
    @Option(help: "The iss claim.") var issuer: String?
    @Option(help: "The aud claim.") var audience: String?

    func run() async throws {
        let secret = try developmentSecret(file: self.secretFile)
        print(
            try await DevelopmentToken.mint(
                secret: secret, subject: self.sub, ttl: .seconds(self.ttl), scope: self.scope,
                issuer: self.issuer, audience: self.audience
            )
        )
    }
}

/// The JWT of `--token`, else of FEEDBACK_TOKEN.
func givenToken(_ flag: String?) throws -> String {
    guard let token = flag ?? FeedbackEnvironment.token, !token.isEmpty else {
        throw ValidationError("give --token or set FEEDBACK_TOKEN")
    }
    return token
}

/// The HS256 secret of `--secret-file` (read as feedbackd reads it: ``SecretFile``), or of FEEDBACK_JWT_SECRET.
func developmentSecret(file: String?) throws -> [UInt8] {
    if let path = file {
        do {
            return try SecretFile.read(path)
        } catch {
            throw ValidationError("cannot read \(path): \(error.localizedDescription)")
        }
    }
    if let value = ProcessInfo.processInfo.environment["FEEDBACK_JWT_SECRET"], !value.isEmpty { return Array(value.utf8) }
    throw ValidationError("give --secret-file or set FEEDBACK_JWT_SECRET")
}

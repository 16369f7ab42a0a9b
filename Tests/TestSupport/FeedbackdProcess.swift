import Foundation

/// A feedbackd process started from the built binary, for tests where the process is the point.
public final class FeedbackdProcess: @unchecked Sendable {
    public let socket: String
    public let database: String
    public let secretFile: String
    public let process = Process()
    public let stderr = Pipe()

    public init(directory: String, socket: String = uniqueSocketPath(), arguments: [String] = []) throws {
        self.socket = socket
        self.database = directory + "/chat.db"
        self.secretFile = directory + "/secret"
        if !FileManager.default.fileExists(atPath: self.secretFile) {
            try Data(TestAuth.secret).write(to: URL(fileURLWithPath: self.secretFile))
        }
        self.process.executableURL = URL(fileURLWithPath: productsDirectory + "/feedbackd")
        self.process.arguments = [
            "--socket", socket, "--db", self.database, "--jwt-secret-file", self.secretFile, "--log-level", "warning",
        ] + arguments
        self.process.standardError = self.stderr
        self.process.standardOutput = FileHandle.nullDevice
    }

    /// Starts the process and waits until its socket accepts connections.
    public func start() async throws {
        try self.process.run()
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if (try? RawConnection(path: self.socket, sendHello: false)) != nil { return }
            guard self.process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ProcessFailure(message: "feedbackd did not start: \(self.errorOutput())")
    }

    public func signal(_ signal: Int32) {
        kill(self.process.processIdentifier, signal)
    }

    /// Waits for the process to exit and returns its status.
    public func wait() async -> Int32 {
        while self.process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        return self.process.terminationStatus
    }

    /// What the process wrote to stderr so far, and what is there to read now (after it exits: all of it).
    public func errorOutput() -> String {
        self.collected.append(self.stderr.fileHandleForReading.availableData)
        return String(decoding: self.collected, as: UTF8.self)
    }

    /// Reads stderr until it holds `text`, or ends (the process exited); returns all of it read so far.
    /// Waits on the pipe, not on a clock.
    @discardableResult
    public func waitForLog(containing text: String) -> String {
        while !String(decoding: self.collected, as: UTF8.self).contains(text) {
            let chunk = self.stderr.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            self.collected.append(chunk)
        }
        return String(decoding: self.collected, as: UTF8.self)
    }

    private var collected = Data()

    deinit {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
        }
        unlink(self.socket)  // a killed feedbackd leaves its socket file behind
    }
}

public struct ProcessFailure: Error, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { self.message }
}

/// Runs feedbackctl and returns its exit status and standard output.
public func feedbackctl(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    try runProcessWithStatus(
        productsDirectory + "/feedbackctl", arguments,
        environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }
    )
}

import Foundation

/// Runs a program to completion and returns its standard output.
@discardableResult
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
    try runProcessWithStatus(executable, arguments, environment: environment).output
}

/// Runs a program to completion and returns its exit status and standard output.
public func runProcessWithStatus(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws
    -> (status: Int32, output: String)
{
    let run = try runProcessWithOutputs(executable, arguments, environment: environment)
    return (run.status, run.output)
}

/// Runs a process to its end: its exit status, stdout and stderr (the latter through a file, so that
/// neither pipe can fill while the other is read).
public func runProcessWithOutputs(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws
    -> (status: Int32, output: String, errors: String)
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    process.standardOutput = output
    let errorsPath = NSTemporaryDirectory() + "fbt-stderr-\(UInt32.random(in: .min ... .max))"
    _ = FileManager.default.createFile(atPath: errorsPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: errorsPath) }
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorsPath))
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let errors = (try? String(contentsOfFile: errorsPath, encoding: .utf8)) ?? ""
    return (process.terminationStatus, String(decoding: data, as: UTF8.self), errors)
}

/// The directory of the built products (`.build/debug`), found from this file's path.
public let productsDirectory: String = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    for candidate in [".build/debug", ".build/x86_64-unknown-linux-gnu/debug", ".build/aarch64-unknown-linux-gnu/debug"] {
        let path = root.appendingPathComponent(candidate).path
        if FileManager.default.isExecutableFile(atPath: path + "/feedbackd") { return path }
    }
    return root.appendingPathComponent(".build/debug").path
}()

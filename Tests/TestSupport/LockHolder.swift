import Foundation

/// Another process holding a SQLite database's write lock (`BEGIN IMMEDIATE`) until told to release it.
///
/// ``init(path:)`` returns once the helper has said "locked"; ``release()`` tells it to roll back and
/// waits until it has exited. Nothing is timed: the lock is held exactly as long as the test wants.
public final class LockHolder: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()

    public init(path: String) throws {
        self.process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        self.process.arguments = [
            "python3", "-c",
            """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute('BEGIN IMMEDIATE')
            print('locked', flush=True)
            sys.stdin.readline()
            c.execute('ROLLBACK')
            """,
            path,
        ]
        self.process.standardInput = self.input
        self.process.standardOutput = self.output
        self.process.standardError = FileHandle.nullDevice
        try self.process.run()
        let said = String(decoding: self.output.fileHandleForReading.readData(ofLength: 7), as: UTF8.self)
        guard said == "locked\n" else {
            self.process.terminate()
            throw ProcessFailure(message: "the lock holder did not take the lock (it said \(said.debugDescription))")
        }
    }

    /// Rolls back, releasing the lock, and waits for the helper to exit.
    public func release() {
        guard self.process.isRunning else { return }
        try? self.input.fileHandleForWriting.write(contentsOf: Data("release\n".utf8))
        try? self.input.fileHandleForWriting.close()
        self.process.waitUntilExit()
    }

    deinit {
        if self.process.isRunning {
            self.process.terminate()
            self.process.waitUntilExit()
        }
    }
}

import ArgumentParser
import Foundation

/// `feedbackctl export --cursor-file PATH`: where an export resumes, kept in a file. A missing file is
/// the start (0). The file is replaced (a new file renamed over it) after every page or batch written
/// to stdout, so that a run stopped anywhere, even by SIGKILL, resumes after the last events it wrote:
/// each event is written at least once; one that is written twice has the same event id.
struct CursorFile {
    let path: String

    /// The event id stored in the file; 0 when it does not exist.
    func read() throws -> Int64 {
        guard FileManager.default.fileExists(atPath: self.path) else { return 0 }
        let text: String
        do {
            text = try String(contentsOfFile: self.path, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read the cursor file \(self.path): \(error.localizedDescription)")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let cursor = Int64(trimmed), cursor >= 0 else {
            throw ValidationError("the cursor file \(self.path) holds \(String(reflecting: String(trimmed.prefix(40)))), not an event id: fix or remove it")
        }
        return cursor
    }

    /// Stores `cursor`: a whole new file renamed over the old one, never a half-written one.
    func write(_ cursor: Int64) throws {
        let temporary = self.path + ".tmp"
        do {
            try Data("\(cursor)\n".utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, self.path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            throw CursorFileError(description: "cannot write the cursor file \(self.path): \(error.localizedDescription)")
        }
    }
}

struct CursorFileError: Error, CustomStringConvertible {
    var description: String
}

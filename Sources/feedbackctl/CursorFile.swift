import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
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

    /// Stores `cursor`: a whole new file, flushed to disk, renamed over the old one; never a half-written
    /// or (after a power loss) an empty one. The new file's name is this process's own.
    func write(_ cursor: Int64) throws {
        let temporary = "\(self.path).\(getpid()).tmp"
        let text = Array("\(cursor)\n".utf8)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Self.failure(self.path) }
        let written = text.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let flushed = written == text.count && fsync(descriptor) == 0
        close(descriptor)
        guard flushed, rename(temporary, self.path) == 0 else {
            let error = Self.failure(self.path)
            unlink(temporary)
            throw error
        }
    }

    private static func failure(_ path: String) -> CursorFileError {
        CursorFileError(description: "cannot write the cursor file \(path): \(String(cString: strerror(errno)))")
    }
}

struct CursorFileError: Error, CustomStringConvertible {
    var description: String
}

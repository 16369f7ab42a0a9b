import Foundation

/// The calling thread's name as the kernel has it (`/proc/thread-self/comm`), or "" when unknown: to
/// check which thread runs a piece of work.
public func currentThreadName() -> String {
    let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
    return name.trimmingCharacters(in: .newlines)
}

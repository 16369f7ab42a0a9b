import FeedbackDomain
import Foundation
import Logging

/// Writes one line per event to stderr: `<time> <level> <label>: <message> key=value ...`.
///
/// Every message and value is escaped so that no logged text can start a line of its own: control
/// characters become `\n`, `\r`, `\t` or `\u{XX}`, and a backslash is doubled. A value taken from a
/// caller (a token header, a request id) cannot forge a log line. Metadata is rendered only when an
/// event is written, never when it is set, so unlogged levels cost nothing.
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private static let lock = NSLock()

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = UTCTimestamp.now()
        line += " \(event.level.rawValue) \(Self.escaped(self.label)): \(Self.escaped(event.message.description))"
        let merged = event.metadata.map { self.metadata.merging($0, uniquingKeysWith: { $1 }) } ?? self.metadata
        for key in merged.keys.sorted() {
            line += " \(Self.escaped(key))=\(Self.escaped(merged[key]!.description))"
        }
        line += "\n"
        Self.lock.withLock { FileHandle.standardError.write(Data(line.utf8)) }
    }

    /// `text` with control characters (C0, DEL, C1, U+2028, U+2029) and backslashes escaped.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: Self.needsEscape) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where Self.needsEscape(scalar): out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}"
            || scalar == "\\"
    }
}

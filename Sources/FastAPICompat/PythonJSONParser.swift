/// Parses JSON the way Python's `json.loads` does (which FastAPI uses), reporting errors with the same
/// messages and character positions, so the gateway's 422 bodies match the original endpoint's.
///
/// Accepts what Python accepts beyond RFC 8259: `NaN`, `Infinity`, `-Infinity`.
///
/// Runs in time linear in the input and recurses at most ``maxDepth`` levels: a deeper document fails
/// with ``Failure/Kind/tooDeep`` (where Python's decoder raises `RecursionError`), never a stack overflow.
public struct PythonJSONParser {
    /// A decode error: Python's message and the character (not byte) offset.
    public struct Failure: Error, Equatable {
        public enum Kind: Sendable, Equatable {
            /// Python's `json.JSONDecodeError`: FastAPI answers 422 `json_invalid`.
            case decode
            /// Nesting deeper than ``PythonJSONParser/maxDepth``: Python raises `RecursionError`, which
            /// FastAPI answers 400 "There was an error parsing the body".
            case tooDeep
        }

        public var kind: Kind = .decode
        public var message: String
        public var position: Int
    }

    /// Arrays and objects nested deeper than this fail as ``Failure/Kind/tooDeep``. Python's decoder
    /// gives up near its recursion limit (1,000, less the frames of the server that calls it): the
    /// original FastAPI endpoint parsed 963 levels and refused 964 (measured with FastAPI 0.165 on
    /// Python 3.11). No real body comes near either.
    public static let maxDepth = 963

    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var depth = 0

    init(_ text: String) {
        self.scalars = Array(text.unicodeScalars)
    }

    /// Parses one document with optional surrounding whitespace.
    public static func parse(_ text: String) throws(Failure) -> JSONValue {
        var parser = PythonJSONParser(text)
        parser.skipWhitespace()
        let value = try parser.value()
        parser.skipWhitespace()
        guard parser.index == parser.scalars.count else {
            throw Failure(message: "Extra data", position: parser.index)
        }
        return value
    }

    private var current: Unicode.Scalar? { self.index < self.scalars.count ? self.scalars[self.index] : nil }

    private mutating func skipWhitespace() {
        while let c = self.current, c == " " || c == "\t" || c == "\n" || c == "\r" { self.index += 1 }
    }

    private func matches(_ word: String) -> Bool {
        let wordScalars = Array(word.unicodeScalars)
        guard self.index + wordScalars.count <= self.scalars.count else { return false }
        return Array(self.scalars[self.index..<self.index + wordScalars.count]) == wordScalars
    }

    private mutating func value() throws(Failure) -> JSONValue {
        guard let c = self.current else { throw Failure(message: "Expecting value", position: self.index) }
        switch c {
        case "{", "[":
            guard self.depth < Self.maxDepth else {
                throw Failure(kind: .tooDeep, message: "maximum recursion depth exceeded", position: self.index)
            }
            self.depth += 1
            defer { self.depth -= 1 }
            return c == "{" ? try self.object() : try self.array()
        case "\"": return .string(try self.string())
        case "n" where self.matches("null"):
            self.index += 4
            return .null
        case "t" where self.matches("true"):
            self.index += 4
            return .bool(true)
        case "f" where self.matches("false"):
            self.index += 5
            return .bool(false)
        case "N" where self.matches("NaN"):
            self.index += 3
            return .float(.nan)
        case "I" where self.matches("Infinity"):
            self.index += 8
            return .float(.infinity)
        case "-" where self.matches("-Infinity"):
            self.index += 9
            return .float(-.infinity)
        default:
            if let number = self.number() { return number }
            throw Failure(message: "Expecting value", position: self.index)
        }
    }

    /// Python's NUMBER_RE: `(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?`; nil when none starts here.
    private mutating func number() -> JSONValue? {
        let start = self.index
        var cursor = self.index
        func digit(_ i: Int) -> Bool { i < self.scalars.count && ("0"..."9").contains(self.scalars[i]) }
        if cursor < self.scalars.count, self.scalars[cursor] == "-" { cursor += 1 }
        guard digit(cursor) else { return nil }
        if self.scalars[cursor] == "0" {
            cursor += 1
        } else {
            while digit(cursor) { cursor += 1 }
        }
        var isFloat = false
        if cursor < self.scalars.count, self.scalars[cursor] == ".", digit(cursor + 1) {
            isFloat = true
            cursor += 1
            while digit(cursor) { cursor += 1 }
        }
        if cursor < self.scalars.count, self.scalars[cursor] == "e" || self.scalars[cursor] == "E" {
            var exponent = cursor + 1
            if exponent < self.scalars.count, self.scalars[exponent] == "+" || self.scalars[exponent] == "-" { exponent += 1 }
            if digit(exponent) {
                isFloat = true
                cursor = exponent
                while digit(cursor) { cursor += 1 }
            }
        }
        self.index = cursor
        var text = ""
        text.unicodeScalars.append(contentsOf: self.scalars[start..<cursor])
        if isFloat { return .float(Double(text) ?? .nan) }
        return .integer(text == "-0" ? "0" : text)
    }

    private mutating func string() throws(Failure) -> String {
        let start = self.index
        self.index += 1
        var out = String.UnicodeScalarView()
        while true {
            guard let c = self.current else {
                throw Failure(message: "Unterminated string starting at", position: start)
            }
            if c == "\"" {
                self.index += 1
                return String(out)
            }
            if c.value < 0x20 {
                throw Failure(message: "Invalid control character at", position: self.index)
            }
            if c != "\\" {
                out.append(c)
                self.index += 1
                continue
            }
            let escapeAt = self.index
            self.index += 1
            guard let e = self.current else {
                throw Failure(message: "Unterminated string starting at", position: start)
            }
            switch e {
            case "\"": out.append("\"")
            case "\\": out.append("\\")
            case "/": out.append("/")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "u":
                guard let unit = self.hex4(at: self.index + 1) else {
                    throw Failure(message: "Invalid \\uXXXX escape", position: escapeAt + 1)  // Python points at the 'u'
                }
                self.index += 4
                var scalarValue = unit
                if (0xD800...0xDBFF).contains(unit), self.index + 2 < self.scalars.count,
                    self.scalars[self.index + 1] == "\\", self.scalars[self.index + 2] == "u",
                    let low = self.hex4(at: self.index + 3), (0xDC00...0xDFFF).contains(low)
                {
                    scalarValue = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    self.index += 6
                }
                // A lone surrogate cannot be a Swift scalar; Python keeps it, we substitute U+FFFD.
                out.append(Unicode.Scalar(scalarValue) ?? "\u{FFFD}")
            default:
                throw Failure(message: "Invalid \\escape", position: escapeAt)
            }
            self.index += 1
        }
    }

    private func hex4(at position: Int) -> UInt32? {
        guard position + 4 <= self.scalars.count else { return nil }
        var value: UInt32 = 0
        for scalar in self.scalars[position..<position + 4] {
            guard let digit = Int(String(scalar), radix: 16) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    private mutating func object() throws(Failure) -> JSONValue {
        self.index += 1
        var members: [(key: String, value: JSONValue)] = []
        // Key (as Python compares it: code point by code point, so by UTF-8 bytes) -> index in `members`.
        var positions: [[UInt8]: Int] = [:]
        self.skipWhitespace()
        if self.current == "}" {
            self.index += 1
            return .object(members)
        }
        while true {
            guard self.current == "\"" else {
                throw Failure(message: "Expecting property name enclosed in double quotes", position: self.index)
            }
            let key = try self.string()
            self.skipWhitespace()
            guard self.current == ":" else { throw Failure(message: "Expecting ':' delimiter", position: self.index) }
            self.index += 1
            self.skipWhitespace()
            let value = try self.value()
            let keyBytes = Array(key.utf8)
            if let existing = positions[keyBytes] {
                members[existing].value = value
            } else {
                positions[keyBytes] = members.count
                members.append((key, value))
            }
            self.skipWhitespace()
            switch self.current {
            case "}":
                self.index += 1
                return .object(members)
            case ",":
                self.index += 1
                self.skipWhitespace()
            default:
                throw Failure(message: "Expecting ',' delimiter", position: self.index)
            }
        }
    }

    private mutating func array() throws(Failure) -> JSONValue {
        self.index += 1
        var items: [JSONValue] = []
        self.skipWhitespace()
        if self.current == "]" {
            self.index += 1
            return .array(items)
        }
        while true {
            items.append(try self.value())
            self.skipWhitespace()
            switch self.current {
            case "]":
                self.index += 1
                return .array(items)
            case ",":
                self.index += 1
                self.skipWhitespace()
            default:
                throw Failure(message: "Expecting ',' delimiter", position: self.index)
            }
        }
    }
}

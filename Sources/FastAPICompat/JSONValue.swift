/// A JSON value as Python's `json` module reads it: objects keep the first position of a key and the
/// last value (a duplicated key takes the last value), integers keep every digit, and floats are
/// doubles. The gateway needs this fidelity to answer exactly as the original FastAPI endpoint did.
public enum JSONValue: Equatable, Sendable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    /// An integer of any size, as its decimal digits with an optional leading `-` (normalized).
    case integer(String)
    case float(Double)
    case bool(Bool)
    case null

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let a), .array(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        case (.float(let a), .float(let b)): a == b || (a.isNaN && b.isNaN)
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    /// The value of `key` in an object, or nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }
}

extension JSONValue {
    /// Serializes like Python's `json.dumps(value, ensure_ascii=False, separators=(",", ":"))`, which
    /// FastAPI uses for its responses: compact, non-ASCII kept, Python's float repr.
    public var pythonJSON: String {
        var out = ""
        self.write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .object(let members):
            out += "{"
            for (index, member) in members.enumerated() {
                if index > 0 { out += "," }
                JSONValue.string(member.key).write(to: &out)
                out += ":"
                member.value.write(to: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .string(let text):
            out += "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case "\u{08}": out += "\\b"
                case "\u{0C}": out += "\\f"
                case let c where c.value < 0x20:
                    let hex = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
            out += "\""
        case .integer(let digits):
            out += digits
        case .float(let value):
            out += PythonFloat.repr(value)
        case .bool(let value):
            out += value ? "true" : "false"
        case .null:
            out += "null"
        }
    }
}

/// Python's `repr(float)`: the shortest round-trip digits, in fixed notation for exponents -4 to 15
/// and `d.ddde+XX` notation otherwise.
enum PythonFloat {
    static func repr(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
        let (negative, digits, exponent) = self.shortestDigits(value)
        // `exponent` is the position of the decimal point after the first digit: value = 0.d1d2... × 10^(exponent+1).
        var out = negative ? "-" : ""
        if exponent < -4 || exponent >= 16 {
            out += String(digits.first!)
            if digits.count > 1 { out += "." + digits.dropFirst() }
            out += "e" + (exponent < 0 ? "-" : "+")
            let magnitude = String(abs(exponent))
            out += magnitude.count < 2 ? "0" + magnitude : magnitude
        } else if exponent < 0 {
            out += "0." + String(repeating: "0", count: -exponent - 1) + digits
        } else {
            let integerCount = exponent + 1
            if digits.count <= integerCount {
                out += digits + String(repeating: "0", count: integerCount - digits.count) + ".0"
            } else {
                out += digits.prefix(integerCount) + "." + digits.dropFirst(integerCount)
            }
        }
        return out
    }

    /// The shortest round-trip decimal digits of `value` (from Swift's own shortest formatting) and the
    /// decimal exponent of the first digit.
    static func shortestDigits(_ value: Double) -> (negative: Bool, digits: String, exponent: Int) {
        var text = abs(value).description  // e.g. "1.5", "1e+20", "0.0025", "1.2345e-07"
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...])!
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let integer = String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        var digits = integer + fraction
        var pointPosition = integer.count + exponent  // digits before the decimal point
        let leadingZeros = digits.prefix { $0 == "0" }.count
        digits.removeFirst(leadingZeros)
        pointPosition -= leadingZeros
        while digits.count > 1, digits.last == "0" { digits.removeLast() }
        return (value < 0, digits.isEmpty ? "0" : digits, pointPosition - 1)
    }
}

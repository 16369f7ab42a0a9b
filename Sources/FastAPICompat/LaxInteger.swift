/// pydantic v2's lax-mode `int` validation, as the original `Feedback` model applied it to each field.
///
/// Integers of any size, integral floats within the 64-bit range, booleans, and strings such as
/// `" -42 "`, `"+1"`, `"1_000"` or `"42.0"` are integers; the result is the normalized decimal digits.
enum LaxInteger {
    static func validate(_ value: JSONValue, field: String) -> Result<String, ValidationIssue> {
        switch value {
        case .integer(let digits):
            return .success(digits)
        case .bool(let flag):
            return .success(flag ? "1" : "0")
        case .float(let number):
            guard number.isFinite else {
                return .failure(.field(field, type: "finite_number", message: "Input should be a finite number", input: value))
            }
            guard number.rounded(.towardZero) == number else {
                return .failure(
                    .field(field, type: "int_from_float", message: "Input should be a valid integer, got a number with a fractional part", input: value)
                )
            }
            guard number >= -9_223_372_036_854_775_808.0, number < 9_223_372_036_854_775_808.0 else {
                return .failure(
                    .field(field, type: "int_parsing_size", message: "Unable to parse input string as an integer, exceeded maximum size", input: value)
                )
            }
            return .success(String(Int64(number)))
        case .string(let text):
            guard let digits = self.parse(text) else {
                return .failure(
                    .field(field, type: "int_parsing", message: "Input should be a valid integer, unable to parse string as an integer", input: value)
                )
            }
            return .success(digits)
        case .null, .array, .object:
            return .failure(.field(field, type: "int_type", message: "Input should be a valid integer", input: value))
        }
    }

    /// `[+-]?D(_?D)*(\.0+)?` after stripping whitespace, D an ASCII digit; nil otherwise.
    static func parse(_ text: String) -> String? {
        let trimmed = text.unicodeScalars.drop { $0.properties.isWhitespace }.reversed().drop { $0.properties.isWhitespace }.reversed()
        var scalars = Array(trimmed)
        var negative = false
        if let sign = scalars.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            scalars.removeFirst()
        }
        if let dot = scalars.firstIndex(of: ".") {
            let fraction = scalars[(dot + 1)...]
            guard !fraction.isEmpty, fraction.allSatisfy({ $0 == "0" }) else { return nil }
            scalars.removeSubrange(dot...)
        }
        var digits = ""
        var previousWasDigit = false
        for scalar in scalars {
            if ("0"..."9").contains(scalar) {
                digits.unicodeScalars.append(scalar)
                previousWasDigit = true
            } else if scalar == "_", previousWasDigit {
                previousWasDigit = false
            } else {
                return nil
            }
        }
        guard !digits.isEmpty, previousWasDigit else { return nil }
        let significant = digits.drop { $0 == "0" }
        if significant.isEmpty { return "0" }
        return (negative ? "-" : "") + significant
    }
}

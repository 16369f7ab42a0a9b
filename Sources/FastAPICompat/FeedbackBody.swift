import Foundation

/// The body of `POST /feedback`, validated as the original FastAPI endpoint did (pydantic v2, lax mode),
/// with one deliberate difference: an `interaction_id` outside the signed 64-bit range is a 422 (the
/// original crashed into a 503).
public struct FeedbackBody: Equatable, Sendable {
    public var interactionID: Int64
    /// 1 or -1 once validated.
    public var rating: Int32

    /// Why a body was refused, in the shape FastAPI answers with.
    public enum Rejection: Error, Equatable {
        /// 422 with a `detail` list.
        case invalid([ValidationIssue])
        /// 422 `{"detail": "rating must be 1 (positive) or -1 (negative)"}`.
        case ratingOutOfRange
        /// 400 `{"detail": "There was an error parsing the body"}`: a JSON body that is not UTF-8, or
        /// nested deeper than ``PythonJSONParser/maxDepth`` (Python's `RecursionError`).
        case unparseable
    }

    static let int64Max = "9223372036854775807"
    static let int64Min = "-9223372036854775808"

    /// Validates `body` sent with `contentType`: ``decode(body:contentType:)``, then ``validate(_:)``.
    public static func parse(body: [UInt8], contentType: String?) -> Result<FeedbackBody, Rejection> {
        self.decode(body: body, contentType: contentType).flatMap(self.validate)
    }

    /// What FastAPI does with the bytes before any dependency (authentication included) runs: a JSON
    /// body (by its content type) is parsed, anything else is its text; an empty body is nil.
    ///
    /// Fails only where FastAPI fails before authentication: ``Rejection/invalid(_:)`` with a single
    /// `json_invalid` issue for malformed JSON (422), ``Rejection/unparseable`` for bytes that are not
    /// valid in the encoding Python detects (UTF-8, with or without a BOM, UTF-16, UTF-32) or JSON that
    /// nests too deep (400). Everything else is for ``validate(_:)``, after authentication.
    public static func decode(body: [UInt8], contentType: String?) -> Result<JSONValue?, Rejection> {
        if body.isEmpty { return .success(nil) }
        guard self.isJSON(contentType) else { return .success(.string(String(decoding: body, as: UTF8.self))) }
        guard let text = PythonJSONText.decode(body) else { return .failure(.unparseable) }
        do {
            return .success(try PythonJSONParser.parse(text))
        } catch {
            if error.kind == .tooDeep { return .failure(.unparseable) }
            return .failure(
                .invalid([
                    ValidationIssue(
                        type: "json_invalid", location: [.string("body"), .integer(String(error.position))],
                        message: "JSON decode error", input: .object([]), context: [("error", .string(error.message))]
                    )
                ])
            )
        }
    }

    /// The model's validation of a decoded body (nil: none was sent), then the endpoint's rating check.
    public static func validate(_ value: JSONValue?) -> Result<FeedbackBody, Rejection> {
        guard let value else {
            return .failure(.invalid([ValidationIssue(type: "missing", location: [.string("body")], message: "Field required", input: .null)]))
        }
        return self.validate(present: value)
    }

    private static func validate(present value: JSONValue) -> Result<FeedbackBody, Rejection> {
        guard case .object = value else {
            return .failure(
                .invalid([
                    ValidationIssue(
                        type: "model_attributes_type", location: [.string("body")],
                        message: "Input should be a valid dictionary or object to extract fields from", input: value
                    )
                ])
            )
        }
        var issues: [ValidationIssue] = []
        var fields: [String: String] = [:]
        for name in ["interaction_id", "rating"] {
            guard let field = value[name] else {
                issues.append(.field(name, type: "missing", message: "Field required", input: value))
                continue
            }
            switch LaxInteger.validate(field, field: name) {
            case .success(let digits): fields[name] = digits
            case .failure(let issue): issues.append(issue)
            }
        }
        if let id = fields["interaction_id"], Int64(id) == nil, let input = value["interaction_id"] {
            let tooLarge = !id.hasPrefix("-")
            let bound = tooLarge ? self.int64Max : self.int64Min
            issues.insert(
                ValidationIssue(
                    type: tooLarge ? "less_than_equal" : "greater_than_equal",
                    location: [.string("body"), .string("interaction_id")],
                    message: "Input should be \(tooLarge ? "less" : "greater") than or equal to \(bound)",
                    input: input,
                    context: [(tooLarge ? "le" : "ge", .integer(bound))]
                ),
                at: 0
            )
        }
        guard issues.isEmpty, let id = fields["interaction_id"].flatMap({ Int64($0) }), let rating = fields["rating"] else {
            return .failure(.invalid(issues))
        }
        guard rating == "1" || rating == "-1" else { return .failure(.ratingOutOfRange) }
        return .success(FeedbackBody(interactionID: id, rating: Int32(rating)!))
    }

    /// FastAPI reads the body as JSON for `application/json` and `application/*+json`, any parameters.
    public static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        if contentType == "application/json" { return true }  // nearly every request: no parsing
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        guard mediaType.hasPrefix("application/") else { return false }
        let subtype = mediaType.dropFirst("application/".count)
        return subtype == "json" || subtype.hasSuffix("+json")
    }
}

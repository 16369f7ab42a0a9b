/// One entry of a FastAPI/pydantic 422 `detail` list.
struct ValidationIssue: Error, Equatable, Sendable {
    var type: String
    /// `["body"]`, `["body", "rating"]`, or `["body", <character offset>]` for JSON errors.
    var location: [JSONValue]
    var message: String
    var input: JSONValue
    var context: [(key: String, value: JSONValue)]?

    static func == (lhs: ValidationIssue, rhs: ValidationIssue) -> Bool {
        lhs.json == rhs.json
    }

    var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("type", .string(self.type)), ("loc", .array(self.location)), ("msg", .string(self.message)),
            ("input", self.input),
        ]
        if let context = self.context { members.append(("ctx", .object(context))) }
        return .object(members)
    }

    static func field(_ name: String, type: String, message: String, input: JSONValue) -> ValidationIssue {
        ValidationIssue(type: type, location: [.string("body"), .string(name)], message: message, input: input)
    }
}

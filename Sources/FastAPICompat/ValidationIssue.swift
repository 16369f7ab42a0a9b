/// One entry of a FastAPI/pydantic 422 `detail` list.
public struct ValidationIssue: Error, Equatable, Sendable {
    public var type: String
    /// `["body"]`, `["body", "rating"]`, or `["body", <character offset>]` for JSON errors.
    public var location: [JSONValue]
    public var message: String
    public var input: JSONValue
    public var context: [(key: String, value: JSONValue)]?

    public static func == (lhs: ValidationIssue, rhs: ValidationIssue) -> Bool {
        lhs.json == rhs.json
    }

    public var json: JSONValue {
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

import FastAPICompat
import Testing

@Suite("Python JSON parser: bounded depth, linear objects")
struct PythonJSONParserLimitTests {
    @Test("nesting up to maxDepth parses", arguments: ["[", "{\"a\":"])
    func deepestAccepted(_ opener: String) throws {
        let closer = opener == "[" ? "]" : "}"
        let depth = PythonJSONParser.maxDepth
        let text = String(repeating: opener, count: depth) + "1" + String(repeating: closer, count: depth)
        var value = try PythonJSONParser.parse(text)
        for _ in 0..<depth {
            switch value {
            case .array(let items): value = try #require(items.first)
            case .object(let members): value = try #require(members.first?.value)
            default: Issue.record("not nested \(depth) deep")
            }
        }
        #expect(value == .integer("1"))
    }

    @Test("100,000 levels fail as too deep instead of overflowing the stack", arguments: ["[", "{\"a\":"])
    func hundredThousandLevels(_ opener: String) {
        let text = String(repeating: opener, count: 100_000)
        let error = #expect(throws: PythonJSONParser.Failure.self) { try PythonJSONParser.parse(text) }
        #expect(error?.kind == .tooDeep)
    }

    @Test("one level past maxDepth is too deep, even when the document is otherwise complete")
    func onePastLimit() {
        let depth = PythonJSONParser.maxDepth + 1
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let error = #expect(throws: PythonJSONParser.Failure.self) { try PythonJSONParser.parse(text) }
        #expect(error?.kind == .tooDeep)
    }

    @Test("a too-deep body is 400 'There was an error parsing the body', as FastAPI answers RecursionError")
    func tooDeepBody() {
        let body = Array(String(repeating: "[", count: 50_000).utf8)
        #expect(FeedbackBody.parse(body: body, contentType: "application/json") == .failure(.unparseable))
    }

    @Test("duplicate keys keep the first position and the last value")
    func duplicates() throws {
        let value = try PythonJSONParser.parse(#"{"a": 1, "b": 2, "a": 3}"#)
        #expect(value == .object([("a", .integer("3")), ("b", .integer("2"))]))
    }

    @Test("keys that differ only in Unicode normalization stay distinct, as in Python")
    func normalization() throws {
        let value = try PythonJSONParser.parse("{\"\u{E9}\": 1, \"e\u{301}\": 2}")
        guard case .object(let members) = value else {
            Issue.record("not an object")
            return
        }
        #expect(members.count == 2)
    }

    /// 60,000 distinct keys: with a linear scan per key this is 1.8 billion comparisons (minutes);
    /// linear parsing takes milliseconds. No timing is asserted, but a quadratic parser would stall CI.
    @Test("60,000 distinct keys and 60,000 duplicates parse", .timeLimit(.minutes(1)))
    func manyKeys() throws {
        let distinct = "{" + (0..<60_000).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}"
        guard case .object(let members) = try PythonJSONParser.parse(distinct) else {
            Issue.record("not an object")
            return
        }
        #expect(members.count == 60_000)
        #expect(members.last?.value == .integer("59999"))
        let duplicated = "{" + (0..<60_000).map { "\"k\($0 % 2)\":\($0)" }.joined(separator: ",") + "}"
        #expect(try PythonJSONParser.parse(duplicated) == .object([("k0", .integer("59998")), ("k1", .integer("59999"))]))
    }
}

@testable import FeedbackAuth
import FeedbackTestSupport
import Foundation
import Testing

@Suite("Bearer credentials")
struct BearerCredentialsTests {
    @Test(
        "whitespace around the token is trimmed exactly as Foundation's CharacterSet.whitespaces would",
        arguments: [
            "abc", " abc ", "\tabc\t", "\u{00A0}abc\u{3000}", "\u{2003}a b\u{2009}", "\nabc\n", "\u{200B}abc", "a\u{00A0}", "\u{205F}\u{1680}",
            "  ", "é", "abc\r",
        ]
    )
    func trimming(token: String) {
        let expected = token.trimmingCharacters(in: .whitespaces)
        let parsed = BearerCredentials(authorization: "Bearer " + token)
        #expect(parsed == (expected.isEmpty ? .missing : .token(expected)))
    }

    @Test("the whitespace test agrees with CharacterSet.whitespaces on every Unicode scalar")
    func everyScalar() {
        let differing = (0...0x10FFFF).compactMap(Unicode.Scalar.init).filter {
            BearerCredentials.isWhitespace($0) != CharacterSet.whitespaces.contains($0)
        }
        #expect(differing.isEmpty, "\(differing.map { String($0.value, radix: 16) })")
    }

    @Test(
        "SPEC.md 7.2: `Bearer` in any case, one or more spaces, the token; spaces around are ignored (FastAPI's HTTPBearer)",
        arguments: [
            ("Bearer tok", BearerCredentials.token("tok")), ("BEARER tok", .token("tok")), ("Bearer    tok", .token("tok")),
            ("Bearer tok ", .token("tok")), ("Bearer tok   ", .token("tok")), ("  Bearer  tok  ", .token("tok")),
            ("Bearer", .missing), ("Bearer   ", .missing), ("Bearertok", .otherScheme), ("Basic tok", .otherScheme),
        ]
    )
    func specRule(_ value: String, _ expected: BearerCredentials) {
        #expect(BearerCredentials(authorization: value) == expected)
    }

    @Test("the scheme is case-insensitive; other schemes and a bare scheme are told apart")
    func schemes() {
        #expect(BearerCredentials(authorization: "bEaReR t") == .token("t"))
        #expect(BearerCredentials(authorization: "Bearer") == .missing)
        #expect(BearerCredentials(authorization: nil) == .missing)
        #expect(BearerCredentials(authorization: "") == .missing)
        #expect(BearerCredentials(authorization: "Basic dXNlcg==") == .otherScheme)
        #expect(BearerCredentials(authorization: "token-without-scheme") == .otherScheme)
        #expect(BearerCredentials(authorization: "   ") == .otherScheme)
        #expect(BearerCredentials(authorization: "  Bearer   tok  ") == .token("tok"))
        #expect(BearerCredentials(authorization: "Bearer ") == .missing)
        #expect(BearerCredentials(authorization: "Bearer \t") == .missing)
        #expect(BearerCredentials(authorization: "Bearer\ttok") == .otherScheme)
        #expect(BearerCredentials(authorization: "Bearerx tok") == .otherScheme)
        #expect(BearerCredentials(authorization: "Bearer a b") == .token("a b"))
    }
}

import FeedbackLogging
import FeedbackTestSupport
import Testing

@Suite("Text logs")
struct TextLogHandlerTests {
    @Test("control characters and backslashes are escaped: no logged value can start a line of its own")
    func escaping() {
        #expect(TextLogHandler.escaped("plain value") == "plain value")
        #expect(TextLogHandler.escaped("HS256\n2026-01-01T00:00:00Z error forged") == "HS256\\n2026-01-01T00:00:00Z error forged")
        #expect(TextLogHandler.escaped("a\r\tb\\c") == "a\\r\\tb\\\\c")
        #expect(TextLogHandler.escaped("nul\u{0}esc\u{1B}del\u{7F}c1\u{85}ls\u{2028}") == "nul\\u{0}esc\\u{1b}del\\u{7f}c1\\u{85}ls\\u{2028}")
        #expect(TextLogHandler.escaped("é ünïcode") == "é ünïcode")
    }
}

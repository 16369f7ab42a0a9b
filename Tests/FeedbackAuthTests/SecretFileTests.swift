import FeedbackAuth
import FeedbackTestSupport
import Foundation
import Testing

@Suite("Secret file (feedbackd --jwt-secret-file, feedbackctl --secret-file)")
struct SecretFileTests {
    @Test(
        "the secret is the file's bytes less every CR and LF at their end; nothing else is removed",
        arguments: [
            ("s3cret", "s3cret"),
            ("s3cret\n", "s3cret"),
            ("s3cret\r\n", "s3cret"),
            ("s3cret\n\n", "s3cret"),
            ("\ns3cret\n", "\ns3cret"),
            (" s3cret \n", " s3cret "),
            ("s3cret\t\n", "s3cret\t"),
            ("s3\ncret\n", "s3\ncret"),
            ("s3cret\u{0B}\u{0C}\u{85}", "s3cret\u{0B}\u{0C}\u{85}"),
            ("\n\r\n", ""),
        ]
    )
    func contents(_ file: String, _ secret: String) {
        #expect(SecretFile.secret(fromContents: Array(file.utf8)) == Array(secret.utf8))
    }

    @Test("any bytes, not only UTF-8; read from a file as they are")
    func bytes() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        let secret: [UInt8] = [0xFF, 0x00, 0x80, 0x0A, 0x41] + Array(repeating: 0xC3, count: 32)
        try Data(secret + [0x0D, 0x0A]).write(to: url)
        #expect(try SecretFile.read(url.path) == secret)
        #expect(throws: (any Error).self) { try SecretFile.read(url.path + "-missing") }
    }
}

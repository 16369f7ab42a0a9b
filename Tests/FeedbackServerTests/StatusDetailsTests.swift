import Foundation
import NIOCore
import RPCCodec
import Testing

@testable import RPCUnixTransport

@Suite("Status details of refused calls")
struct StatusDetailsTests {
    @Test("the RESPONSE for a refused call is byte for byte the golden vector response-refused-error-info")
    func matchesVector() throws {
        let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("protocol/vectors/frames.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: vectors)) as? [String: Any]
        let valid = try #require(json?["valid"] as? [[String: Any]])
        let hex = try #require(valid.first { $0["name"] as? String == "response-refused-error-info" }?["hex"] as? String)

        let response = StatusDetails.response(refusing: WireError(.missingMethod, "REQUEST has no :method"))
        var buffer = ByteBuffer()
        try buffer.writeResponseFrame(callID: 1, response)
        #expect(buffer.readableBytesView.map { String(format: "%02x", $0) }.joined() == hex)
    }
}

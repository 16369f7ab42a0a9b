import FeedbackServer
import FeedbackTestSupport
import Foundation
import NIOCore
import RPCCodec
import RPCCore
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

        let executor = ServerCallExecutor(router: RPCRouter(), configuration: .feedbackd, logger: quietLogger())
        let error = WireError(.missingMethod, "REQUEST has no :method")
        let refusal = RPCError(code: try #require(RPCError.Code(StatusCode(rawValue: error.statusCode))), message: error.message)
        let response = Response(executor.refuse(method: "", refusal, reason: error.code.name))
        var buffer = ByteBuffer()
        try buffer.writeResponseFrame(callID: 1, response)
        #expect(buffer.readableBytesView.map { String(format: "%02x", $0) }.joined() == hex)
    }
}

import FeedbackProtos
import RPCCodec
import RPCCore
import SwiftProtobuf

/// `status-details-bin` (SPEC.md section 6) for the calls the transport refuses itself: a
/// `feedback.rpc.v1.Status` whose details hold an `ErrorInfo` (packed as `google.rpc.ErrorInfo`) naming
/// the protocol error, so that a client can tell `INVALID_METADATA_KEY` from `METADATA_TOO_LARGE`
/// without parsing the message.
enum StatusDetails {
    static let domain = "feedback-rpc"
    static let errorInfoTypeURL = "type.googleapis.com/google.rpc.ErrorInfo"

    /// The RESPONSE for a REQUEST payload the codec refused (a call error).
    static func response(refusing error: WireError) -> Response {
        var metadata = WireMetadata()
        if let details = Self.encoded(code: error.statusCode, message: error.message, reason: error.code.name) {
            try? metadata.add(Metadata.statusDetailsKey, binary: details)
        }
        return Response(code: error.statusCode, message: error.message, metadata: metadata)
    }

    static func encoded(code: UInt32, message: String, reason: String) -> [UInt8]? {
        var info = Feedback_Rpc_V1_ErrorInfo()
        info.reason = reason
        info.domain = Self.domain
        var status = Feedback_Rpc_V1_Status()
        status.code = Int32(bitPattern: code)
        status.message = message
        do {
            var any = Google_Protobuf_Any()
            any.typeURL = Self.errorInfoTypeURL
            any.value = try info.serializedBytes()
            status.details = [any]
            return try status.serializedBytes()
        } catch {
            return nil
        }
    }
}

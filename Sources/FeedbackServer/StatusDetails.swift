import FeedbackProtos
import RPCCore
import SwiftProtobuf

/// `status-details-bin` (SPEC.md section 6) for the calls a transport refuses itself: a
/// `feedback.rpc.v1.Status` whose details hold an `ErrorInfo` (packed as `google.rpc.ErrorInfo`) naming
/// the protocol error, so that a client can tell `INVALID_METADATA_KEY` from `METADATA_TOO_LARGE`
/// without parsing the message. feedbackd's executor uses it
/// (``RPCCore/ServerCallExecutor/Configuration/statusDetails``).
enum StatusDetails {
    static let domain = "feedback-rpc"
    static let errorInfoTypeURL = "type.googleapis.com/google.rpc.ErrorInfo"

    /// The serialized `Status` for a refusal with `code`, `message` and `reason`.
    @Sendable
    static func encode(code: StatusCode, message: String, reason: String) -> [UInt8]? {
        var info = Feedback_Rpc_V1_ErrorInfo()
        info.reason = reason
        info.domain = Self.domain
        var status = Feedback_Rpc_V1_Status()
        status.code = Int32(bitPattern: code.rawValue)
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

extension ServerCallExecutor.Configuration {
    /// feedbackd's call rules: the defaults, with ``StatusDetails`` for refused calls.
    public static var feedbackd: Self {
        var configuration = Self()
        configuration.statusDetails = StatusDetails.encode
        return configuration
    }
}

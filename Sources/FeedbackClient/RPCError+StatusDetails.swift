import FeedbackProtos
import RPCCore
import SwiftProtobuf

extension RPCError {
    /// The structured details the server sent in `status-details-bin` (SPEC.md section 6), if any.
    public var statusDetails: Feedback_Rpc_V1_Status? {
        guard let bytes = self.metadata.firstBinary(Metadata.statusDetailsKey) else { return nil }
        return try? Feedback_Rpc_V1_Status(serializedBytes: bytes)
    }

    /// The machine-readable reason of the failure (`ErrorInfo.reason` in the status details), e.g.
    /// `INVALID_METADATA_KEY` for a call feedbackd refused before running it.
    public var errorReason: String? {
        for detail in self.statusDetails?.details ?? [] where detail.typeURL.hasSuffix("/google.rpc.ErrorInfo") {
            if let info = try? Feedback_Rpc_V1_ErrorInfo(serializedBytes: detail.value) { return info.reason }
        }
        return nil
    }
}

import NIOCore
import RPCCodec
import RPCCore

// The one place where a call's answer (RPCCore) and its RESPONSE frame (RPCCodec) meet.

extension Response {
    /// The RESPONSE that sends `answer`: `x-request-id` first, then the error's metadata. An entry the
    /// protocol forbids is a bug of the handler that made it: it is dropped, not sent.
    init(_ answer: CallAnswer) {
        var metadata = WireMetadata()
        if let requestID = answer.requestID { try? metadata.add("x-request-id", requestID) }
        for entry in answer.metadata {
            switch entry.value {
            case .string(let value): try? metadata.add(entry.key, value)
            case .binary(let value): try? metadata.add(entry.key, binary: value)
            }
        }
        self.init(code: answer.code.rawValue, message: answer.message, metadata: metadata, body: ByteBuffer(bytes: answer.body))
    }
}

extension ServerCall {
    /// The call a decoded REQUEST makes, read now on connection `connectionID`.
    init(callID: UInt32, _ request: Request, peer: PeerCredentials?, connectionID: Int, isStream: Bool = false) {
        self.init(
            callID: callID,
            method: request.method,
            message: Array(request.body.readableBytesView),
            metadata: Metadata(request.metadata),
            timeout: request.timeoutMilliseconds.map { .milliseconds(Int64($0)) },
            peer: peer,
            connectionID: connectionID,
            isStream: isStream
        )
    }
}

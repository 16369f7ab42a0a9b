/// How a call ended, as its transport sends it: a status, the response message when OK, and the
/// response metadata (the call's `x-request-id` first, when it has one, then whatever the error carried).
public struct CallAnswer: Sendable, Equatable {
    public var code: StatusCode
    /// The status message (empty when OK).
    public var message: String
    /// The response message (empty unless OK).
    public var body: [UInt8]
    /// Echoed as the response's `x-request-id`; nil for a call refused before it had one.
    public var requestID: String?
    /// The error's own metadata (`status-details-bin`, say), sent after `x-request-id`.
    public var metadata: Metadata

    public init(code: StatusCode, message: String = "", body: [UInt8] = [], requestID: String?, metadata: Metadata = Metadata()) {
        self.code = code
        self.message = message
        self.body = body
        self.requestID = requestID
        self.metadata = metadata
    }

    init(_ result: Result<[UInt8], RPCError>, requestID: String) {
        switch result {
        case .success(let body):
            self.init(code: .ok, body: body, requestID: requestID)
        case .failure(let error):
            self.init(code: error.code.status, message: error.message, requestID: requestID, metadata: error.metadata)
        }
    }

    /// The response metadata in order: `x-request-id`, then ``metadata``.
    public var responseMetadata: Metadata {
        guard let requestID = self.requestID else { return self.metadata }
        var metadata: Metadata = [("x-request-id", requestID)]
        metadata.add(contentsOf: self.metadata)
        return metadata
    }
}

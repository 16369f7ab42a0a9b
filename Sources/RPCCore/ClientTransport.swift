/// How a client reaches a server: the Unix socket (`UnixClientTransport`), or the server's router in
/// the same process (``InProcessTransport``), for tests that need no socket. Clients such as
/// `FeedbackClient` are written against this and never see frames.
public protocol ClientTransport: Sendable {
    /// Runs one unary call.
    /// - Parameters:
    ///   - method: `/SERVICE/METHOD`.
    ///   - request: the serialized request message.
    ///   - timeout: the call's deadline from now (sent as `:timeout`), or nil.
    /// - Returns: the serialized response message and the response metadata, when the status is OK.
    /// - Throws: ``RPCError`` with the server's code, message and metadata, or the transport's own
    ///   failure (UNAVAILABLE when the server cannot be reached, DEADLINE_EXCEEDED, CANCELLED).
    func unary(method: String, request: [UInt8], metadata: Metadata, timeout: Duration?) async throws(RPCError) -> ClientResponse

    /// Calls a server-streaming method: the messages as the caller reads them, then the call's end
    /// (``ClientStream``). `timeout` is the whole stream's deadline; nil for none (a stream may be endless).
    func serverStream(method: String, request: [UInt8], metadata: Metadata, timeout: Duration?) async -> ClientStream

    /// Lets calls in flight finish, then releases the transport's resources.
    func close() async
}

/// A successful call's answer.
public struct ClientResponse: Sendable {
    public var message: [UInt8]
    public var metadata: Metadata

    public init(message: [UInt8], metadata: Metadata = Metadata()) {
        self.message = message
        self.metadata = metadata
    }
}

import NIOCore
import RPCCodec
import RPCCore
import Synchronization

/// The client side of the Unix socket: one connection, opened on first use, multiplexes every
/// concurrent call. After a GOAWAY or a dropped connection the next call reconnects; a call the server
/// did not process (GOAWAY above it, or never sent) is retried once on the new connection, and only
/// such a call: one the server may have run is never sent twice.
public final class UnixClientTransport: ClientTransport {
    public let socketPath: String
    /// How long connecting (and the HELLO exchange) may take at least; a call with a longer timeout
    /// waits as long as its timeout (a server restarting under socket activation takes the connection
    /// from its backlog only once it serves).
    public let connectTimeout: Duration
    /// How long a call sent waits for the server's answer after its deadline or cancellation before it
    /// is reported UNKNOWN (``ClientConnection/defaultAnswerGrace``).
    public let answerGrace: Duration
    private let connection = Mutex<ClientConnection?>(nil)

    public init(socketPath: String, connectTimeout: Duration = .seconds(5), answerGrace: Duration = ClientConnection.defaultAnswerGrace) {
        self.socketPath = socketPath
        self.connectTimeout = connectTimeout
        self.answerGrace = answerGrace
    }

    /// - Throws: ``RPCError``; a metadata entry the protocol forbids gives INVALID_ARGUMENT (nothing is sent).
    public func unary(method: String, request: [UInt8], metadata: Metadata, timeout: Duration?) async throws(RPCError) -> ClientResponse {
        let wireMetadata: WireMetadata
        do {
            wireMetadata = try WireMetadata(validating: metadata)
        } catch {
            throw RPCError(code: .invalidArgument, message: "Invalid metadata: \(error.message)", cause: error)
        }
        let response = try await self.call(Request(method: method, metadata: wireMetadata, body: ByteBuffer(bytes: request)), timeout: timeout)
        let responseMetadata = Metadata(response.metadata)
        guard let code = RPCError.Code(StatusCode(rawValue: response.code).normalized) else {
            return ClientResponse(message: Array(response.body.readableBytesView), metadata: responseMetadata)
        }
        throw RPCError(code: code, message: response.message, metadata: responseMetadata)
    }

    /// Calls a server-streaming method on the shared connection (``ClientConnection/serverStream(_:timeout:)``).
    /// Failing to connect, or metadata the protocol forbids, ends the stream at once with its error.
    public func serverStream(method: String, request: [UInt8], metadata: Metadata, timeout: Duration?) async -> ClientStream {
        let wireMetadata: WireMetadata
        do {
            wireMetadata = try WireMetadata(validating: metadata)
        } catch {
            return .failed(RPCError(code: .invalidArgument, message: "Invalid metadata: \(error.message)", cause: error))
        }
        do {
            let connection = try await self.usableConnection()
            return connection.serverStream(Request(method: method, metadata: wireMetadata, body: ByteBuffer(bytes: request)), timeout: timeout)
        } catch {
            return .failed(error)
        }
    }

    private func call(_ request: Request, timeout: Duration?) async throws(RPCError) -> Response {
        for attempt in 0..<2 {
            let connection = try await self.usableConnection(waitingUpTo: timeout)
            do {
                return try await connection.call(request, timeout: timeout)
            } catch where error.cause is ClientConnection.NotProcessed && attempt == 0 {
                continue  // never reached the handler: safe to send again on a new connection
            }
        }
        throw RPCError(code: .unavailable, message: "Server unavailable: calls were not processed.")
    }

    /// The shared connection, or a new one, connected (its HELLO received) within ``connectTimeout`` or
    /// `callTimeout`, whichever is longer.
    private func usableConnection(waitingUpTo callTimeout: Duration? = nil) async throws(RPCError) -> ClientConnection {
        if let current = self.connection.withLock({ $0 }), current.isUsable { return current }
        let wait = callTimeout.map { max(self.connectTimeout, $0) } ?? self.connectTimeout
        let until = ContinuousClock.now + wait
        var attempts = 0
        while true {
            do {
                let fresh = try await ClientConnection.connect(to: self.socketPath, timeout: until - .now, answerGrace: self.answerGrace)
                return await self.share(fresh)
            } catch where [.serverGoingAway, .connectionClosed].contains(error.code) && attempts < 8 && until > .now {
                // Closed before the server's HELLO (it is shutting down, or exited with the connection
                // accepted): nothing was sent, and its successor may take the next connection.
                attempts += 1
            } catch {
                throw RPCError(code: .unavailable, message: "feedbackd is unreachable: \(error.message)", cause: error)
            }
        }
    }

    /// `fresh` as the shared connection, unless another call made a usable one meanwhile (then `fresh`
    /// is closed and that one returned).
    private func share(_ fresh: ClientConnection) async -> ClientConnection {
        let (winner, loser) = self.connection.withLock { current -> (ClientConnection, ClientConnection?) in
            if let current, current.isUsable { return (current, fresh) }
            let stale = current
            current = fresh
            return (fresh, stale)
        }
        if let loser { await loser.close() }
        return winner
    }

    /// Lets calls in flight finish, then closes the connection.
    public func close() async {
        let current = self.connection.withLock { current -> ClientConnection? in
            defer { current = nil }
            return current
        }
        await current?.close()
    }
}

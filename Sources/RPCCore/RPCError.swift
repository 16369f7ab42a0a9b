/// The one error type at the RPC boundary: a status code, a message for the caller, and the
/// metadata to send with it.
///
/// Handlers and interceptors throw it to choose what the caller sees. Anything else they throw is
/// turned into ``StatusCode/internal`` with a generic message; its description is logged, never sent.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Never ``StatusCode/ok``.
    public var code: StatusCode
    /// Sent to the caller as the status message.
    public var message: String
    /// Extra metadata for the RESPONSE, e.g. `status-details-bin`.
    public var metadata: [(key: String, value: String)]
    /// For logs only: what caused this error. Not sent, not compared.
    public var cause: String?

    public init(code: StatusCode, message: String, metadata: [(key: String, value: String)] = [], cause: String? = nil) {
        precondition(code != .ok, "an RPCError cannot have status OK")
        self.code = code
        self.message = message
        self.metadata = metadata
        self.cause = cause
    }

    public var description: String { "\(self.code.name): \(self.message)" }

    public static func == (lhs: RPCError, rhs: RPCError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
            && lhs.metadata.map(\.key) == rhs.metadata.map(\.key) && lhs.metadata.map(\.value) == rhs.metadata.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
        hasher.combine(self.message)
    }
}

/// A domain error that knows its RPC status: the one way domain errors cross the RPC boundary.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}

extension RPCError {
    /// `error` as the caller should see it: itself, its conversion, or a generic INTERNAL.
    public init(converting error: any Error) {
        switch error {
        case let error as RPCError:
            self = error
        case let error as any RPCErrorConvertible:
            self = error.rpcError
        case is CancellationError:
            self = RPCError(code: .cancelled, message: "The call was cancelled.")
        default:
            self = RPCError(code: .internal, message: "Internal error.", cause: String(reflecting: error))
        }
    }
}

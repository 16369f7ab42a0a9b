/// The one error type at the RPC boundary: a status code that is never OK, a message for the caller,
/// metadata to send with it (e.g. `status-details-bin`), and for the logs only, what caused it.
///
/// Handlers and interceptors throw it to choose what the caller sees. Anything else they throw is
/// turned into ``Code/internal`` with a generic message; the original error becomes the ``cause``, which
/// is logged, never sent. Clients receive it with the server's code, message and metadata.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A status code other than OK: the codes an error can have (gRPC's numbering).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The status code on the wire.
        public let status: StatusCode

        /// Nil for ``StatusCode/ok``: success is not an error.
        public init?(_ status: StatusCode) {
            guard status != .ok else { return nil }
            self.status = status
        }

        private init(unchecked status: StatusCode) {
            self.status = status
        }

        public var rawValue: UInt32 { self.status.rawValue }
        /// The SPEC.md name, e.g. `NOT_FOUND`.
        public var name: String { self.status.name }
        public var description: String { self.status.name }

        public static let cancelled = Code(unchecked: .cancelled)
        public static let unknown = Code(unchecked: .unknown)
        public static let invalidArgument = Code(unchecked: .invalidArgument)
        public static let deadlineExceeded = Code(unchecked: .deadlineExceeded)
        public static let notFound = Code(unchecked: .notFound)
        public static let alreadyExists = Code(unchecked: .alreadyExists)
        public static let permissionDenied = Code(unchecked: .permissionDenied)
        public static let resourceExhausted = Code(unchecked: .resourceExhausted)
        public static let failedPrecondition = Code(unchecked: .failedPrecondition)
        public static let aborted = Code(unchecked: .aborted)
        public static let outOfRange = Code(unchecked: .outOfRange)
        public static let unimplemented = Code(unchecked: .unimplemented)
        public static let `internal` = Code(unchecked: .internal)
        public static let unavailable = Code(unchecked: .unavailable)
        public static let dataLoss = Code(unchecked: .dataLoss)
        public static let unauthenticated = Code(unchecked: .unauthenticated)
    }

    public var code: Code
    /// Sent to the caller as the status message.
    public var message: String
    /// Sent with the RESPONSE, e.g. `status-details-bin` (``Metadata/statusDetailsKey``).
    public var metadata: Metadata
    /// For logs and for the caller's own decisions: what caused this error. Never sent; not compared.
    public var cause: (any Error)?

    public init(code: Code, message: String, metadata: Metadata = Metadata(), cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.metadata = metadata
        self.cause = cause
    }

    public var description: String { "\(self.code.name): \(self.message)" }

    public static func == (lhs: RPCError, rhs: RPCError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message && lhs.metadata == rhs.metadata
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
            self = RPCError(code: .cancelled, message: "The call was cancelled.", cause: error)
        default:
            self = RPCError(code: .internal, message: "Internal error.", cause: error)
        }
    }
}

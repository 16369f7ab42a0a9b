import FeedbackAuth
import FeedbackDomain
import RPCCore

extension FeedbackError: RPCErrorConvertible {
    /// The original endpoint's statuses: 422 → INVALID_ARGUMENT, 404 → NOT_FOUND, 503 → UNAVAILABLE.
    public var rpcError: RPCError {
        switch self {
        case .invalidRating:
            RPCError(code: .invalidArgument, message: self.message)
        case .interactionNotFound:
            RPCError(code: .notFound, message: self.message)
        case .storeUnavailable:
            RPCError(code: .unavailable, message: self.message, cause: self)
        case .cancelled:
            RPCError(code: .cancelled, message: self.message)
        case .unstorableSubject:
            RPCError(code: .invalidArgument, message: self.message)
        case .outcomeUnknown:
            RPCError(code: .unknown, message: self.message, cause: self)
        }
    }
}

extension AuthError: RPCErrorConvertible {
    public var rpcError: RPCError {
        switch self {
        case .unauthenticated(let reason): RPCError(code: .unauthenticated, message: reason)
        case .permissionDenied(let reason): RPCError(code: .permissionDenied, message: reason)
        }
    }
}

import HTTPTypes
import RPCCore

/// RPC status → HTTP status: the one table (also in the README). Where the original endpoint is silent
/// it follows grpc-gateway; INVALID_ARGUMENT is 422 as in the original, and UNKNOWN (whether the rating
/// was stored is unknown) is 504, HTTP's "the upstream's outcome is unknown", which the widget retries.
enum HTTPStatusMapping {
    static let table: [(StatusCode, HTTPResponse.Status)] = [
        (.ok, .noContent),
        (.cancelled, HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request")),
        (.unknown, .gatewayTimeout),
        (.invalidArgument, .unprocessableContent),
        (.deadlineExceeded, .gatewayTimeout),
        (.notFound, .notFound),
        (.alreadyExists, .conflict),
        (.permissionDenied, .forbidden),
        (.resourceExhausted, .tooManyRequests),
        (.failedPrecondition, .badRequest),
        (.aborted, .conflict),
        (.outOfRange, .badRequest),
        (.unimplemented, .notImplemented),
        (.internal, .internalServerError),
        (.unavailable, .serviceUnavailable),
        (.dataLoss, .internalServerError),
        (.unauthenticated, .unauthorized),
    ]

    static func httpStatus(for code: StatusCode) -> HTTPResponse.Status {
        self.table.first { $0.0 == code.normalized }?.1 ?? .internalServerError
    }

    /// The `detail` the original endpoint used for a status, when it had a fixed one.
    static func detail(for error: RPCError) -> String {
        switch error.code {
        case .unavailable: "Feedback store unavailable."
        case .unauthenticated: "Could not validate credentials"
        case .deadlineExceeded: "Feedback service timed out."
        case .unknown: "Whether the rating was stored is unknown; it can be sent again."
        case .internal, .dataLoss: "Internal Server Error"
        default: error.message
        }
    }
}

/// A status code: gRPC's 17 canonical codes with gRPC's numbers (SPEC.md section 10).
///
/// A struct, not an enum, so that a code received from a newer peer is kept as is; ``isKnown`` and
/// ``normalized`` tell and fix that.
public struct StatusCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Success.
    public static let ok = StatusCode(rawValue: 0)
    /// The call was cancelled, typically by the caller.
    public static let cancelled = StatusCode(rawValue: 1)
    /// An error with no better code, or a code this side does not know.
    public static let unknown = StatusCode(rawValue: 2)
    /// The caller sent something invalid whatever the system's state (a bad rating, malformed metadata).
    public static let invalidArgument = StatusCode(rawValue: 3)
    /// The deadline passed before the call finished; its work may still have been done.
    public static let deadlineExceeded = StatusCode(rawValue: 4)
    /// Something the call names does not exist (no such interaction).
    public static let notFound = StatusCode(rawValue: 5)
    /// What the caller tried to create exists already.
    public static let alreadyExists = StatusCode(rawValue: 6)
    /// The authenticated caller may not do this (a required scope is missing, a peer not allowed).
    public static let permissionDenied = StatusCode(rawValue: 7)
    /// A limit was hit: too many concurrent calls, metadata too large. Retrying later may work.
    public static let resourceExhausted = StatusCode(rawValue: 8)
    /// The system is not in a state the call needs; the caller should not retry until it changes.
    public static let failedPrecondition = StatusCode(rawValue: 9)
    /// A concurrency conflict; retry at a higher level (read-modify-write again).
    public static let aborted = StatusCode(rawValue: 10)
    /// A value past a valid range, where iterating callers can stop.
    public static let outOfRange = StatusCode(rawValue: 11)
    /// The method is not served here.
    public static let unimplemented = StatusCode(rawValue: 12)
    /// An invariant broke on the server; the message is generic and the cause is in the server's log.
    public static let `internal` = StatusCode(rawValue: 13)
    /// Transient: the server or its store cannot serve now. Safe to retry idempotent calls with backoff.
    public static let unavailable = StatusCode(rawValue: 14)
    /// Unrecoverable data loss or corruption.
    public static let dataLoss = StatusCode(rawValue: 15)
    /// No valid credentials: the token is missing, malformed, expired or badly signed.
    public static let unauthenticated = StatusCode(rawValue: 16)

    /// Every code in numeric order.
    public static let all: [StatusCode] = (0...16).map(StatusCode.init(rawValue:))

    /// Whether this is one of the 17 codes.
    public var isKnown: Bool { self.rawValue <= 16 }

    /// The code itself when known, ``unknown`` otherwise (SPEC.md section 6).
    public var normalized: StatusCode { self.isKnown ? self : .unknown }

    /// The SPEC.md name, e.g. `NOT_FOUND`.
    public var name: String {
        switch self.rawValue {
        case 0: "OK"
        case 1: "CANCELLED"
        case 2: "UNKNOWN"
        case 3: "INVALID_ARGUMENT"
        case 4: "DEADLINE_EXCEEDED"
        case 5: "NOT_FOUND"
        case 6: "ALREADY_EXISTS"
        case 7: "PERMISSION_DENIED"
        case 8: "RESOURCE_EXHAUSTED"
        case 9: "FAILED_PRECONDITION"
        case 10: "ABORTED"
        case 11: "OUT_OF_RANGE"
        case 12: "UNIMPLEMENTED"
        case 13: "INTERNAL"
        case 14: "UNAVAILABLE"
        case 15: "DATA_LOSS"
        case 16: "UNAUTHENTICATED"
        default: "UNKNOWN"
        }
    }

    /// Looks a code up by its SPEC.md name.
    public init?(name: String) {
        guard let code = Self.all.first(where: { $0.name == name }) else { return nil }
        self = code
    }

    public var description: String { self.name }
}

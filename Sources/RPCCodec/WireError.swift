/// An error found in bytes received from a peer, or in a value that cannot be encoded.
///
/// Each error has a ``Code`` named as in `protocol/SPEC.md` and `protocol/vectors/frames.json`.
/// A code's ``Scope`` tells what it breaks: a ``Scope/connection`` error ends the connection with the
/// GOAWAY code ``goAwayErrorCode``; a ``Scope/call`` error fails one call with ``statusCode``.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong. A struct over a private enum so that codes can be added later.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case truncated = "TRUNCATED"
            case frameTooLarge = "FRAME_TOO_LARGE"
            case unknownFrameType = "UNKNOWN_FRAME_TYPE"
            case reservedBitsSet = "RESERVED_BITS_SET"
            case expectedHello = "EXPECTED_HELLO"
            case unexpectedFrame = "UNEXPECTED_FRAME"
            case invalidCallID = "INVALID_CALL_ID"
            case invalidPayloadLength = "INVALID_PAYLOAD_LENGTH"
            case badMagic = "BAD_MAGIC"
            case unsupportedVersion = "UNSUPPORTED_VERSION"
            case invalidSetting = "INVALID_SETTING"
            case invalidCredit = "INVALID_CREDIT"
            case truncatedPayload = "TRUNCATED_PAYLOAD"
            case metadataTooLarge = "METADATA_TOO_LARGE"
            case metadataOverrun = "METADATA_OVERRUN"
            case invalidMetadataKey = "INVALID_METADATA_KEY"
            case invalidMetadataValue = "INVALID_METADATA_VALUE"
            case duplicateMetadataKey = "DUPLICATE_METADATA_KEY"
            case missingMethod = "MISSING_METHOD"
            case invalidMethod = "INVALID_METHOD"
            case invalidTimeout = "INVALID_TIMEOUT"
            case messageOverrun = "MESSAGE_OVERRUN"
            case invalidMessage = "INVALID_MESSAGE"
            case unexpectedBody = "UNEXPECTED_BODY"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The name used in SPEC.md and the vectors, e.g. `FRAME_TOO_LARGE`.
        public var name: String { self.value.rawValue }
        public var description: String { self.name }

        /// Looks a code up by its SPEC.md name.
        public init?(name: String) {
            guard let value = Value(rawValue: name) else { return nil }
            self.value = value
        }

        /// The stream ended inside a frame.
        public static let truncated = Code(.truncated)
        /// A frame's `length` is over the receiver's limit.
        public static let frameTooLarge = Code(.frameTooLarge)
        /// A frame type that version 1 does not define.
        public static let unknownFrameType = Code(.unknownFrameType)
        /// A reserved flag bit or the reserved call-id bit is set.
        public static let reservedBitsSet = Code(.reservedBitsSet)
        /// The first frame of a connection is not HELLO.
        public static let expectedHello = Code(.expectedHello)
        /// A second HELLO, or a frame the receiver's role never receives.
        public static let unexpectedFrame = Code(.unexpectedFrame)
        /// A call id of 0 on a call frame, or not 0 on a connection frame.
        public static let invalidCallID = Code(.invalidCallID)
        /// A payload length that the frame type does not allow.
        public static let invalidPayloadLength = Code(.invalidPayloadLength)
        /// A HELLO whose magic is not `FBRP`.
        public static let badMagic = Code(.badMagic)
        /// A HELLO with version 0.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// A HELLO setting with id 0, a duplicate id, or a value out of range.
        public static let invalidSetting = Code(.invalidSetting)
        /// A CREDIT whose increment is 0 or above 2^31-1 (version 2).
        public static let invalidCredit = Code(.invalidCredit)
        /// A REQUEST or RESPONSE payload too short for its fixed fields.
        public static let truncatedPayload = Code(.truncatedPayload)
        /// A metadata block over `MAX_METADATA_SIZE`.
        public static let metadataTooLarge = Code(.metadataTooLarge)
        /// A metadata length, key or value that runs past its end.
        public static let metadataOverrun = Code(.metadataOverrun)
        /// An empty key, a key with a character outside `0-9 a-z _ . -`, or an unknown pseudo-key.
        public static let invalidMetadataKey = Code(.invalidMetadataKey)
        /// A text value with a byte outside 0x20-0x7E, or an `x-request-id` that is empty or over 128 bytes.
        public static let invalidMetadataValue = Code(.invalidMetadataValue)
        /// A reserved key that appears twice.
        public static let duplicateMetadataKey = Code(.duplicateMetadataKey)
        /// A REQUEST without `:method`.
        public static let missingMethod = Code(.missingMethod)
        /// A `:method` that is not `/SERVICE/METHOD`.
        public static let invalidMethod = Code(.invalidMethod)
        /// A `:timeout` that is not 1 to 8 ASCII digits.
        public static let invalidTimeout = Code(.invalidTimeout)
        /// A RESPONSE whose `message_length` runs past the payload.
        public static let messageOverrun = Code(.messageOverrun)
        /// A RESPONSE status message that is not UTF-8.
        public static let invalidMessage = Code(.invalidMessage)
        /// A non-OK RESPONSE that carries message bytes.
        public static let unexpectedBody = Code(.unexpectedBody)

        /// Whether this code ends the connection or fails one call.
        public var scope: Scope {
            switch self.value {
            case .truncated, .frameTooLarge, .unknownFrameType, .reservedBitsSet, .expectedHello,
                .unexpectedFrame, .invalidCallID, .invalidPayloadLength, .badMagic, .unsupportedVersion,
                .invalidSetting, .invalidCredit:
                return .connection
            default:
                return .call
            }
        }
    }

    /// What an error breaks: the whole connection, or one call.
    public enum Scope: String, Hashable, Sendable {
        case connection
        case call
    }

    /// What went wrong.
    public var code: Code
    /// A short, human-readable explanation naming the offending value or limit.
    public var message: String
    /// The call a ``Scope/call`` error belongs to, when known.
    public var callID: UInt32?

    public init(_ code: Code, _ message: String, callID: UInt32? = nil) {
        self.code = code
        self.message = message
        self.callID = callID
    }

    public var scope: Scope { self.code.scope }

    /// The GOAWAY `error_code` a receiver sends for a connection error (SPEC.md section 8).
    public var goAwayErrorCode: GoAway.ErrorCode {
        switch self.code {
        case .frameTooLarge: return .frameTooLarge
        case .badMagic, .unsupportedVersion, .expectedHello: return .handshakeFailed
        default: return .protocolError
        }
    }

    /// The status code a server answers a call error with: 8 (`RESOURCE_EXHAUSTED`) for
    /// ``Code/metadataTooLarge``, 3 (`INVALID_ARGUMENT`) otherwise (SPEC.md section 7.3).
    public var statusCode: UInt32 {
        self.code == .metadataTooLarge ? 8 : 3
    }

    public var description: String { "\(self.code.name): \(self.message)" }
}

import NIOCore

/// A REQUEST payload (SPEC.md section 5): the method, an optional relative timeout, metadata and the
/// serialized request message.
public struct Request: Hashable, Sendable {
    /// `/SERVICE/METHOD`, e.g. `/feedback.v1.FeedbackService/SubmitFeedback`.
    public var method: String
    /// The relative timeout in milliseconds (`:timeout`). Encoding clamps it to 99,999,999.
    public var timeoutMilliseconds: UInt32?
    public var metadata: Metadata
    /// The serialized protobuf request message. A decoded request's body is a slice of the frame.
    public var body: ByteBuffer

    /// The largest `:timeout` that fits 8 digits.
    public static let maxTimeoutMilliseconds: UInt32 = 99_999_999

    public init(method: String, timeoutMilliseconds: UInt32? = nil, metadata: Metadata = Metadata(), body: ByteBuffer) {
        self.method = method
        self.timeoutMilliseconds = timeoutMilliseconds
        self.metadata = metadata
        self.body = body
    }

    /// Parses and checks a REQUEST payload in the order of SPEC.md section 7.3.
    ///
    /// The payload is not copied: ``metadata`` and ``body`` are slices of it.
    /// - Throws: a ``WireError`` of scope `call` (`TRUNCATED_PAYLOAD`, `METADATA_TOO_LARGE`, `METADATA_OVERRUN`,
    ///   `INVALID_METADATA_KEY`, `INVALID_METADATA_VALUE`, `DUPLICATE_METADATA_KEY`, `MISSING_METHOD`,
    ///   `INVALID_METHOD`, `INVALID_TIMEOUT`).
    public init(decoding payload: ByteBuffer, limits: WireLimits = .defaults) throws(WireError) {
        var payload = payload
        guard let metadataLength = payload.readInteger(as: UInt32.self) else {
            throw WireError(.truncatedPayload, "REQUEST payload of \(payload.readableBytes) bytes has no metadata length")
        }
        guard metadataLength <= limits.maxMetadataSize else {
            throw WireError(
                .metadataTooLarge,
                "metadata of \(metadataLength) bytes is over the limit of \(limits.maxMetadataSize) bytes"
            )
        }
        guard let block = payload.readSlice(length: Int(metadataLength)) else {
            throw WireError(
                .metadataOverrun,
                "metadata length \(metadataLength) runs past the \(payload.readableBytes) bytes left in the payload"
            )
        }
        var scanner = MetadataScanner(context: .request)
        let parsed = block.withUnsafeReadableBytes { bytes in
            Result { () throws(WireError) -> (method: String?, timeout: UInt32?) in
                try scanner.scanAll(bytes)
                let method = scanner.method.map { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[$0]), as: UTF8.self) }
                let timeout = try scanner.timeout.map { range throws(WireError) in
                    try Self.parseTimeout(UnsafeRawBufferPointer(rebasing: bytes[range]))
                }
                return (method, timeout)
            }
        }
        let (method, timeout) = try parsed.get()
        guard let method else {
            throw WireError(.missingMethod, "REQUEST has no :method")
        }
        guard Self.isValidMethod(method) else {
            throw WireError(.invalidMethod, ":method '\(method.prefix(128))' is not /SERVICE/METHOD")
        }
        self.method = method
        self.timeoutMilliseconds = timeout
        self.metadata = Metadata(validatedBlock: block, containsPseudoEntries: scanner.containsPseudoEntries)
        self.body = payload
    }

    private static func parseTimeout(_ digits: UnsafeRawBufferPointer) throws(WireError) -> UInt32 {
        guard (1...8).contains(digits.count) else {
            throw WireError(.invalidTimeout, ":timeout has \(digits.count) characters; it must be 1 to 8 digits")
        }
        var value: UInt32 = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                throw WireError(.invalidTimeout, ":timeout must be ASCII digits of milliseconds")
            }
            value = value * 10 + UInt32(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// Whether `method` is `/SERVICE/METHOD` with both parts non-empty and free of `/`.
    public static func isValidMethod(_ method: String) -> Bool {
        let utf8 = method.utf8
        guard utf8.first == UInt8(ascii: "/"), utf8.count <= Int(UInt16.max) else { return false }
        let rest = utf8.dropFirst()
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { return false }
        let service = rest[..<slash]
        let name = rest[rest.index(after: slash)...]
        return !service.isEmpty && !name.isEmpty && !name.contains(UInt8(ascii: "/"))
            && utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    private var clampedTimeout: UInt32? {
        self.timeoutMilliseconds.map { min($0, Self.maxTimeoutMilliseconds) }
    }

    private var metadataLength: Int {
        var length = 3 + MetadataKeys.method.count + self.method.utf8.count
        if let timeout = self.clampedTimeout {
            length += 3 + MetadataKeys.timeout.count + Self.digitCount(timeout)
        }
        return length + self.metadata.userEncodedLength
    }

    /// The payload size this request encodes to.
    public var encodedLength: Int {
        4 + self.metadataLength + self.body.readableBytes
    }

    /// Writes the payload. The method must be valid (``isValidMethod(_:)``); the encoder checks.
    func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(self.metadataLength))
        buffer.writeInteger(UInt8(MetadataKeys.method.count))
        buffer.writeBytes(MetadataKeys.method)
        buffer.writeInteger(UInt16(self.method.utf8.count))
        buffer.writeString(self.method)
        if let timeout = self.clampedTimeout {
            buffer.writeInteger(UInt8(MetadataKeys.timeout.count))
            buffer.writeBytes(MetadataKeys.timeout)
            Self.writeDigits(timeout, into: &buffer)
        }
        self.metadata.writeUserEntries(into: &buffer)
        buffer.writeImmutableBuffer(self.body)
    }

    private static func digitCount(_ value: UInt32) -> Int {
        var count = 1
        var rest = value / 10
        while rest > 0 {
            count += 1
            rest /= 10
        }
        return count
    }

    /// Writes `value_length` and the decimal digits without making a String.
    private static func writeDigits(_ value: UInt32, into buffer: inout ByteBuffer) {
        let count = self.digitCount(value)
        buffer.writeInteger(UInt16(count))
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { raw in
            var rest = value
            for index in stride(from: count - 1, through: 0, by: -1) {
                raw[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[0..<count]))
        }
    }
}

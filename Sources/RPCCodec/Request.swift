import NIOCore

/// A REQUEST payload (SPEC.md section 5): the method, an optional relative timeout, metadata and the
/// serialized request message.
public struct Request: Hashable, Sendable {
    /// `/SERVICE/METHOD`, e.g. `/feedback.v1.FeedbackService/SubmitFeedback`.
    public var method: String
    /// The relative timeout in milliseconds (`:timeout`). Encoding clamps it to 99,999,999.
    public var timeoutMilliseconds: UInt32?
    public var metadata: WireMetadata
    /// The serialized protobuf request message. A decoded request's body is a slice of the frame.
    public var body: ByteBuffer
    /// Whether the REQUEST frame carries the STREAM flag (version 2: a server-streaming call). A frame
    /// header bit, not part of the payload: ``init(decoding:limits:)`` leaves it false.
    public var isStream = false

    /// The largest `:timeout` that fits 8 digits.
    public static let maxTimeoutMilliseconds: UInt32 = 99_999_999

    public init(method: String, timeoutMilliseconds: UInt32? = nil, metadata: WireMetadata = WireMetadata(), body: ByteBuffer, isStream: Bool = false) {
        self.isStream = isStream
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
            Result { () throws(WireError) -> (method: String, timeout: UInt32?) in
                try scanner.scanAll(bytes)
                // Step 5 (:method missing or malformed) before step 6 (:timeout), whatever the entries' order.
                guard let methodRange = scanner.method else {
                    throw WireError(.missingMethod, "REQUEST has no :method")
                }
                let raw = UnsafeRawBufferPointer(rebasing: bytes[methodRange])
                guard MetadataKeys.isValidMethod(raw) else {
                    throw WireError(.invalidMethod, ":method '\(String(decoding: raw.prefix(128), as: UTF8.self))' is not /SERVICE/METHOD")
                }
                let timeout = try scanner.timeout.map { range throws(WireError) in
                    try Self.parseTimeout(UnsafeRawBufferPointer(rebasing: bytes[range]))
                }
                return (String(decoding: raw, as: UTF8.self), timeout)
            }
        }
        let (method, timeout) = try parsed.get()
        self.method = method
        self.timeoutMilliseconds = timeout
        self.metadata = WireMetadata(validatedBlock: block, containsPseudoEntries: scanner.containsPseudoEntries)
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

    /// Whether `method` is `/SERVICE/METHOD`: visible ASCII, both parts non-empty and free of `/`.
    public static func isValidMethod(_ method: String) -> Bool {
        var method = method
        return method.withUTF8 { MetadataKeys.isValidMethod(UnsafeRawBufferPointer($0)) }
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

    /// Appends a whole REQUEST frame in one write. The caller has checked the call id.
    /// - Throws: ``WireError/Code/invalidMethod`` before writing anything.
    func writeFrame(callID: UInt32, flags: UInt8 = 0, into buffer: inout ByteBuffer) throws(WireError) {
        var method = self.method
        let metadataLength = self.metadataLength
        let payloadLength = 4 + metadataLength + self.body.readableBytes
        let valid = method.withUTF8 { utf8 in
            let methodBytes = UnsafeRawBufferPointer(utf8)
            guard MetadataKeys.isValidMethod(methodBytes) else { return false }
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Frame.headerSize + payloadLength) { out in
                var writer = UnsafeByteWriter(out)
                writer.writeHeader(length: payloadLength, callID: callID, type: .request, flags: flags)
                writer.write(UInt32(metadataLength))
                writer.write(UInt8(MetadataKeys.method.count))
                MetadataKeys.method.withUnsafeBytes { writer.write($0) }
                writer.write(UInt16(methodBytes.count))
                writer.write(methodBytes)
                if let timeout = self.clampedTimeout {
                    writer.write(UInt8(MetadataKeys.timeout.count))
                    MetadataKeys.timeout.withUnsafeBytes { writer.write($0) }
                    Self.writeDigits(timeout, into: &writer)
                }
                self.metadata.writeUserEntries(into: &writer)
                self.body.withUnsafeReadableBytes { writer.write($0) }
                return writer.offset
            }
            return true
        }
        guard valid else {
            throw WireError(.invalidMethod, ":method '\(self.method.prefix(128))' is not /SERVICE/METHOD")
        }
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
    private static func writeDigits(_ value: UInt32, into writer: inout UnsafeByteWriter) {
        let count = self.digitCount(value)
        writer.write(UInt16(count))
        var digits: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &digits) { raw in
            var rest = value
            for index in stride(from: count - 1, through: 0, by: -1) {
                raw[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            writer.write(UnsafeRawBufferPointer(rebasing: raw[0..<count]))
        }
    }
}

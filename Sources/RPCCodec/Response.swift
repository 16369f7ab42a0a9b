import NIOCore

/// A RESPONSE payload (SPEC.md section 6): a status, metadata and, for OK, the response message.
public struct Response: Hashable, Sendable {
    /// The status code (SPEC.md section 10). Values above 16 are kept as received.
    public var code: UInt32
    /// The status message; empty for OK.
    public var message: String
    public var metadata: WireMetadata
    /// The serialized protobuf response message; empty unless ``code`` is 0.
    public var body: ByteBuffer

    public init(code: UInt32, message: String = "", metadata: WireMetadata = WireMetadata(), body: ByteBuffer = ByteBuffer()) {
        self.code = code
        self.message = message
        self.metadata = metadata
        self.body = body
    }

    /// Parses and checks a RESPONSE payload (SPEC.md section 6). Slices, does not copy.
    /// - Throws: a ``WireError`` of scope `call` (`TRUNCATED_PAYLOAD`, `MESSAGE_OVERRUN`, `INVALID_MESSAGE`,
    ///   `METADATA_TOO_LARGE`, `METADATA_OVERRUN`, the metadata key and value errors, `UNEXPECTED_BODY`).
    public init(decoding payload: ByteBuffer, limits: WireLimits = .defaults) throws(WireError) {
        var payload = payload
        guard payload.readableBytes >= 12, let (code, messageLength) = payload.readMultipleIntegers(as: (UInt32, UInt32).self)
        else {
            throw WireError(.truncatedPayload, "RESPONSE payload of \(payload.readableBytes) bytes is under 12 bytes")
        }
        guard let messageBytes = payload.readSlice(length: Int(messageLength)) else {
            throw WireError(.messageOverrun, "message length \(messageLength) runs past the payload")
        }
        guard let message = String(validating: messageBytes.readableBytesView, as: UTF8.self) else {
            throw WireError(.invalidMessage, "status message is not UTF-8")
        }
        guard let metadataLength = payload.readInteger(as: UInt32.self) else {
            throw WireError(.truncatedPayload, "RESPONSE payload has no metadata length")
        }
        guard metadataLength <= limits.maxMetadataSize else {
            throw WireError(.metadataTooLarge, "metadata of \(metadataLength) bytes is over the limit of \(limits.maxMetadataSize) bytes")
        }
        guard let block = payload.readSlice(length: Int(metadataLength)) else {
            throw WireError(.metadataOverrun, "metadata length \(metadataLength) runs past the payload")
        }
        var scanner = MetadataScanner(context: .response)
        try block.withUnsafeReadableBytes { bytes in
            Result { () throws(WireError) in try scanner.scanAll(bytes) }
        }.get()
        guard code == 0 || payload.readableBytes == 0 else {
            throw WireError(.unexpectedBody, "status \(code) with \(payload.readableBytes) message bytes")
        }
        self.code = code
        self.message = message
        self.metadata = WireMetadata(validatedBlock: block, containsPseudoEntries: false)
        self.body = payload
    }

    /// The payload size this response encodes to.
    public var encodedLength: Int {
        12 + self.message.utf8.count + self.metadata.userEncodedLength + self.body.readableBytes
    }

    /// Appends a whole RESPONSE frame in one write. The caller has checked the call id.
    func writeFrame(callID: UInt32, into buffer: inout ByteBuffer) {
        var message = self.message
        let metadataLength = self.metadata.userEncodedLength
        message.withUTF8 { text in
            let payloadLength = 12 + text.count + metadataLength + self.body.readableBytes
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Frame.headerSize + payloadLength) { out in
                var writer = UnsafeByteWriter(out)
                writer.writeHeader(length: payloadLength, callID: callID, type: .response)
                writer.write(self.code)
                writer.write(UInt32(text.count))
                writer.write(UnsafeRawBufferPointer(text))
                writer.write(UInt32(metadataLength))
                self.metadata.writeUserEntries(into: &writer)
                self.body.withUnsafeReadableBytes { writer.write($0) }
                return writer.offset
            }
        }
    }
}

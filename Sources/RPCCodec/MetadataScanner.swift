/// Names and byte-level rules of metadata keys (SPEC.md section 7).
enum MetadataKeys {
    static let method = Array(":method".utf8)
    static let timeout = Array(":timeout".utf8)
    /// Keys that may appear at most once; the index is a bit in ``MetadataScanner``'s seen-set.
    static let reserved: [[UInt8]] = [
        method, timeout,
        Array("authorization".utf8), Array("x-request-id".utf8), Array("traceparent".utf8),
        Array("status-details-bin".utf8),
    ]
    static let requestIDIndex = 3
    static let maxRequestIDLength = 128

    static func reservedIndex(_ key: some Collection<UInt8>) -> Int? {
        self.reserved.firstIndex { $0.elementsEqual(key) }
    }

    static func isBinary(_ key: some BidirectionalCollection<UInt8>) -> Bool {
        key.count >= 4 && key.suffix(4).elementsEqual("-bin".utf8)
    }

    @inline(__always)
    static func isKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}

/// Checks a metadata block entry by entry, in the order of SPEC.md section 7.3 (steps 3 and 4), and
/// remembers where `:method` and `:timeout` are. Works on raw bytes: allocates nothing.
struct MetadataScanner {
    enum Context {
        /// `:method` and `:timeout` are allowed.
        case request
        /// No pseudo-keys are allowed.
        case response
    }

    let context: Context
    /// Offsets of the `:method` value within the block, when present.
    private(set) var method: Range<Int>?
    /// Offsets of the `:timeout` value within the block, when present.
    private(set) var timeout: Range<Int>?
    private(set) var containsPseudoEntries = false
    private var seenReserved: UInt8 = 0

    init(context: Context) {
        self.context = context
    }

    /// Scans a whole block.
    /// - Throws: `METADATA_OVERRUN`, `INVALID_METADATA_KEY`, `INVALID_METADATA_VALUE`,
    ///   `DUPLICATE_METADATA_KEY`.
    mutating func scanAll(_ block: UnsafeRawBufferPointer) throws(WireError) {
        var offset = 0
        let end = block.count
        while offset < end {
            let keyLength = Int(block[offset])
            let keyStart = offset + 1
            guard keyStart + keyLength + 2 <= end else {
                throw WireError(.metadataOverrun, "metadata entry at offset \(offset) runs past the block")
            }
            let valueLength = Int(block[keyStart + keyLength]) << 8 | Int(block[keyStart + keyLength + 1])
            let valueStart = keyStart + keyLength + 2
            guard valueStart + valueLength <= end else {
                throw WireError(.metadataOverrun, "metadata value at offset \(valueStart) runs past the block")
            }
            try self.check(
                key: UnsafeRawBufferPointer(rebasing: block[keyStart..<keyStart + keyLength]),
                value: valueStart..<valueStart + valueLength,
                in: block
            )
            offset = valueStart + valueLength
        }
    }

    private mutating func check(key: UnsafeRawBufferPointer, value: Range<Int>, in block: UnsafeRawBufferPointer)
        throws(WireError)
    {
        guard let first = key.first else {
            throw WireError(.invalidMetadataKey, "empty metadata key")
        }
        let name = first == UInt8(ascii: ":") ? UnsafeRawBufferPointer(rebasing: key.dropFirst()) : key
        guard !name.isEmpty, name.allSatisfy(MetadataKeys.isKeyByte) else {
            throw WireError(.invalidMetadataKey, "metadata key '\(Self.printable(key))' has a character outside 0-9 a-z _ . -")
        }
        let reserved = MetadataKeys.reservedIndex(key)
        if first == UInt8(ascii: ":") {
            guard self.context == .request, reserved == 0 || reserved == 1 else {
                throw WireError(.invalidMetadataKey, "unknown pseudo-key '\(Self.printable(key))'")
            }
            self.containsPseudoEntries = true
        }
        if !MetadataKeys.isBinary(key) {
            for index in value where !(0x20...0x7E).contains(block[index]) {
                throw WireError(
                    .invalidMetadataValue,
                    "value of '\(Self.printable(key))' has byte 0x\(String(block[index], radix: 16)); text values are printable ASCII"
                )
            }
        }
        guard let reserved else { return }
        if reserved == MetadataKeys.requestIDIndex, value.isEmpty || value.count > MetadataKeys.maxRequestIDLength {
            throw WireError(.invalidMetadataValue, "x-request-id is \(value.count) bytes; it must be 1 to 128")
        }
        let bit: UInt8 = 1 << reserved
        guard self.seenReserved & bit == 0 else {
            throw WireError(.duplicateMetadataKey, "reserved key '\(Self.printable(key))' appears twice")
        }
        self.seenReserved |= bit
        if reserved == 0 { self.method = value }
        if reserved == 1 { self.timeout = value }
    }

    private static func printable(_ key: UnsafeRawBufferPointer) -> String {
        String(decoding: key.prefix(64).map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }
}

/// Names and byte-level rules of metadata keys (SPEC.md section 7).
enum MetadataKeys {
    static let method = Array(":method".utf8)
    static let timeout = Array(":timeout".utf8)
    /// Keys that may appear at most once; the index is a bit in ``MetadataScanner``'s seen-set.
    /// Their lengths all differ, which ``reservedIndex(_:)`` relies on.
    static let reserved: [[UInt8]] = [
        method, timeout,
        Array("authorization".utf8), Array("x-request-id".utf8), Array("traceparent".utf8),
        Array("status-details-bin".utf8),
    ]
    static let methodIndex = 0
    static let timeoutIndex = 1
    static let requestIDIndex = 3
    static let maxRequestIDLength = 128

    /// The index of `key` in ``reserved``, or nil.
    @inline(__always)
    static func reservedIndex(_ key: UnsafeRawBufferPointer) -> Int? {
        let candidate: Int
        switch key.count {
        case 7: candidate = 0
        case 8: candidate = 1
        case 13: candidate = 2
        case 12: candidate = 3
        case 11: candidate = 4
        case 18: candidate = 5
        default: return nil
        }
        return self.reserved[candidate].withUnsafeBytes { $0.elementsEqual(key) } ? candidate : nil
    }

    static func reservedIndex(_ key: [UInt8]) -> Int? {
        key.withUnsafeBytes { self.reservedIndex($0) }
    }

    @inline(__always)
    static func isBinary(_ key: UnsafeRawBufferPointer) -> Bool {
        let n = key.count
        return n >= 4 && key[n - 4] == UInt8(ascii: "-") && key[n - 3] == UInt8(ascii: "b")
            && key[n - 2] == UInt8(ascii: "i") && key[n - 1] == UInt8(ascii: "n")
    }

    static func isBinary(_ key: [UInt8]) -> Bool {
        key.withUnsafeBytes { self.isBinary($0) }
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

    /// Whether every byte lies in `range`. Written as a min/max reduction so it vectorizes.
    @inline(__always)
    static func allBytes(_ bytes: UnsafeRawBufferPointer, in range: ClosedRange<UInt8>) -> Bool {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return true }
        var low: UInt8 = 0xFF
        var high: UInt8 = 0
        for index in 0..<bytes.count {
            low = Swift.min(low, base[index])
            high = Swift.max(high, base[index])
        }
        return low >= range.lowerBound && high <= range.upperBound
    }

    /// Whether `method` is `/SERVICE/METHOD`: visible ASCII, two slashes, both parts non-empty.
    static func isValidMethod(_ method: UnsafeRawBufferPointer) -> Bool {
        guard method.count >= 4, method.count <= Int(UInt16.max), method[0] == UInt8(ascii: "/"),
            self.allBytes(method, in: 0x21...0x7E)
        else { return false }
        var second = -1
        for index in 1..<method.count where method[index] == UInt8(ascii: "/") {
            guard second < 0 else { return false }
            second = index
        }
        return second > 1 && second < method.count - 1
    }
}

/// Checks a metadata block entry by entry, in the order of SPEC.md section 7.3 (steps 3 and 4), and
/// remembers where `:method` and `:timeout` are. Works on raw bytes: allocates nothing unless it fails.
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
                value: UnsafeRawBufferPointer(rebasing: block[valueStart..<valueStart + valueLength]),
                valueRange: valueStart..<valueStart + valueLength
            )
            offset = valueStart + valueLength
        }
    }

    private mutating func check(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, valueRange: Range<Int>)
        throws(WireError)
    {
        guard let first = key.first else {
            throw WireError(.invalidMetadataKey, "empty metadata key")
        }
        let isPseudo = first == UInt8(ascii: ":")
        let name = isPseudo ? UnsafeRawBufferPointer(rebasing: key[1...]) : key
        var validName = !name.isEmpty
        for byte in name where !MetadataKeys.isKeyByte(byte) { validName = false }
        guard validName else {
            throw WireError(.invalidMetadataKey, "metadata key '\(Self.printable(key))' has a character outside 0-9 a-z _ . -")
        }
        let reserved = MetadataKeys.reservedIndex(key)
        if isPseudo {
            guard self.context == .request, reserved == MetadataKeys.methodIndex || reserved == MetadataKeys.timeoutIndex
            else {
                throw WireError(.invalidMetadataKey, "unknown pseudo-key '\(Self.printable(key))'")
            }
            self.containsPseudoEntries = true
        }
        if !MetadataKeys.isBinary(key), !MetadataKeys.allBytes(value, in: 0x20...0x7E) {
            throw WireError(
                .invalidMetadataValue,
                "value of '\(Self.printable(key))' has a byte outside 0x20-0x7E; text values are printable ASCII"
            )
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
        if reserved == MetadataKeys.methodIndex { self.method = valueRange }
        if reserved == MetadataKeys.timeoutIndex { self.timeout = valueRange }
    }

    private static func printable(_ key: UnsafeRawBufferPointer) -> String {
        String(decoding: key.prefix(64).map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }
}

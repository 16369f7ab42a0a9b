import NIOCore

/// Per-call key/value metadata (SPEC.md section 7), stored in its wire encoding.
///
/// Building metadata validates each entry and appends its encoding, so writing a frame is one copy
/// and reading one allocates nothing until a value is asked for. Pseudo-keys (`:method`,
/// `:timeout`) are never part of the sequence: ``Request`` carries them as fields.
public struct WireMetadata: Hashable, Sendable, Sequence {
    /// A value: text (printable ASCII) for ordinary keys, bytes for keys ending in `-bin`.
    public enum Value: Hashable, Sendable {
        case string(String)
        case binary([UInt8])
    }

    public struct Entry: Hashable, Sendable {
        public var key: String
        public var value: Value
    }

    /// Encoded entries, back to back. A decoded block may hold pseudo-key entries too; they are
    /// skipped by every accessor.
    private(set) var storage: ByteBuffer
    /// Whether ``storage`` holds pseudo-key entries (only a block read from the wire can).
    private(set) var containsPseudoEntries: Bool

    public init() {
        self.storage = ByteBuffer()
        self.containsPseudoEntries = false
    }

    /// Wraps a block already checked by ``MetadataScanner``.
    init(validatedBlock: ByteBuffer, containsPseudoEntries: Bool) {
        self.storage = validatedBlock
        self.containsPseudoEntries = containsPseudoEntries
    }

    /// Appends a text entry.
    /// - Throws: ``WireError/Code/invalidMetadataKey`` for a bad or pseudo key, a `-bin` key, or a key
    ///   over 255 bytes; ``WireError/Code/invalidMetadataValue`` for a byte outside 0x20-0x7E or a value
    ///   over 65,535 bytes; ``WireError/Code/duplicateMetadataKey`` for a second reserved key.
    public mutating func add(_ key: String, _ value: String) throws(WireError) {
        if MetadataKeys.isBinary(Array(key.utf8)) {
            throw WireError(.invalidMetadataKey, "key '\(key)' ends in -bin: add a binary value")
        }
        try self.append(key: Array(key.utf8), value: Array(value.utf8), keyDescription: key)
    }

    /// Appends a binary entry; `key` must end in `-bin`.
    public mutating func add(_ key: String, binary value: some Collection<UInt8>) throws(WireError) {
        guard MetadataKeys.isBinary(Array(key.utf8)) else {
            throw WireError(.invalidMetadataKey, "binary key '\(key)' must end in -bin")
        }
        try self.append(key: Array(key.utf8), value: Array(value), keyDescription: key)
    }

    private mutating func append(key: [UInt8], value: [UInt8], keyDescription: String) throws(WireError) {
        guard key.first != UInt8(ascii: ":") else {
            throw WireError(.invalidMetadataKey, "pseudo-key '\(keyDescription)' is set through the request")
        }
        guard key.count <= 255 else {
            throw WireError(.invalidMetadataKey, "key longer than 255 bytes")
        }
        guard value.count <= Int(UInt16.max) else {
            throw WireError(.invalidMetadataValue, "value of '\(keyDescription)' longer than 65535 bytes")
        }
        var entry = ByteBuffer()
        entry.reserveCapacity(3 + key.count + value.count)
        entry.writeInteger(UInt8(key.count))
        entry.writeBytes(key)
        entry.writeInteger(UInt16(value.count))
        entry.writeBytes(value)
        var scanner = MetadataScanner(context: .response)
        try entry.withUnsafeReadableBytes { bytes in
            Result { () throws(WireError) in try scanner.scanAll(bytes) }
        }.get()
        if let reserved = MetadataKeys.reservedIndex(key), self.containsKey(at: reserved) {
            throw WireError(.duplicateMetadataKey, "reserved key '\(keyDescription)' may appear once")
        }
        self.storage.writeBuffer(&entry)
    }

    private func containsKey(at reservedIndex: Int) -> Bool {
        self.rawEntries.contains { MetadataKeys.reservedIndex($0.key) == reservedIndex }
    }

    /// The number of bytes the non-pseudo entries take on the wire.
    public var userEncodedLength: Int {
        guard self.containsPseudoEntries else { return self.storage.readableBytes }
        return self.rawEntries.reduce(0) { $0 + ($1.key.first == UInt8(ascii: ":") ? 0 : 3 + $1.key.count + $1.value.count) }
    }

    /// Writes the non-pseudo entries; the writer has room for ``userEncodedLength`` bytes.
    func writeUserEntries(into writer: inout UnsafeByteWriter) {
        guard self.containsPseudoEntries else {
            self.storage.withUnsafeReadableBytes { writer.write($0) }
            return
        }
        for entry in self.rawEntries where entry.key.first != UInt8(ascii: ":") {
            writer.write(UInt8(entry.key.count))
            entry.key.withUnsafeBytes { writer.write($0) }
            writer.write(UInt16(entry.value.count))
            entry.value.withUnsafeBytes { writer.write($0) }
        }
    }

    /// Every entry including pseudo-keys, as raw bytes.
    private var rawEntries: [(key: [UInt8], value: [UInt8])] {
        var block = self.storage
        var out: [(key: [UInt8], value: [UInt8])] = []
        while let keyLength = block.readInteger(as: UInt8.self),
            let key = block.readBytes(length: Int(keyLength)),
            let valueLength = block.readInteger(as: UInt16.self),
            let value = block.readBytes(length: Int(valueLength))
        {
            out.append((key, value))
        }
        return out
    }

    /// The entries in order, without pseudo-keys.
    public func makeIterator() -> IndexingIterator<[Entry]> {
        self.rawEntries.compactMap { raw -> Entry? in
            guard raw.key.first != UInt8(ascii: ":") else { return nil }
            let key = String(decoding: raw.key, as: UTF8.self)
            let value: Value =
                MetadataKeys.isBinary(raw.key) ? .binary(raw.value) : .string(String(decoding: raw.value, as: UTF8.self))
            return Entry(key: key, value: value)
        }.makeIterator()
    }

    /// All values of `key`, in order.
    public subscript(key: String) -> [Value] {
        self.filter { $0.key == key }.map(\.value)
    }

    /// The first text value of `key`, or nil. Scans the wire bytes; allocates only the result.
    public func first(_ key: String) -> String? {
        guard let range = self.firstValueRange(of: key), !key.hasSuffix("-bin") else { return nil }
        return self.storage.getString(at: range.lowerBound, length: range.count)
    }

    /// The first binary value of `key` (which ends in `-bin`), or nil.
    public func firstBinary(_ key: String) -> [UInt8]? {
        guard let range = self.firstValueRange(of: key) else { return nil }
        return self.storage.getBytes(at: range.lowerBound, length: range.count)
    }

    /// Where the first value of `key` lies in ``storage`` (absolute indices); never a pseudo-key's.
    private func firstValueRange(of key: String) -> Range<Int>? {
        var key = key
        return key.withUTF8 { wanted -> Range<Int>? in
            guard wanted.first != UInt8(ascii: ":") else { return nil }
            return self.storage.withUnsafeReadableBytes { block -> Range<Int>? in
                var offset = 0
                while offset < block.count {
                    let keyLength = Int(block[offset])
                    let keyStart = offset + 1
                    let valueStart = keyStart + keyLength + 2
                    guard valueStart <= block.count else { return nil }
                    let valueLength = Int(block[valueStart - 2]) << 8 | Int(block[valueStart - 1])
                    if keyLength == wanted.count,
                        UnsafeRawBufferPointer(rebasing: block[keyStart..<keyStart + keyLength]).elementsEqual(wanted)
                    {
                        let start = self.storage.readerIndex + valueStart
                        return start..<start + valueLength
                    }
                    offset = valueStart + valueLength
                }
                return nil
            }
        }
    }

    public static func == (lhs: WireMetadata, rhs: WireMetadata) -> Bool {
        Array(lhs) == Array(rhs)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(Array(self))
    }
}

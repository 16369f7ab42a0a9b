/// Writes big-endian integers and bytes into memory that the caller has sized exactly.
///
/// Used inside `ByteBuffer.writeWithUnsafeMutableBytes(minimumWritableBytes:)` so a whole frame is one
/// capacity check and one write: per-field `ByteBuffer` writes cost a uniqueness and exclusivity check each.
/// The caller guarantees `count` bytes are available; nothing here checks bounds in release builds.
struct UnsafeByteWriter {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private(set) var offset = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) {
        self.base = buffer.baseAddress!
        self.capacity = buffer.count
    }

    @inline(__always)
    mutating func write<Integer: FixedWidthInteger>(_ value: Integer) {
        assert(self.offset + MemoryLayout<Integer>.size <= self.capacity)
        self.base.storeBytes(of: value.bigEndian, toByteOffset: self.offset, as: Integer.self)
        self.offset += MemoryLayout<Integer>.size
    }

    @inline(__always)
    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        assert(self.offset + bytes.count <= self.capacity)
        (self.base + self.offset).copyMemory(from: source, byteCount: bytes.count)
        self.offset += bytes.count
    }

    /// Writes a 10-byte frame header.
    @inline(__always)
    mutating func writeHeader(length: Int, callID: UInt32, type: FrameType, flags: UInt8 = 0) {
        self.write(UInt32(length))
        self.write(callID)
        self.write(type.rawValue)
        self.write(flags)
    }
}

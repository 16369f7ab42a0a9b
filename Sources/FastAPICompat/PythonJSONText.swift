/// The text of a JSON body as Python's `json.loads(bytes)` reads it (which FastAPI uses): the encoding
/// is detected as `json.detect_encoding` does it (a UTF-32, UTF-16 or UTF-8 byte-order mark, else the
/// pattern of zero bytes at the start), the byte-order mark dropped, then the bytes decoded.
enum PythonJSONText {
    /// The decoded text, or nil when the bytes are not valid in the detected encoding (Python's
    /// `UnicodeDecodeError`, which FastAPI answers 400).
    static func decode(_ bytes: [UInt8]) -> String? {
        let count = bytes.count
        func starts(with prefix: [UInt8]) -> Bool { count >= prefix.count && Array(bytes.prefix(prefix.count)) == prefix }
        if starts(with: [0x00, 0x00, 0xFE, 0xFF]) { return self.utf32(bytes.dropFirst(4), bigEndian: true) }
        if starts(with: [0xFF, 0xFE, 0x00, 0x00]) { return self.utf32(bytes.dropFirst(4), bigEndian: false) }
        if starts(with: [0xFE, 0xFF]) { return self.utf16(bytes.dropFirst(2), bigEndian: true) }
        if starts(with: [0xFF, 0xFE]) { return self.utf16(bytes.dropFirst(2), bigEndian: false) }
        if starts(with: [0xEF, 0xBB, 0xBF]) { return String(validating: bytes.dropFirst(3), as: UTF8.self) }
        if count >= 4 {
            if bytes[0] == 0 { return bytes[1] != 0 ? self.utf16(bytes[...], bigEndian: true) : self.utf32(bytes[...], bigEndian: true) }
            if bytes[1] == 0 {
                return bytes[2] != 0 || bytes[3] != 0 ? self.utf16(bytes[...], bigEndian: false) : self.utf32(bytes[...], bigEndian: false)
            }
        } else if count == 2 {
            if bytes[0] == 0 { return self.utf16(bytes[...], bigEndian: true) }
            if bytes[1] == 0 { return self.utf16(bytes[...], bigEndian: false) }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func utf16(_ bytes: ArraySlice<UInt8>, bigEndian: Bool) -> String? {
        guard bytes.count % 2 == 0 else { return nil }
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count / 2)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let (a, b) = (UInt16(bytes[index]), UInt16(bytes[index + 1]))
            units.append(bigEndian ? a << 8 | b : b << 8 | a)
            index += 2
        }
        return String(validating: units, as: UTF16.self)
    }

    private static func utf32(_ bytes: ArraySlice<UInt8>, bigEndian: Bool) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        var scalars = String.UnicodeScalarView()
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let b = (0..<4).map { UInt32(bytes[index + $0]) }
            let value = bigEndian ? b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3] : b[3] << 24 | b[2] << 16 | b[1] << 8 | b[0]
            guard let scalar = Unicode.Scalar(value) else { return nil }
            scalars.append(scalar)
            index += 4
        }
        return String(scalars)
    }
}

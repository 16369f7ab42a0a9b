/// W3C Trace Context's `traceparent` header, validated before it is forwarded to feedbackd or echoed.
///
/// Trace Context says a receiver that cannot parse the header ignores it: a malformed, oversized or
/// non-ASCII value is dropped, never a reason to refuse the request.
enum TraceParent {
    /// The longest value forwarded: version 00 is 55 characters; later versions may append fields.
    static let maxLength = 512

    /// `header` when it is a valid `traceparent`, else nil.
    ///
    /// `version-traceid-parentid-flags`, lowercase hex of 2-32-16-2 digits; version `ff`, an all-zero
    /// trace id or parent id are invalid. Version 00 is exactly 55 characters; a later version may
    /// continue after a `-`.
    static func validated(_ header: String?) -> String? {
        guard let header, header.utf8.count >= 55, header.utf8.count <= Self.maxLength else { return nil }
        let bytes = Array(header.utf8)
        func isHex(_ range: Range<Int>) -> Bool {
            bytes[range].allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
        }
        func isZero(_ range: Range<Int>) -> Bool { bytes[range].allSatisfy { $0 == UInt8(ascii: "0") } }
        guard isHex(0..<2), bytes[2] == UInt8(ascii: "-"), isHex(3..<35), bytes[35] == UInt8(ascii: "-"), isHex(36..<52),
            bytes[52] == UInt8(ascii: "-"), isHex(53..<55)
        else { return nil }
        let version = header.prefix(2)
        guard version != "ff", !isZero(3..<35), !isZero(36..<52) else { return nil }
        if version == "00" { return bytes.count == 55 ? header : nil }
        guard bytes.count == 55 || bytes[55] == UInt8(ascii: "-") else { return nil }
        return bytes.allSatisfy({ (0x20...0x7E).contains($0) }) ? header : nil
    }
}

/// A call's metadata (SPEC.md section 7) as handlers, interceptors and clients see it: entries in order,
/// a text value for ordinary keys and a binary value for keys ending in `-bin`. The same type on both
/// sides and in every transport; a transport checks it against the protocol's rules when it sends it.
public struct Metadata: Hashable, Sendable, Sequence, ExpressibleByArrayLiteral {
    public enum Value: Hashable, Sendable {
        case string(String)
        case binary([UInt8])
    }

    public struct Entry: Hashable, Sendable {
        public var key: String
        public var value: Value

        public init(key: String, value: Value) {
            self.key = key
            self.value = value
        }
    }

    private var entries: [Entry]

    public init() {
        self.entries = []
    }

    /// Text entries, in order: `["authorization": ...]` reads as `[("authorization", "Bearer ...")]`.
    public init(arrayLiteral elements: (String, String)...) {
        self.entries = elements.map { Entry(key: $0.0, value: .string($0.1)) }
    }

    public init(_ entries: some Sequence<Entry>) {
        self.entries = Array(entries)
    }

    /// Appends a text entry.
    public mutating func add(_ key: String, _ value: String) {
        self.entries.append(Entry(key: key, value: .string(value)))
    }

    /// Appends a binary entry (its key ends in `-bin`).
    public mutating func add(_ key: String, binary value: [UInt8]) {
        self.entries.append(Entry(key: key, value: .binary(value)))
    }

    /// Appends every entry of `other`.
    public mutating func add(contentsOf other: Metadata) {
        self.entries.append(contentsOf: other.entries)
    }

    /// The first text value of `key`, or nil.
    public func first(_ key: String) -> String? {
        for entry in self.entries where entry.key == key {
            if case .string(let value) = entry.value { return value }
        }
        return nil
    }

    /// The first binary value of `key`, or nil.
    public func firstBinary(_ key: String) -> [UInt8]? {
        for entry in self.entries where entry.key == key {
            if case .binary(let value) = entry.value { return value }
        }
        return nil
    }

    public var isEmpty: Bool { self.entries.isEmpty }
    public var count: Int { self.entries.count }

    public func makeIterator() -> IndexingIterator<[Entry]> {
        self.entries.makeIterator()
    }
}

extension Metadata {
    /// The key of structured error details: a serialized `feedback.rpc.v1.Status` (`protocol/status.proto`).
    public static let statusDetailsKey = "status-details-bin"
}

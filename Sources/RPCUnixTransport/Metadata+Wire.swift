import RPCCodec
import RPCCore

// The one place where core metadata and its wire form (RPCCodec) meet.

extension Metadata {
    /// The entries of a block read from the wire (already checked by the codec).
    init(_ wire: WireMetadata) {
        self.init(
            wire.map { entry in
                switch entry.value {
                case .string(let value): Metadata.Entry(key: entry.key, value: .string(value))
                case .binary(let value): Metadata.Entry(key: entry.key, value: .binary(value))
                }
            }
        )
    }
}

extension WireMetadata {
    /// `metadata` in wire form, checked against SPEC.md section 7.
    /// - Throws: ``WireError`` naming the first entry the protocol forbids.
    init(validating metadata: Metadata) throws(WireError) {
        self.init()
        for entry in metadata {
            switch entry.value {
            case .string(let value): try self.add(entry.key, value)
            case .binary(let value): try self.add(entry.key, binary: value)
            }
        }
    }
}

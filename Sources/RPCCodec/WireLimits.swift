/// The receive limits of one side of a connection (SPEC.md section 2.1 and 4.1).
///
/// A decoder enforces its own side's limits; an encoder is given the peer's, from its HELLO.
public struct WireLimits: Hashable, Sendable {
    /// Largest frame payload (bytes after the 10-byte header) accepted once the handshake is done.
    public var maxFrameSize: Int
    /// Largest REQUEST/RESPONSE `metadata_length` accepted.
    public var maxMetadataSize: Int

    /// The limit on every frame until the peer's HELLO has been received.
    public static let handshakeMaxFrameSize = 1024
    /// The largest frame payload a side sends until it has received the peer's HELLO (SPEC.md 2.1):
    /// the smallest `MAX_FRAME_SIZE` a peer may announce, so a frame sent before its HELLO arrives fits
    /// whatever it announces. A larger one waits for the HELLO.
    public static let maxFrameSizeBeforePeerHello = Int(maxFrameSizeRange.lowerBound)
    /// The defaults of SPEC.md: 1 MiB frames, 8 KiB metadata.
    public static let defaults = WireLimits(maxFrameSize: 1_048_576, maxMetadataSize: 8192)
    /// The range an announced `MAX_FRAME_SIZE` must lie in.
    public static let maxFrameSizeRange: ClosedRange<UInt32> = 16_384...16_777_215
    /// The range an announced `MAX_METADATA_SIZE` must lie in.
    public static let maxMetadataSizeRange: ClosedRange<UInt32> = 1024...16_777_215

    public init(maxFrameSize: Int = 1_048_576, maxMetadataSize: Int = 8192) {
        self.maxFrameSize = maxFrameSize
        self.maxMetadataSize = maxMetadataSize
    }
}

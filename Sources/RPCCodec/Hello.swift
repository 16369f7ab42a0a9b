import NIOCore

/// The HELLO payload: magic, the highest version the sender implements, and its settings
/// (SPEC.md section 4).
public struct Hello: Hashable, Sendable {
    /// One HELLO setting: an id and a value. Unknown ids are kept as received and otherwise ignored.
    public struct Setting: Hashable, Sendable {
        public var id: UInt16
        public var value: UInt32
        public init(id: UInt16, value: UInt32) {
            self.id = id
            self.value = value
        }

        public static let maxFrameSizeID: UInt16 = 0x0001
        public static let maxConcurrentCallsID: UInt16 = 0x0002
        public static let maxMetadataSizeID: UInt16 = 0x0003
        public static let maxStreamCreditID: UInt16 = 0x0004
    }

    /// ASCII `FBRP`.
    public static let magic: UInt32 = 0x4642_5250
    /// The highest protocol version this codec implements: 2 (version 1 and server-streaming calls).
    public static let currentVersion: UInt16 = 2
    /// The default of `MAX_CONCURRENT_CALLS`.
    public static let defaultMaxConcurrentCalls: UInt32 = 100
    /// The range an announced `MAX_CONCURRENT_CALLS` must lie in: a connection that could run no call
    /// would be of no use (a server refusing calls sends GOAWAY `REFUSED` instead).
    public static let maxConcurrentCallsRange: ClosedRange<UInt32> = 1...UInt32.max
    /// The default of `MAX_STREAM_CREDIT`: the most unused credit a stream may hold (version 2).
    public static let defaultMaxStreamCredit: UInt32 = 256
    /// The range an announced `MAX_STREAM_CREDIT` must lie in.
    public static let maxStreamCreditRange: ClosedRange<UInt32> = 1...Frame.maxCredit

    public var version: UInt16
    /// The settings in the order they were received or will be sent.
    public var settings: [Setting]

    public init(version: UInt16 = Hello.currentVersion, settings: [Setting] = []) {
        self.version = version
        self.settings = settings
    }

    /// A HELLO of `version` announcing `limits` and, for a server, `maxConcurrentCalls` and
    /// `maxStreamCredit`.
    public init(limits: WireLimits, maxConcurrentCalls: UInt32? = nil, maxStreamCredit: UInt32? = nil, version: UInt16 = Hello.currentVersion) {
        var settings = [
            Setting(id: Setting.maxFrameSizeID, value: UInt32(limits.maxFrameSize))
        ]
        if let maxConcurrentCalls {
            settings.append(Setting(id: Setting.maxConcurrentCallsID, value: maxConcurrentCalls))
        }
        settings.append(Setting(id: Setting.maxMetadataSizeID, value: UInt32(limits.maxMetadataSize)))
        if let maxStreamCredit {
            settings.append(Setting(id: Setting.maxStreamCreditID, value: maxStreamCredit))
        }
        self.init(version: version, settings: settings)
    }

    /// The value of a setting, or nil when absent.
    public func setting(_ id: UInt16) -> UInt32? {
        self.settings.first { $0.id == id }?.value
    }

    /// The sender's receive limits: what the receiver of this HELLO must respect when sending.
    public var limits: WireLimits {
        WireLimits(
            maxFrameSize: Int(self.setting(Setting.maxFrameSizeID) ?? UInt32(WireLimits.defaults.maxFrameSize)),
            maxMetadataSize: Int(
                self.setting(Setting.maxMetadataSizeID) ?? UInt32(WireLimits.defaults.maxMetadataSize)
            )
        )
    }

    /// The sender's `MAX_CONCURRENT_CALLS`, or the default.
    public var maxConcurrentCalls: UInt32 {
        self.setting(Setting.maxConcurrentCallsID) ?? Hello.defaultMaxConcurrentCalls
    }

    /// The sender's `MAX_STREAM_CREDIT`, or the default.
    public var maxStreamCredit: UInt32 {
        self.setting(Setting.maxStreamCreditID) ?? Hello.defaultMaxStreamCredit
    }

    /// The version both sides use: the lower of the two.
    public func negotiatedVersion(with other: Hello) -> UInt16 {
        min(self.version, other.version)
    }

    var encodedLength: Int { 6 + 6 * self.settings.count }

    func write(into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(Hello.magic, self.version)
        for setting in self.settings {
            buffer.writeMultipleIntegers(setting.id, setting.value)
        }
    }

    /// Parses a complete HELLO payload whose length was already checked (6 + 6n bytes).
    static func decode(_ payload: ByteBuffer) throws(WireError) -> Hello {
        var payload = payload
        guard let (magic, version) = payload.readMultipleIntegers(as: (UInt32, UInt16).self) else {
            throw WireError(.invalidPayloadLength, "HELLO payload shorter than 6 bytes")
        }
        guard magic == Hello.magic else {
            throw WireError(.badMagic, "HELLO magic is 0x\(String(magic, radix: 16)), expected 0x46425250 ('FBRP')")
        }
        guard version != 0 else {
            throw WireError(.unsupportedVersion, "HELLO version 0 does not exist")
        }
        var settings: [Setting] = []
        settings.reserveCapacity(payload.readableBytes / 6)
        while let (id, value) = payload.readMultipleIntegers(as: (UInt16, UInt32).self) {
            try Self.validate(id: id, value: value, after: settings)
            settings.append(Setting(id: id, value: value))
        }
        return Hello(version: version, settings: settings)
    }

    private static func validate(id: UInt16, value: UInt32, after earlier: [Setting]) throws(WireError) {
        if id == 0 {
            throw WireError(.invalidSetting, "setting id 0 is reserved")
        }
        if earlier.contains(where: { $0.id == id }) {
            throw WireError(.invalidSetting, "setting 0x\(String(id, radix: 16)) appears twice")
        }
        let range: ClosedRange<UInt32>? =
            switch id {
            case Setting.maxFrameSizeID: WireLimits.maxFrameSizeRange
            case Setting.maxMetadataSizeID: WireLimits.maxMetadataSizeRange
            case Setting.maxConcurrentCallsID: Hello.maxConcurrentCallsRange
            case Setting.maxStreamCreditID: Hello.maxStreamCreditRange
            default: nil
            }
        if let range, !range.contains(value) {
            throw WireError(
                .invalidSetting,
                "setting 0x\(String(id, radix: 16)) is \(value), outside \(range.lowerBound)...\(range.upperBound)"
            )
        }
    }
}

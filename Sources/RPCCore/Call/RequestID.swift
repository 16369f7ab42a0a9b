import Synchronization

/// Request ids for calls that came without an `x-request-id`.
enum RequestID {
    /// A 16-hex-digit id: a random prefix drawn once per process and a counter, so ids are unique within
    /// a run and unlikely to repeat across restarts, without asking the kernel for randomness per call.
    static func make() -> String {
        let value = prefix << 32 | UInt64(counter.wrappingAdd(1, ordering: .relaxed).newValue)
        return String(unsafeUninitializedCapacity: 16) { buffer in
            let digits: StaticString = "0123456789abcdef"
            for index in 0..<16 {
                buffer[index] = digits.utf8Start[Int(value >> (60 - 4 * UInt64(index)) & 0xF)]
            }
            return 16
        }
    }

    private static let prefix = UInt64(UInt32.random(in: .min ... .max))
    private static let counter = Atomic<UInt32>(0)
}

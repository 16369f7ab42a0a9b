#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A time as the audit trail and the logs write it: RFC 3339 in UTC with milliseconds,
/// `2026-12-06T13:11:14.123Z`, exactly as SQLite's `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')` writes it.
/// Formatted from the C library's clock and calendar, without Foundation's date formatters (which load
/// ICU's data into every process that logs a line).
public enum UTCTimestamp {
    /// The time now, truncated to the millisecond as SQLite truncates its clock.
    public static func now() -> String {
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        return self.format(seconds: clock.tv_sec, milliseconds: Int(clock.tv_nsec / 1_000_000))
    }

    /// `seconds` since the Unix epoch and `milliseconds` (taken modulo 1000) as `YYYY-MM-DDTHH:MM:SS.mmmZ`;
    /// a year outside 0...9999 is written as the nearest of the two (the format has four digits).
    public static func format(seconds: Int, milliseconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        if gmtime_r(&time, &parts) == nil {
            // Out of the C library's range: the epoch rather than a date that never was.
            parts = tm()
            parts.tm_mday = 1
            parts.tm_year = 70
        }
        let year = Int32(clamping: max(0, min(9999, Int(parts.tm_year) + 1900)))
        let millis = Int32(((milliseconds % 1000) + 1000) % 1000)
        var text: [UInt8] = []
        text.reserveCapacity(24)
        func digits(_ value: Int32, _ count: Int) {
            var divisor: Int32 = 1
            for _ in 1..<count { divisor *= 10 }
            while divisor > 0 {
                text.append(UInt8(ascii: "0") + UInt8((value / divisor) % 10))
                divisor /= 10
            }
        }
        digits(year, 4)
        text.append(UInt8(ascii: "-"))
        digits(parts.tm_mon + 1, 2)
        text.append(UInt8(ascii: "-"))
        digits(parts.tm_mday, 2)
        text.append(UInt8(ascii: "T"))
        digits(parts.tm_hour, 2)
        text.append(UInt8(ascii: ":"))
        digits(parts.tm_min, 2)
        text.append(UInt8(ascii: ":"))
        digits(parts.tm_sec, 2)
        text.append(UInt8(ascii: "."))
        digits(millis, 3)
        text.append(UInt8(ascii: "Z"))
        return String(decoding: text, as: UTF8.self)
    }
}

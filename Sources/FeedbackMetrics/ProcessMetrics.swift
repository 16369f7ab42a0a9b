#if canImport(Glibc)
import Glibc
#endif

/// The `process_*` families every Prometheus exporter has (the names and texts of client_golang's
/// process collector), read from /proc/self at each scrape, and `feedback_build_info`.
enum ProcessMetrics {
    /// The exposition text of the process families, and of the build's version (always 1).
    static func text(version: String) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = Self.selfStat(), ticks > 0 {
            family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", "\((stat.utime + stat.stime) / ticks)")
            family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", "\(stat.vsize)")
            family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", "\(stat.rss * page)")
            if let boot = Self.bootTime() {
                family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", "\(boot + stat.starttime / ticks)")
            }
        }
        if let open = Self.openDescriptors() {
            family("process_open_fds", "gauge", "Number of open file descriptors.", "\(open)")
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            family("process_max_fds", "gauge", "Maximum number of open file descriptors.", "\(limit.rlim_cur)")
        }
        out += "# HELP feedback_build_info The version of this build (git describe), as a label; always 1.\n"
        out += "# TYPE feedback_build_info gauge\n"
        out += "feedback_build_info{version=\"\(version)\"} 1\n"
        return out
    }

    struct Stat {
        var utime: Double, stime: Double, starttime: Double, vsize: Double, rss: Double
    }

    /// /proc/self/stat's fields after the command name (which may hold spaces and parentheses).
    static func selfStat() -> Stat? {
        guard let text = Self.read("/proc/self/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): field n is fields[n - 3].
        func field(_ n: Int) -> Double? { fields.count > n - 3 ? Double(fields[n - 3]) : nil }
        guard let utime = field(14), let stime = field(15), let start = field(22), let vsize = field(23), let rss = field(24) else {
            return nil
        }
        return Stat(utime: utime, stime: stime, starttime: start, vsize: vsize, rss: rss)
    }

    /// The system's boot time (`btime` of /proc/stat), in seconds since the epoch.
    static func bootTime() -> Double? {
        guard let text = Self.read("/proc/stat") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count))
        }
        return nil
    }

    static func openDescriptors() -> Int? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != ".", name != ".." { count += 1 }
        }
        return count - 1  // the directory's own descriptor
    }

    static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

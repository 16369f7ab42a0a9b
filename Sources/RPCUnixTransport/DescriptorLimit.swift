import Foundation

/// The process's open-descriptor limit: a server raises it at start-up and keeps its connection cap
/// below it, so that accepting never fails with EMFILE.
public enum DescriptorLimit {
    /// Raises the soft limit to the hard one (systemd's default soft limit is 1,024) and returns it.
    public static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(RLIMIT_NOFILE_VALUE, &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// Raises the limit (``raiseToHardLimit()``) and returns the connection cap to use: `requested`, or
    /// less when the descriptors left after `reserve` (upstream sockets, files, logs, refused connections
    /// still closing) and the caps of the process's other listeners (`otherListeners`, e.g. a metrics
    /// port's) are fewer. Every listener capped from one budget: a flood of one cannot take the
    /// descriptors another needs to accept.
    public static func connectionCap(requested: Int, reserve: Int = 64, otherListeners: Int = 0) -> (cap: Int, descriptors: Int) {
        let descriptors = self.raiseToHardLimit()
        return (self.cap(requested: requested, descriptors: descriptors, reserve: reserve, otherListeners: otherListeners), descriptors)
    }

    /// The cap of ``connectionCap(requested:reserve:otherListeners:)`` for a given limit: never below 16.
    static func cap(requested: Int, descriptors: Int, reserve: Int, otherListeners: Int) -> Int {
        min(requested, max(16, descriptors - reserve - otherListeners))
    }

    #if os(Linux)
    private static let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let RLIMIT_NOFILE_VALUE = RLIMIT_NOFILE
    #endif
}

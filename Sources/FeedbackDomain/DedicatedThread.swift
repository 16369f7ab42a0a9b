#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// A thread of its own for work that blocks (a store's writer: fsync, lock waits), so that it never
/// holds a thread of Swift's cooperative pool and nothing hops through that pool on its way.
enum DedicatedThread {
    /// Runs `body` on a new thread named `name` (at most 15 bytes show in `top -H`, `perf`) and returns
    /// when it has returned.
    static func run(name: String, _ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let work: @Sendable () -> Void = {
                body()
                continuation.resume()
            }
            if !self.spawn(name: name, work) {
                // No thread to be had now (a limit reached): the work runs on a Dispatch thread, which
                // Dispatch keeps trying to create; never on the caller's, a thread of the cooperative pool.
                DispatchQueue.global().async(execute: work)
            }
        }
    }

    /// Starts a detached thread running `body`; false when none could be created.
    private static func spawn(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
        let start = Unmanaged.passRetained(Start(name: name, body: body))
        #if canImport(Darwin)
        var thread: pthread_t?
        #else
        var thread = pthread_t()
        #endif
        let created = pthread_create(
            &thread, nil,
            { argument in
                guard let argument else { return nil }
                let start = Unmanaged<Start>.fromOpaque(argument).takeRetainedValue()
                DedicatedThread.nameThisThread(start.threadName)
                start.body()
                return nil
            }, start.toOpaque()
        )
        guard created == 0 else {
            start.release()
            return false
        }
        #if canImport(Darwin)
        if let thread { pthread_detach(thread) }
        #else
        pthread_detach(thread)
        #endif
        return true
    }

    /// Names the calling thread (best effort: a thread without its name still works).
    private static func nameThisThread(_ name: String) {
        #if canImport(Darwin)
        _ = pthread_setname_np(name)
        #else
        // glibc's pthread_setname_np is not imported into Swift; it writes this same file.
        let file = open("/proc/thread-self/comm", O_WRONLY)
        guard file >= 0 else { return }
        _ = name.utf8CString.withUnsafeBufferPointer { write(file, $0.baseAddress, $0.count - 1) }
        close(file)
        #endif
    }

    private final class Start: Sendable {
        /// The name as the kernel takes it: at most 15 bytes.
        let threadName: String
        let body: @Sendable () -> Void

        init(name: String, body: @escaping @Sendable () -> Void) {
            self.threadName = String(decoding: name.utf8.prefix(15), as: UTF8.self)
            self.body = body
        }
    }
}

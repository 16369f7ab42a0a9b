import CConcurrencyHook
import NIOCore
import NIOPosix

/// Swift Concurrency's jobs on NIO's event loops (the threads that read and answer the calls) instead of
/// a pool of their own: an `await` on a PostgreSQL query, a call handler's task, the PostgreSQL writer
/// resume where the I/O happened, without a thread switch each way. What NIO's
/// `unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()` does, installed through
/// `CConcurrencyHook` so that it also holds in binaries linked with `--static-swift-stdlib` (as
/// `scripts/install.sh` builds them), where NIO's `dlsym` finds no hook.
///
/// A job goes to the loop of the thread that enqueues it when that thread is one of
/// ``MultiThreadedEventLoopGroup/singleton``'s (no thread switch), otherwise to the next loop of it.
/// Blocking work has threads of its own (SQLite's writer; Dispatch for reads and closing).
enum TasksOnEventLoops {
    /// Installs the hook: call once, from `main`, before any task runs. Returns false when another hook
    /// was set first (the jobs then stay where that hook puts them).
    static func install() -> Bool {
        // The hook's shape is the runtime's, not a stable API: only the toolchains NIO's own take-over
        // supports (below 6.6).
        #if compiler(<6.6)
        feedback_install_global_enqueue { job in
            let job = unsafeBitCast(job, to: UnownedJob.self)
            MultiThreadedEventLoopGroup.singleton.any().enqueue(ExecutorJob(job))
        }
        #else
        false
        #endif
    }
}

#ifndef C_CONCURRENCY_HOOK_H
#define C_CONCURRENCY_HOOK_H

#include <stdbool.h>

/// Makes `enqueue` Swift Concurrency's global executor: every job the runtime would give its own pool
/// (a task started, a continuation resumed) is passed to it instead, as the job's pointer.
///
/// Sets the runtime's `swift_task_enqueueGlobal_hook`, referenced at link time. NIO's own take-over
/// (`NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`) finds the
/// hook with `dlsym`, which fails in a binary linked with `--static-swift-stdlib`: such a binary exports
/// none of the runtime's symbols. A reference resolved by the linker works in both kinds of build.
///
/// Returns false, and changes nothing, when a hook is already set, or after a first call. Call it once,
/// before any task runs.
bool feedback_install_global_enqueue(void (*_Nonnull enqueue)(void *_Nonnull job));

#endif

#include "CConcurrencyHook.h"

#include <stddef.h>

// The runtime's declarations (swift/Runtime/Concurrency.h): both functions use the Swift calling
// convention; for a pointer argument and no result it passes them as C does, but it is stated.
typedef void (*original_enqueue)(void *job) __attribute__((swiftcall));
typedef void (*global_enqueue_hook)(void *job, original_enqueue original) __attribute__((swiftcall));

extern global_enqueue_hook swift_task_enqueueGlobal_hook;

static void (*installed_enqueue)(void *job);

__attribute__((swiftcall)) static void enqueue_global(void *job, original_enqueue original) {
    (void)original;
    __atomic_load_n(&installed_enqueue, __ATOMIC_ACQUIRE)(job);
}

bool feedback_install_global_enqueue(void (*enqueue)(void *job)) {
    void (*none)(void *) = NULL;
    if (!__atomic_compare_exchange_n(&installed_enqueue, &none, enqueue, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        return false;
    }
    global_enqueue_hook unset = NULL;
    return __atomic_compare_exchange_n(&swift_task_enqueueGlobal_hook, &unset, enqueue_global, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/*
 * lock.c — slow paths of the futex lock (see lock.h).
 */
#include "config.h"

#include "lock.h"
#include "../os.h"

__thread bool kmm_in_fork __attribute__((tls_model("initial-exec")));

KMM_HOT KMM_NOINLINE void kmm_lock_slow(kmm_lock_t *l)
{
	/* Spin briefly: arena critical sections are short. */
	for (int i = 0; i < 100; i++) {
		kmm_cpu_relax();
		if (__atomic_load_n(&l->state, __ATOMIC_RELAXED) == 0 && kmm_trylock(l))
			return;
	}
	/* Mark contended and sleep until the holder wakes us. */
	while (__atomic_exchange_n(&l->state, 2, __ATOMIC_ACQUIRE) != 0)
		kmm_os_futex_wait(&l->state, 2);
}

KMM_HOT KMM_NOINLINE void kmm_unlock_wake(kmm_lock_t *l)
{
	kmm_os_futex_wake(&l->state, 1);
}

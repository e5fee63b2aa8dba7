/*
 * lock.h — kmm's mutex: a three-state futex lock (0 free, 1 held, 2 held with
 * waiters), after Drepper's "Futexes Are Tricky".  It never allocates, works
 * before any constructor has run (a zero word is an unlocked lock), and is
 * reset in a fork child by storing 0.
 *
 * Lock order (the rule every kmm file follows; see docs/design.md):
 *
 *     leak scan lock  >  kmm_init_lock  >  kmm_arena_list_lock  >  arena
 *       locks (list order)  >  kmm_arena_free_lock  >  kmm_threads_lock
 *       >  kmm_big_stats_lock  >  leak table shard locks  >  kernel-side locks
 *
 * (The leak scanner's locks, src/leakcheck.c, are only ever taken with no
 * lock above them held, but for the scan lock's holder, which takes
 * kmm_threads_lock and the shard locks; the fork handler takes them all.)
 *
 * i.e. a thread holding an arena lock may take kmm_arena_free_lock or
 * kmm_threads_lock but never the other way round, and holds at most one
 * arena lock except while forking.  The kernel side (src/kernel/) never
 * calls up, so its locks come last.  All of them are taken in this order by
 * the fork prepare handler and released in reverse.
 */
#ifndef KMM_LOCK_H
#define KMM_LOCK_H

#include <stdbool.h>

#include "compiler.h"

typedef struct kmm_lock {
	volatile int state;
} kmm_lock_t;

#define KMM_LOCK_INIT { 0 }

void kmm_lock_slow(kmm_lock_t *l);

KMM_INLINE bool kmm_trylock(kmm_lock_t *l)
{
	int expected = 0;
	return __atomic_compare_exchange_n(&l->state, &expected, 1, false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

KMM_INLINE void kmm_lock(kmm_lock_t *l)
{
	if (KMM_UNLIKELY(!kmm_trylock(l)))
		kmm_lock_slow(l);
}

void kmm_unlock_wake(kmm_lock_t *l);

KMM_INLINE void kmm_unlock(kmm_lock_t *l)
{
	if (KMM_UNLIKELY(__atomic_exchange_n(&l->state, 0, __ATOMIC_RELEASE) == 2))
		kmm_unlock_wake(l);
}

/* Between kmm's fork prepare handler and its parent/child handler, the
 * forking thread holds every kmm lock.  Other atfork handlers (registered
 * before kmm's, so run after its prepare) and libc's fork internals may
 * still allocate on that thread: kmm_lock_fork_aware lets it through
 * instead of deadlocking on its own lock, while every other thread waits as
 * usual.  Returns whether it took the lock (pass that to kmm_unlock_if). */
extern __thread bool kmm_in_fork __attribute__((tls_model("initial-exec")));

KMM_INLINE bool kmm_lock_fork_aware(kmm_lock_t *l)
{
	if (KMM_LIKELY(kmm_trylock(l)))
		return true;
	if (KMM_UNLIKELY(kmm_in_fork))
		return false;
	kmm_lock_slow(l);
	return true;
}

KMM_INLINE void kmm_unlock_if(kmm_lock_t *l, bool locked)
{
	if (locked)
		kmm_unlock(l);
}

/* In a fork child only: the thread that held the lock does not exist there. */
KMM_INLINE void kmm_lock_reset(kmm_lock_t *l)
{
	l->state = 0;
}

KMM_INLINE bool kmm_lock_is_held(const kmm_lock_t *l)
{
	return __atomic_load_n(&l->state, __ATOMIC_RELAXED) != 0;
}

#endif /* KMM_LOCK_H */

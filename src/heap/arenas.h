/*
 * arenas.h — the set of arenas and which thread allocates from which.
 *
 * THEORY
 *
 * As in glibc, the thread that starts kmm uses the main arena (over brk);
 * every other thread is given an arena at its first allocation:
 *
 *   1. one on the free list (arenas whose threads have all exited);
 *   2. else a new arena, while there are fewer than the limit: arena_max if
 *      set (M_ARENA_MAX, KMM_OPTIONS=arena_max=N, MALLOC_ARENA_MAX), else
 *      unlimited up to arena_test (8) arenas, then 8 x the CPUs the process
 *      may run on;
 *   3. else an existing one, round robin from the last one handed out,
 *      preferring one whose lock is free at that moment (glibc's
 *      reused_arena).
 *
 * A thread that finds the lock of an arena it shares with other threads
 * taken (and still taken after a short spin) does not wait if it can move
 * on: to an arena on the free list, a new one, or one whose lock it gets at
 * once; it stays there.  A thread alone on its arena just waits: whoever
 * holds that lock is passing through (draining remote frees, reallocating
 * one of its blocks), and moving would only spread its memory.  Arenas are never destroyed: their
 * reference count (attached_threads) puts them on the free list when it
 * drops to zero, and the next new thread reuses them.
 *
 * Frees across arenas (a chunk of another thread's arena) are remote.h's.
 *
 * LOCKS (their order: util/lock.h)
 *
 * The list lock covers creating and linking arenas (the list is append-only
 * and read without a lock); the free lock covers the free list, the
 * attached counts and the round-robin cursor.  Fork takes all of them in
 * rank order (the arenas in list order).
 */
#ifndef KMM_HEAP_ARENAS_H
#define KMM_HEAP_ARENAS_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "../util/lock.h"

struct kmm_thread;

extern kmm_lock_t kmm_arena_list_lock;
extern kmm_lock_t kmm_arena_free_lock;
extern size_t kmm_narenas;

/* The arena after a in the list (NULL at the end); the list starts at the
 * main arena and is never shortened, so it may be walked without a lock. */
KMM_INLINE struct kmm_arena *kmm_arena_next(const struct kmm_arena *a)
{
	return __atomic_load_n(&a->next, __ATOMIC_ACQUIRE);
}

#define kmm_for_each_arena(a) \
	for (struct kmm_arena *a = &kmm_main_arena; a != NULL; a = kmm_arena_next(a))

/* The most arenas kmm will create now (glibc's narenas_limit). */
size_t kmm_arena_limit(void);

/* Give t an arena (t->arena == NULL): the main arena to the first thread
 * that asks, then the free list, a new one, or a reused one.  No lock held
 * by the caller.  Never fails: at worst t shares an existing arena. */
struct kmm_arena *kmm_arena_attach(struct kmm_thread *t);

/* t found a's lock taken: move t to an arena it can lock now, or wait for
 * a.  Returns the arena t uses from now on, locked. */
struct kmm_arena *kmm_arena_lock_contended(struct kmm_thread *t, struct kmm_arena *a);

/* Thread exit: t no longer uses its arena. */
void kmm_arena_detach(struct kmm_thread *t);

/* The arena list, free list and attached counts are consistent with each
 * other and with the thread list; every remote-list entry is an in-use
 * chunk of its arena.  Returns the number of violations. */
int kmm_arenas_check(int verbose);

void kmm_arenas_fork_prepare(void);
void kmm_arenas_fork_parent(void);
void kmm_arenas_fork_child(struct kmm_thread *self);

#endif /* KMM_HEAP_ARENAS_H */

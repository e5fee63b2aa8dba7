/*
 * lock.h — kmm's mutex: a three-state futex lock (0 free, 1 held, 2 held with
 * waiters), after Drepper's "Futexes Are Tricky".  It never allocates, works
 * before any constructor has run (a zero word is an unlocked lock), and is
 * reset in a fork child by storing 0.
 *
 * LOCK ORDER.  This enum is the one statement of it; every other file
 * refers here.  A thread may take a lock only if its rank is greater than
 * the rank of every lock the thread already holds (outermost first):
 *
 *   LEAK_SCAN      leakcheck.c scan_lock: one leak scan at a time
 *   INIT           init.c kmm_init_lock
 *   STATS_SNAP     stats.c snap_lock (malloc_info's snapshot), above arenas
 *   ARENA_LIST     arenas.c kmm_arena_list_lock: creating, linking arenas
 *   ARENA          struct kmm_arena's lock; at most one is held, but by the
 *                  fork handler, which takes them all in list (index) order
 *   ARENA_FREE     arenas.c kmm_arena_free_lock: the free list, attached
 *                  counts, the round-robin cursor
 *   THREADS        thread.c kmm_threads_lock: the list of threads
 *   BIG_STATS      big.c kmm_big_stats_lock
 *   LEAK_SHARD     leakcheck.c's table shards; the scan and fork take them
 *                  all, in index order; track/untrack take one
 *   --- the kernel side (src/kernel/) never calls up: its locks come last
 *   VMAP           vmalloc.c vmap_lock: the trees, purge list, counters
 *   USLAB          uslab.c owners_lock: the front end's owner records (the
 *                  list of all, the idle ones and their slabs)
 *   USLAB_OWNER    struct kmm_uslab_owner's lock: the slab front end's
 *                  slow paths of one thread (its lists); several only in
 *                  fork, in record (index) order
 *   SLAB_INIT      slab.c slab_init_slow's once-lock
 *   SLAB_LIST      slab.c cache_list_lock
 *   SLAB_CACHE     struct kmm_kmem_cache's lock; several only under the
 *                  list lock (fork, shrink, checks), in list (index) order
 *   ZONE           page_alloc.c kmm_zone.lock
 *   REGION         region.c region_lock
 *   --- leaves: nothing is taken under them
 *   VG_QUARANTINE  vg.c qlock (only under valgrind)
 *   VG_HEAD        vg.c head_lock: one header access, under any arena lock
 *   QUARANTINE     harden.c qlock: the quarantine's ring (redzone/quarantine=)
 *   SAMPLE         sample.c's lock: the sampled heap profile's tables
 *                  (KMM_SAMPLE); also tried from its dump signal's handler
 *   TRACE_REGISTRY trace.c registry_lock  } spin locks (not kmm_lock_t, so
 *   TRACE_BUFFER   trace.c flush_lock     } not witnessed): trace hooks run
 *                                           with any lock above held
 *
 * Several locks of one rank (ARENA, USLAB_OWNER, SLAB_CACHE, LEAK_SHARD) are held
 * together only in increasing "sub-rank" (the arena's index, the cache's
 * index, the shard's index), and arenas only while forking.  The fork
 * prepare handler (init.c) takes every lock in this order and releases in
 * reverse; the child resets them (kmm_lock_reset) and the witness.
 *
 * A lock gets its rank where it is defined (KMM_LOCK_INIT_RANK) or where its
 * structure is initialised (kmm_lock_init).  Release builds store nothing:
 * kmm_lock_t is one int and the fast paths are the same instructions.
 *
 * WITNESS (debug builds, ./configure --enable-debug, KMM_DEBUG): after
 * jemalloc's witness, each thread records the locks it holds (initial-exec
 * TLS, no allocation).  kmm_lock and kmm_lock_fork_aware check the order
 * before waiting and abort with "kmm: lock order: taking RANK (n) while
 * holding RANK (m)"; kmm_unlock checks the lock is held.  A successful
 * kmm_trylock is recorded but not checked: it cannot wait, so it cannot
 * deadlock (reused_arena tries arenas in any order); a failed one records
 * nothing.  While kmm_in_fork (after the prepare handler holds everything)
 * nothing is checked; during the prepare handler, several arenas may be
 * held.  A lock of rank KMM_RANK_NONE (never given one) aborts.
 * kmm_lock_assert_held / kmm_lock_assert_not_held state a function's
 * locking precondition; they compile to nothing in release builds.
 */
#ifndef KMM_LOCK_H
#define KMM_LOCK_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

enum kmm_lock_rank {
	KMM_RANK_NONE = 0,     /* not given a rank: a debug build aborts on it */
	KMM_RANK_LEAK_SCAN,
	KMM_RANK_INIT,
	KMM_RANK_STATS_SNAP,
	KMM_RANK_ARENA_LIST,
	KMM_RANK_ARENA,
	KMM_RANK_ARENA_FREE,
	KMM_RANK_THREADS,
	KMM_RANK_BIG_STATS,
	KMM_RANK_LEAK_SHARD,
	KMM_RANK_VMAP,
	KMM_RANK_USLAB,
	KMM_RANK_USLAB_OWNER,
	KMM_RANK_SLAB_INIT,
	KMM_RANK_SLAB_LIST,
	KMM_RANK_SLAB_CACHE,
	KMM_RANK_ZONE,
	KMM_RANK_REGION,
	KMM_RANK_VG_QUARANTINE,
	KMM_RANK_VG_HEAD,
	KMM_RANK_QUARANTINE,
	KMM_RANK_SAMPLE,
	KMM_RANK_TRACE_REGISTRY,
	KMM_RANK_TRACE_BUFFER,
	KMM_RANK_TEST_A,       /* for tests/unit/test_lock.c */
	KMM_RANK_TEST_B,
	KMM_RANK_NR
};

#if KMM_DEBUG
typedef struct kmm_lock {
	volatile int state;
	int rank;              /* enum kmm_lock_rank */
	unsigned sub;          /* order among locks of one rank */
} kmm_lock_t;
#define KMM_LOCK_INIT_RANK_SUB(r, s) { 0, (r), (s) }
#define KMM_LOCK_INIT_RANK(r) { 0, (r), 0 }
#else
typedef struct kmm_lock {
	volatile int state;
} kmm_lock_t;
#define KMM_LOCK_INIT_RANK_SUB(r, s) { 0 }
#define KMM_LOCK_INIT_RANK(r) { 0 }
#endif

void kmm_lock_slow(kmm_lock_t *l);

#if KMM_DEBUG
/* the witness, lock.c */
void kmm_witness_check(const kmm_lock_t *l);
void kmm_witness_acquired(const kmm_lock_t *l);
void kmm_witness_release(const kmm_lock_t *l);
void kmm_witness_assert_held(const kmm_lock_t *l, const char *file, int line);
void kmm_witness_assert_not_held(const kmm_lock_t *l, const char *file, int line);
void kmm_witness_fork_prepare(void);
void kmm_witness_fork_parent(void);
void kmm_witness_fork_child(void);
const char *kmm_lock_rank_name(int rank);
#define KMM_WITNESS(x) x
#else
#define KMM_WITNESS(x) ((void)0)
#endif

/* Give an embedded lock its rank (and its place among locks of one rank)
 * where its structure is initialised; the lock is left unlocked. */
KMM_INLINE void kmm_lock_init(kmm_lock_t *l, enum kmm_lock_rank rank, unsigned sub)
{
	l->state = 0;
#if KMM_DEBUG
	l->rank = (int)rank;
	l->sub = sub;
#else
	(void)rank;
	(void)sub;
#endif
}

/* BUSY.  kmm_busy counts, per thread, the kmm locks the thread holds or is
 * taking, plus the heap calls it is inside (heap/malloc.c's entry points).
 * Not 0 when the fork prepare handler runs means the fork comes from a
 * signal handler that interrupted kmm on this thread: it must not wait for
 * a lock this thread holds, and the child's heap may be half way through a
 * change (init.c, "Fork").  Counted before a lock is tried and after it is
 * released, so a signal between the two sees "busy", never "free" while a
 * lock is held.  One add to a thread-local word per lock taken. */
extern KMM_TLS unsigned kmm_busy;

/* The compare-and-swap itself: no witness (kmm_lock_slow's spin uses it). */
KMM_INLINE bool kmm_lock_try_raw(kmm_lock_t *l)
{
	int expected = 0;
	return __atomic_compare_exchange_n(&l->state, &expected, 1, false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

KMM_INLINE bool kmm_trylock(kmm_lock_t *l)
{
	kmm_busy++;
	bool ok = kmm_lock_try_raw(l);
	if (!ok)
		kmm_busy--;
#if KMM_DEBUG
	if (ok)
		kmm_witness_acquired(l);
#endif
	return ok;
}

KMM_INLINE void kmm_lock(kmm_lock_t *l)
{
	KMM_WITNESS(kmm_witness_check(l));
	kmm_busy++;
	if (KMM_UNLIKELY(!kmm_lock_try_raw(l)))
		kmm_lock_slow(l);
	KMM_WITNESS(kmm_witness_acquired(l));
}

void kmm_unlock_wake(kmm_lock_t *l);

KMM_INLINE void kmm_unlock(kmm_lock_t *l)
{
	KMM_WITNESS(kmm_witness_release(l));
	if (KMM_UNLIKELY(__atomic_exchange_n(&l->state, 0, __ATOMIC_RELEASE) == 2))
		kmm_unlock_wake(l);
	kmm_busy--;
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
	KMM_WITNESS(kmm_witness_check(l));
	kmm_busy++;
	if (KMM_UNLIKELY(!kmm_lock_try_raw(l))) {
		if (KMM_UNLIKELY(kmm_in_fork)) {
			kmm_busy--;
			return false;
		}
		kmm_lock_slow(l);
	}
	KMM_WITNESS(kmm_witness_acquired(l));
	return true;
}

KMM_INLINE void kmm_unlock_if(kmm_lock_t *l, bool locked)
{
	if (locked)
		kmm_unlock(l);
}

/* ---- taking every lock for fork (init.c), with a deadline (lock.c) ----------
 *
 * The prepare handler takes each lock through kmm_fork_lock (the trace
 * log's spin locks through kmm_fork_spin_lock), which logs it.  A lock
 * still held by another thread at the deadline (KMM_FORK_WAIT_NS after
 * kmm_fork_locks_begin), while a fork of a busy thread waits in its
 * prepare handler (kmm_fork_busy_wait), may never be released: its owner
 * can be that thread, inside a signal handler that interrupted it, waiting
 * to fork behind this fork.  (Without such a fork, the wait goes on.)  Then nothing more is taken, kmm_fork_locks_end releases what was,
 * in reverse, and returns false: the fork goes on without the heap
 * (init.c).  The log lives in the prepare handler's frame. */
#define KMM_FORK_WAIT_NS 100000000ull   /* 100 ms */
#define KMM_FORK_LOG_INLINE 32

struct kmm_fork_log {
	uintptr_t *e;             /* the locks taken (inline_e, or a mapping) */
	size_t n, cap;
	uint64_t deadline;        /* kmm_os_now_ns() */
	bool gave_up;
	uintptr_t inline_e[KMM_FORK_LOG_INLINE];
};

void kmm_fork_locks_begin(struct kmm_fork_log *log);
bool kmm_fork_lock(kmm_lock_t *l);   /* whether it took l (a list's lock:
					  skip the list's members if not) */
void kmm_fork_spin_lock(volatile int *l);
bool kmm_fork_locks_end(void);
/* A fork that found its thread busy starts (true) and stops (false)
 * waiting in the prepare handler: only then may another fork give up. */
void kmm_fork_busy_wait(bool begin);

/* In a fork child only: the thread that held the lock does not exist there.
 * (The forking thread's witness is reset as a whole by
 * kmm_lock_witness_fork_child.) */
KMM_INLINE void kmm_lock_reset(kmm_lock_t *l)
{
	l->state = 0;
}

KMM_INLINE bool kmm_lock_is_held(const kmm_lock_t *l)
{
	return __atomic_load_n(&l->state, __ATOMIC_RELAXED) != 0;
}

/* The fork handlers (init.c) tell the witness: the prepare handler is
 * about to take every lock; the parent released them; the child's copies of
 * them were reset. */
KMM_INLINE void kmm_lock_witness_fork_prepare(void)
{
	KMM_WITNESS(kmm_witness_fork_prepare());
}

KMM_INLINE void kmm_lock_witness_fork_parent(void)
{
	KMM_WITNESS(kmm_witness_fork_parent());
}

KMM_INLINE void kmm_lock_witness_fork_child(void)
{
	KMM_WITNESS(kmm_witness_fork_child());
}

/* Locking preconditions ("caller holds the zone lock"): in debug builds,
 * abort unless this thread holds (does not hold) l.  Release builds only
 * type-check the argument. */
#if KMM_DEBUG
#define kmm_lock_assert_held(l)     kmm_witness_assert_held((l), __FILE__, __LINE__)
#define kmm_lock_assert_not_held(l) kmm_witness_assert_not_held((l), __FILE__, __LINE__)
#else
#define kmm_lock_assert_held(l)     ((void)sizeof((l)->state))
#define kmm_lock_assert_not_held(l) ((void)sizeof((l)->state))
#endif

#endif /* KMM_LOCK_H */

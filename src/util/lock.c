/*
 * lock.c — slow paths of the futex lock (see lock.h).
 */
#include "config.h"

#include "lock.h"
#include "../os.h"

__thread bool kmm_in_fork __attribute__((tls_model("initial-exec")));
KMM_TLS unsigned kmm_busy;

KMM_HOT KMM_NOINLINE void kmm_lock_slow(kmm_lock_t *l)
{
	/* Spin briefly: arena critical sections are short. */
	for (int i = 0; i < 100; i++) {
		kmm_cpu_relax();
		if (__atomic_load_n(&l->state, __ATOMIC_RELAXED) == 0 && kmm_lock_try_raw(l))
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

/* ---- taking every lock for fork (lock.h) -----------------------------------
 *
 * The log of what one prepare handler took, for kmm_fork_locks_end to give
 * back if it gave up.  Per thread: glibc (2.36) runs the prepare handlers
 * without its own atfork lock, so two threads' forks may prepare at once
 * (they meet on kmm's locks, in rank order).  The caller's frame holds
 * the first entries (struct kmm_fork_log); more, when a process has more
 * locks (one per thread's slab front end record), go to a mapping of the
 * OS layer's, unmapped at the end. */
#define SPIN_TAG ((uintptr_t)1)   /* a trace spin lock, not a kmm_lock_t */

static KMM_TLS struct kmm_fork_log *fork_log;

void kmm_fork_locks_begin(struct kmm_fork_log *log)
{
	log->n = 0;
	log->cap = KMM_FORK_LOG_INLINE;
	log->e = log->inline_e;
	log->gave_up = false;
	log->deadline = kmm_os_now_ns() + KMM_FORK_WAIT_NS;
	fork_log = log;
}

/* Room for one more entry, or false (no mapping to be had: give up). */
static bool log_room(struct kmm_fork_log *log)
{
	if (log->n < log->cap)
		return true;
	size_t cap = log->cap * 2, bytes = cap * sizeof *log->e;
	uintptr_t *n = kmm_os_map(bytes, 0);
	if (n == NULL)
		return false;
	__builtin_memcpy(n, log->e, log->n * sizeof *log->e);
	if (log->e != log->inline_e)
		kmm_os_unmap(log->e, log->cap * sizeof *log->e);
	log->e = n;
	log->cap = cap;
	return true;
}

/* Threads whose fork found them busy in kmm and now wait in the prepare
 * handler (init.c, for glibc's stdio list lock): only while there is one
 * can a lock this fork waits for be held for ever (its holder is such a
 * thread).  A lock merely held long (its holder preempted on a loaded
 * machine) is waited for as long as it takes. */
static int busy_forks_waiting;

void kmm_fork_busy_wait(bool begin)
{
	__atomic_add_fetch(&busy_forks_waiting, begin ? 1 : -1, __ATOMIC_RELEASE);
}

/* Wait for *state to become free and take it (as `taken`); false if the
 * deadline passed while a busy fork waits (above). */
static bool take_until(volatile int *state, int taken, uint64_t deadline)
{
	for (int spin = 0;; spin++) {
		int expected = 0;
		if (__atomic_compare_exchange_n(state, &expected, taken, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return true;
		uint64_t now = kmm_os_now_ns();
		if (now >= deadline) {
			if (__atomic_load_n(&busy_forks_waiting, __ATOMIC_ACQUIRE) != 0)
				return false;
			deadline = now + KMM_FORK_WAIT_NS;   /* check again then */
		}
		if (spin < 100) {
			kmm_cpu_relax();
			continue;
		}
		if (taken == 2) {
			/* a futex lock: mark it contended (the holder's unlock
			 * wakes us) and sleep, at most until the deadline */
			expected = __atomic_exchange_n(state, 2, __ATOMIC_ACQUIRE);
			if (expected == 0)
				return true;
			kmm_os_futex_wait_ns(state, 2, deadline - now);
		} else {
			kmm_os_yield();
		}
	}
}

bool kmm_fork_lock(kmm_lock_t *l)
{
	struct kmm_fork_log *log = fork_log;
	KMM_ASSERT(log != NULL);   /* (between kmm_fork_locks_begin and _end) */
	if (log->gave_up)
		return false;
	KMM_WITNESS(kmm_witness_check(l));
	kmm_busy++;
	if (!log_room(log) || !take_until(&l->state, 2, log->deadline)) {
		kmm_busy--;
		log->gave_up = true;
		return false;
	}
	KMM_WITNESS(kmm_witness_acquired(l));
	log->e[log->n++] = (uintptr_t)l;
	return true;
}

void kmm_fork_spin_lock(volatile int *l)
{
	struct kmm_fork_log *log = fork_log;
	KMM_ASSERT(log != NULL);
	if (log->gave_up)
		return;
	if (!log_room(log) || !take_until(l, 1, log->deadline)) {
		log->gave_up = true;
		return;
	}
	kmm_busy++;   /* as trace.c's spin_lock counts */
	log->e[log->n++] = (uintptr_t)l | SPIN_TAG;
}

bool kmm_fork_locks_end(void)
{
	struct kmm_fork_log *log = fork_log;
	bool ok = !log->gave_up;
	while (!ok && log->n > 0) {
		uintptr_t e = log->e[--log->n];
		if (e & SPIN_TAG) {
			__atomic_store_n((volatile int *)(e & ~SPIN_TAG), 0, __ATOMIC_RELEASE);
			kmm_busy--;
		} else {
			kmm_unlock((kmm_lock_t *)e);
		}
	}
	if (log->e != log->inline_e)
		kmm_os_unmap(log->e, log->cap * sizeof *log->e);
	fork_log = NULL;
	return ok;
}

#if KMM_DEBUG
/* ---- the witness (debug builds): see lock.h, "WITNESS" ------------------------ */

#include "format.h"

static const char *const rank_names[KMM_RANK_NR] = {
	[KMM_RANK_NONE]           = "unranked lock",
	[KMM_RANK_LEAK_SCAN]      = "leak scan lock",
	[KMM_RANK_INIT]           = "kmm_init_lock",
	[KMM_RANK_STATS_SNAP]     = "stats snap_lock",
	[KMM_RANK_ARENA_LIST]     = "kmm_arena_list_lock",
	[KMM_RANK_ARENA]          = "arena lock",
	[KMM_RANK_ARENA_FREE]     = "kmm_arena_free_lock",
	[KMM_RANK_THREADS]        = "kmm_threads_lock",
	[KMM_RANK_BIG_STATS]      = "kmm_big_stats_lock",
	[KMM_RANK_LEAK_SHARD]     = "leak table shard lock",
	[KMM_RANK_VMAP]           = "vmap_lock",
	[KMM_RANK_USLAB]          = "uslab owners_lock",
	[KMM_RANK_USLAB_OWNER]    = "uslab owner lock",
	[KMM_RANK_SLAB_INIT]      = "slab init lock",
	[KMM_RANK_SLAB_LIST]      = "slab cache_list_lock",
	[KMM_RANK_SLAB_CACHE]     = "kmem_cache lock",
	[KMM_RANK_ZONE]           = "zone lock",
	[KMM_RANK_REGION]         = "region_lock",
	[KMM_RANK_VG_QUARANTINE]  = "memcheck quarantine lock",
	[KMM_RANK_VG_HEAD]        = "memcheck header lock",
	[KMM_RANK_QUARANTINE]     = "quarantine lock",
	[KMM_RANK_SAMPLE]         = "sampled profile lock",
	[KMM_RANK_TRACE_REGISTRY] = "trace registry lock",
	[KMM_RANK_TRACE_BUFFER]   = "trace buffer flush lock",
	[KMM_RANK_TEST_A]         = "test lock A",
	[KMM_RANK_TEST_B]         = "test lock B",
};

const char *kmm_lock_rank_name(int rank)
{
	return rank >= 0 && rank < KMM_RANK_NR ? rank_names[rank] : "bad rank";
}

/* Up to WITNESS_SLOTS held locks are remembered one by one (for the
 * asserts); the fork handler holds every lock, so beyond that only the
 * per-rank counts are kept. */
#define WITNESS_SLOTS 16

struct witness {
	unsigned count[KMM_RANK_NR];     /* locks of each rank held */
	unsigned last_sub[KMM_RANK_NR];  /* sub-rank of the last one taken */
	const kmm_lock_t *held[WITNESS_SLOTS];
	unsigned nheld;                  /* entries in held[] */
	unsigned untracked;              /* held but not in held[] */
	bool forking;                    /* in the fork prepare handler */
};

static KMM_TLS struct witness witness;

static int rank_of(const kmm_lock_t *l)
{
	int r = l->rank;
	if (KMM_UNLIKELY(r <= KMM_RANK_NONE || r >= KMM_RANK_NR))
		kmm_fatal("lock order: lock %p has no rank (%d): give it one (util/lock.h)",
			  (const void *)l, r);
	return r;
}

/* Several locks of one rank: in increasing sub-rank, and arenas and the
 * slab front end's owner records only while forking (util/lock.h). */
static bool same_rank_ok(const struct witness *w, const kmm_lock_t *l, int r)
{
	if ((r == KMM_RANK_ARENA || r == KMM_RANK_USLAB_OWNER) && !w->forking)
		return false;
	if (r != KMM_RANK_ARENA && r != KMM_RANK_USLAB_OWNER && r != KMM_RANK_SLAB_CACHE &&
	    r != KMM_RANK_LEAK_SHARD && r != KMM_RANK_TEST_B)
		return false;
	return l->sub > w->last_sub[r];
}

void kmm_witness_check(const kmm_lock_t *l)
{
	struct witness *w = &witness;
	int r = rank_of(l);
	if (kmm_in_fork)   /* this thread holds every lock: nothing to check */
		return;
	for (int h = KMM_RANK_NR - 1; h >= r; h--) {
		if (w->count[h] == 0 || (h == r && same_rank_ok(w, l, r)))
			continue;
		if (h == r)
			kmm_fatal("lock order: taking %s (rank %d, sub %u) while holding %s (rank %d, sub %u)",
				  rank_names[r], r, l->sub, rank_names[h], h, w->last_sub[h]);
		kmm_fatal("lock order: taking %s (rank %d) while holding %s (rank %d)",
			  rank_names[r], r, rank_names[h], h);
	}
}

void kmm_witness_acquired(const kmm_lock_t *l)
{
	struct witness *w = &witness;
	int r = rank_of(l);
	w->count[r]++;
	w->last_sub[r] = l->sub;
	if (w->nheld < WITNESS_SLOTS)
		w->held[w->nheld++] = l;
	else
		w->untracked++;
}

static int find_held(const struct witness *w, const kmm_lock_t *l)
{
	for (unsigned i = w->nheld; i-- > 0;)
		if (w->held[i] == l)
			return (int)i;
	return -1;
}

void kmm_witness_release(const kmm_lock_t *l)
{
	struct witness *w = &witness;
	int r = rank_of(l);
	int i = find_held(w, l);
	if (i >= 0) {
		for (unsigned j = (unsigned)i; j + 1 < w->nheld; j++)
			w->held[j] = w->held[j + 1];
		w->nheld--;
	} else if (w->untracked > 0 && w->count[r] > 0) {
		w->untracked--;
	} else {
		kmm_fatal("lock order: unlocking %s (rank %d), which this thread does not hold",
			  rank_names[r], r);
	}
	w->count[r]--;
}

void kmm_witness_assert_held(const kmm_lock_t *l, const char *file, int line)
{
	const struct witness *w = &witness;
	int r = rank_of(l);
	if (find_held(w, l) >= 0)
		return;
	/* beyond the slots (forking): a lock of that rank, and l is locked */
	if (w->untracked > 0 && w->count[r] > 0 && kmm_lock_is_held(l))
		return;
	kmm_fatal("assertion failed: %s (rank %d) held, at %s:%d", rank_names[r], r, file, line);
}

void kmm_witness_assert_not_held(const kmm_lock_t *l, const char *file, int line)
{
	int r = rank_of(l);
	if (find_held(&witness, l) >= 0)
		kmm_fatal("assertion failed: %s (rank %d) not held, at %s:%d", rank_names[r], r, file,
			  line);
}

void kmm_witness_fork_prepare(void)
{
	witness.forking = true;
}

void kmm_witness_fork_parent(void)
{
	witness.forking = false;
}

void kmm_witness_fork_child(void)
{
	/* every lock was reset: this thread holds none */
	__builtin_memset(&witness, 0, sizeof witness);
}

/* KMM_ASSERT's failure (util/compiler.h) */
KMM_COLD void kmm_assert_fail(const char *expr, const char *file, int line)
{
	kmm_fatal("assertion failed: %s at %s:%d", expr, file, line);
}

#endif /* KMM_DEBUG */

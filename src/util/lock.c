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

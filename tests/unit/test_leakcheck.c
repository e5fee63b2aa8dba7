/*
 * test_leakcheck.c — the leak scanner's table (src/leakcheck.c): track and
 * untrack against a model (open addressing with backward-shift deletion,
 * growth), what realloc does to it, the observed malloc-family calls that
 * feed it, and one scan of this process.  The integration test
 * (tests/integration/leakcheck.sh) scans real programs.
 */
#include <errno.h>
#include <stdlib.h>

#include "testutil.h"
#include "leakcheck.h"
#include "options.h"

/* Tracking on, as KMM_LEAKCHECK=1 does at start-up. */
static void start(void)
{
	kmm_options.leakcheck = true;
	kmm_leakcheck_start();
	kmm_options.leakcheck = false;   /* no report at exit */
	cr_assert(kmm_params.observed & KMM_OBSERVE_LEAKS);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The table against a bitmap of which fake addresses are in it: 300 000
 * random inserts and removes over 40 000 addresses, every untrack's answer
 * and size checked, the count checked as it grows (several doublings) and
 * shrinks.  Addresses are never dereferenced: no scan runs here. */
Test(leakcheck, table_against_model)
{
	enum { N = 40000 };
	static size_t size_of[N];
	static bool in[N];
	size_t live = 0;
	uintptr_t base = (uintptr_t)0x7000000000;
	for (int op = 0; op < 300000; op++) {
		size_t k = next() % N;
		uintptr_t a = base + k * 16;
		if (op < 150000 ? (next() % 4 != 0) : (next() % 4 == 0)) {
			if (in[k])
				continue;
			size_of[k] = next() % 5000;
			kmm_leakcheck_track((void *)a, size_of[k], (const void *)(a ^ 1));
			in[k] = true;
			live++;
		} else {
			struct kmm_leak_rec rec = { 0, NULL };
			bool was = kmm_leakcheck_untrack((void *)a, &rec);
			cr_assert_eq(was, in[k], "op %d: untrack of %#lx says %d, model %d", op, (unsigned long)a, was, in[k]);
			if (was) {
				cr_assert_eq(rec.size, size_of[k]);
				cr_assert_eq((uintptr_t)rec.caller, a ^ 1);
				in[k] = false;
				live--;
			}
		}
		if (op % 10000 == 0)
			cr_assert_eq(kmm_leakcheck_tracked(), live, "op %d", op);
	}
	cr_assert_gt(live, 1000);
	/* everything still in is found, then gone */
	for (size_t k = 0; k < N; k++) {
		bool was = kmm_leakcheck_untrack((void *)(base + k * 16), NULL);
		cr_assert_eq(was, in[k], "final untrack of %zu", k);
	}
	cr_assert_eq(kmm_leakcheck_tracked(), 0);
}

/* A failed realloc (n != 0, NULL) keeps the old block with its old size
 * and site; a successful one tracks the new block; realloc(p, 0) frees. */
Test(leakcheck, realloc_bookkeeping)
{
	void *a = (void *)(uintptr_t)0x6000000010, *b = (void *)(uintptr_t)0x6000000810;
	struct kmm_leak_rec rec;
	kmm_leakcheck_track(a, 100, (void *)1);
	cr_assert(kmm_leakcheck_untrack(a, &rec));
	kmm_leakcheck_realloced(a, NULL, 200, (void *)2, &rec);
	cr_assert(kmm_leakcheck_untrack(a, &rec), "a failed realloc keeps the block tracked");
	cr_assert_eq(rec.size, 100);
	cr_assert_eq(rec.caller, (void *)1);
	kmm_leakcheck_realloced(a, b, 300, (void *)3, &rec);
	cr_assert(!kmm_leakcheck_untrack(a, NULL));
	cr_assert(kmm_leakcheck_untrack(b, &rec));
	cr_assert_eq(rec.size, 300);
	cr_assert_eq(rec.caller, (void *)3);
	kmm_leakcheck_track(a, 100, (void *)1);
	cr_assert(kmm_leakcheck_untrack(a, &rec));
	kmm_leakcheck_realloced(a, NULL, 0, (void *)4, &rec);   /* realloc(p, 0) freed it */
	cr_assert_eq(kmm_leakcheck_tracked(), 0);
}

/* The observed calls feed the table: every block an allocating call hands
 * out is in it with its requested size, every free takes it out. */
Test(leakcheck, observed_calls)
{
	start();
	size_t base = kmm_leakcheck_tracked();
	void *m = kmm_malloc(100), *c = kmm_calloc(3, 50), *al = kmm_memalign(256, 1000);
	void *big = kmm_malloc(1 << 20), *pm = NULL;
	cr_assert_eq(kmm_posix_memalign(&pm, 64, 77), 0);
	cr_assert_eq(kmm_leakcheck_tracked(), base + 5);
	struct kmm_leak_rec rec;
	cr_assert(kmm_leakcheck_untrack(c, &rec));
	cr_assert_eq(rec.size, 150);
	kmm_leakcheck_track(c, rec.size, rec.caller);
	void *r = kmm_realloc(m, 5000);
	if (r != m)
		cr_assert(!kmm_leakcheck_untrack(m, NULL), "the old block left the table");
	cr_assert(kmm_leakcheck_untrack(r, &rec));
	cr_assert_eq(rec.size, 5000);
	kmm_leakcheck_track(r, rec.size, rec.caller);
	kmm_free(r);
	kmm_free(c);
	kmm_free(al);
	kmm_free(big);
	kmm_free(pm);
	cr_assert_eq(kmm_leakcheck_tracked(), base);
	CHECK_HEAP();
}

static void *volatile kept;
static void *volatile sink;

static __attribute__((noinline)) void lose(int n)
{
	for (int i = 0; i < n; i++) {
		sink = kmm_malloc(4000 + (size_t)i);
		memset(sink, 0x5a, 16);
	}
	sink = NULL;
}

static __attribute__((noinline)) void scrub(void)
{
	volatile char area[64 << 10];
	memset((char *)area, 0, sizeof area);
}

/* One scan of this process: a block held by a global is referenced, three
 * whose pointers were dropped are not.  Linked into this program, kmm's
 * own data is scanned too (libkmm.so's is not): its pointer to the main
 * heap's top chunk points into the last 8 bytes of the block before it,
 * so a referenced block is allocated last. */
Test(leakcheck, scan)
{
	start();
	kept = kmm_malloc(3000);
	lose(3);
	void *volatile last = kmm_malloc(100);
	scrub();
	cr_assert_eq(kmm_leakcheck_scan(-1), 3);
	kept = NULL;
	scrub();
	cr_assert_eq(kmm_leakcheck_scan(-1), 4);
	kmm_free(last);
	CHECK_HEAP();
}

/* Tracking off: the scan says ENOSYS. */
Test(leakcheck, off)
{
	if (kmm_params.observed & KMM_OBSERVE_LEAKS)
		cr_skip_test("tracking is on in this process (KMM_LEAKCHECK set?)");
	errno = 0;
	cr_assert_eq(kmm_leakcheck_scan(-1), -1);
	cr_assert_eq(errno, ENOSYS);
}

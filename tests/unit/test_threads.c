/*
 * test_threads.c — the allocator under real threads (prefixed API).
 *
 * Stress tests meant to hold for any arena design (one arena, or glibc-style
 * arenas per thread with remote frees): they use only include/kmm.h, never
 * the internals.  Every block carries a pattern derived from its owner and
 * sequence number, verified in full before it is freed or reallocated, so a
 * block handed out twice, a lost or early free, or a realloc that copied the
 * wrong bytes shows as a mismatch.  Memory use is checked through
 * mallinfo2() (which, as in glibc, sums every arena) and the served counters
 * of kmm_stats_get().  A design may keep frees from other threads pending
 * for a while, so while threads run the bounds allow about one round of
 * work to be pending, far below what a real leak adds up to; once the
 * threads are gone and malloc_trim() ran, in use must be back where it was
 * (stats::in_use_back_to_the_start_once_threads_are_gone).  malloc_info()
 * must agree with mallinfo2() (check_all), M_ARENA_MAX must bound the heaps
 * it shows, and kmm_check() runs from a thread of its own while others
 * allocate (it is "safe to call at any time from any thread").
 *
 * Threads never call cr_assert (criterion's asserts belong to the test's
 * main thread): they record failures with failf(), and the main thread
 * asserts that there were none after the joins.  Every test ends with
 * kmm_check() and the mallinfo2 balance.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kmm.h"

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

/* ---- failures recorded by threads ------------------------------------------ */

static int nerrors;
static char first_error[512];

static void __attribute__((format(printf, 1, 2))) failf(const char *fmt, ...)
{
	if (__atomic_fetch_add(&nerrors, 1, __ATOMIC_ACQ_REL) == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(first_error, sizeof first_error, fmt, ap);
		va_end(ap);
	}
}

#define ASSERT_NO_THREAD_ERRORS() \
	cr_assert_eq(__atomic_load_n(&nerrors, __ATOMIC_ACQUIRE), 0, \
		     "%d failures in the threads; the first: %s", nerrors, first_error)

/* ---- patterns ---------------------------------------------------------------- */

/* Word i of a block with this seed; seeds are unique per block (owner in the
 * high bits, sequence number below), so two blocks never share a pattern. */
static inline uint64_t pat(uint64_t seed, size_t i)
{
	uint64_t x = seed * 0xff51afd7ed558ccdull + (uint64_t)i * 0x9e3779b97f4a7c15ull;
	return x ^ (x >> 31);
}

static void pfill(void *p, size_t n, uint64_t seed)
{
	unsigned char *c = p;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w = pat(seed, i);
		memcpy(c + i, &w, 8);
	}
	if (i < n) {
		uint64_t w = pat(seed, i);
		memcpy(c + i, &w, n - i);
	}
}

/* Offset of the first byte of p[0..n) that differs from the pattern, or -1. */
static long pcheck(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *c = p;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w = pat(seed, i), g;
		memcpy(&g, c + i, 8);
		if (g != w)
			return (long)i;
	}
	if (i < n) {
		uint64_t w = pat(seed, i), g = 0;
		memcpy(&g, c + i, n - i);
		if (memcmp(&g, &w, n - i) != 0)
			return (long)i;
	}
	return -1;
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != 0)
			return 0;
	return 1;
}

/* A block that describes itself: its first 16 bytes hold its size and seed,
 * the rest the pattern (blocks passed through atomic slots). */
struct hdr { size_t n; uint64_t seed; };
#define HDR_MIN sizeof(struct hdr)

static void hfill(void *p, size_t n, uint64_t seed)
{
	struct hdr h = { n, seed };
	memcpy(p, &h, sizeof h);
	pfill((char *)p + sizeof h, n - sizeof h, seed);
}

/* 1 if the self-describing block p is intact (else a failure is recorded) */
static int hcheck(const void *p, const char *who)
{
	struct hdr h;
	memcpy(&h, p, sizeof h);
	if (h.n < HDR_MIN || h.n > 64 * MiB) {
		failf("%s: block %p has a corrupted header (size %zu)", who, p, h.n);
		return 0;
	}
	long off = pcheck((const char *)p + sizeof h, h.n - sizeof h, h.seed);
	if (off >= 0) {
		failf("%s: block %p (%zu bytes, seed %#llx) corrupted at offset %ld", who, p, h.n,
		      (unsigned long long)h.seed, off + (long)sizeof h);
		return 0;
	}
	return 1;
}

/* ---- random numbers and sizes -------------------------------------------------- */

static inline uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline uint64_t seeded(uint64_t x)
{
	x = x * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
	return x ? x : 1;
}

/* 16 B .. max, spread over every size class (log-uniform) */
static size_t small_size(uint64_t *r, size_t max)
{
	size_t cap = 16;
	unsigned shifts = 0;
	while ((cap << shifts) < max)
		shifts++;
	size_t lim = (size_t)16 << (rnd(r) % (shifts + 1));
	if (lim > max)
		lim = max;
	return 16 + rnd(r) % (lim - 15 > 0 ? lim - 15 : 1);
}

/* ---- process-wide numbers ------------------------------------------------------- */

static uint64_t served_total(void)
{
	struct kmm_stats st;
	cr_assert_eq(kmm_stats_get(&st), 0);
	uint64_t n = 0;
	for (int i = 0; i < KMM_SERVED_NR; i++)
		n += st.served[i];
	return n;
}

/* bytes kmm holds from the system for heaps and big blocks (all arenas) */
static size_t footprint(void)
{
	struct mallinfo2 mi = kmm_mallinfo2();
	return mi.arena + mi.hblkhd;
}

static size_t in_use(void)
{
	struct mallinfo2 mi = kmm_mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* Everything allocated since in use was use0 has been freed: frees still
 * waiting on another arena's remote list may count as in use, but not
 * more than a queue's worth. */
static void assert_freed_since(size_t use0)
{
	size_t use = in_use();
	cr_assert(use < use0 + 16 * MiB, "in use %zu KiB after everything was freed (%zu KiB before)",
		  use / KiB, use0 / KiB);
}

/* The end of every test: all checkers pass, mallinfo2 balances, and
 * malloc_info's totals agree with mallinfo2 (each arena counted once). */
static void check_all(void)
{
	cr_assert_eq(kmm_check(1), 0, "heap invariants violated (see stderr)");
	struct mallinfo2 mi = kmm_mallinfo2();
	cr_assert_eq(mi.uordblks + mi.fordblks, mi.arena,
		     "mallinfo2: in use %zu + free %zu != arena %zu", mi.uordblks, mi.fordblks, mi.arena);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	cr_assert_eq(kmm_malloc_info(0, f), 0);
	fclose(f);
	/* per-heap "system current" values, then the total after </heap> */
	size_t sum = 0, total = 0, heaps = 0;
	const char *s = buf, *last_heap_end = NULL;
	for (const char *h = strstr(s, "<heap nr="); h != NULL; h = strstr(h + 1, "<heap nr=")) {
		heaps++;
		const char *end = strstr(h, "</heap>");
		cr_assert_not_null(end, "malloc_info: <heap> without </heap>:\n%s", buf);
		const char *c = strstr(h, "<system type=\"current\" size=\"");
		cr_assert(c != NULL && c < end, "malloc_info: heap without system current");
		sum += strtoull(c + strlen("<system type=\"current\" size=\""), NULL, 10);
		last_heap_end = end;
	}
	cr_assert(heaps >= 1, "malloc_info shows no heap:\n%s", buf);
	/* the slab front end's slabs (kmm's <slabs .../>, after the heaps)
	 * count in the totals as a heap's bytes */
	const char *sl = strstr(last_heap_end, "<slabs count=\"");
	if (sl != NULL) {
		const char *sz = strstr(sl, "size=\"");
		cr_assert_not_null(sz, "malloc_info: <slabs> without size");
		sum += strtoull(sz + strlen("size=\""), NULL, 10);
	}
	const char *t = strstr(last_heap_end, "<system type=\"current\" size=\"");
	cr_assert_not_null(t, "malloc_info: no total system current");
	total = strtoull(t + strlen("<system type=\"current\" size=\""), NULL, 10);
	cr_assert_eq(sum, total, "malloc_info: heaps' system bytes sum to %zu, total says %zu", sum, total);
	cr_assert_eq(total, mi.arena, "malloc_info total system %zu != mallinfo2 arena %zu", total, mi.arena);
	free(buf);
}

/* How many <heap> elements malloc_info shows (arenas in use). */
static int heaps_shown(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	cr_assert_eq(kmm_malloc_info(0, f), 0);
	fclose(f);
	int n = 0;
	for (const char *h = strstr(buf, "<heap nr="); h != NULL; h = strstr(h + 1, "<heap nr="))
		n++;
	free(buf);
	return n;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- a thread that runs the checkers and reports while others work --------------- */

static volatile int inspector_stop;
static long inspector_rounds;
static size_t inspector_max_footprint;   /* the largest footprint() seen */

/* kmm_check() is "safe to call at any time from any thread": it must find
 * no violation while other threads allocate, and the reports must neither
 * crash nor deadlock. */
static void *inspector(void *arg)
{
	(void)arg;
	int devnull = open("/dev/null", O_WRONLY);
	FILE *fnull = fopen("/dev/null", "w");
	while (!inspector_stop) {
		int v = kmm_check(1);
		if (v != 0)
			failf("kmm_check() found %d violations while threads ran (see stderr)", v);
		struct kmm_stats st;
		kmm_stats_get(&st);
		size_t fp = footprint();
		if (fp > inspector_max_footprint)
			inspector_max_footprint = fp;
		if (fnull)
			kmm_malloc_info(0, fnull);
		if (devnull >= 0)
			kmm_report(devnull, "summary,meminfo");
		inspector_rounds++;
		usleep(5000);
	}
	if (fnull)
		fclose(fnull);
	if (devnull >= 0)
		close(devnull);
	return NULL;
}

/* ================================================================================
 * (a) producer / consumer: blocks allocated by two threads, freed by two others
 * ================================================================================ */

#define PC_ITEMS      200000      /* blocks in all */
#define PC_PRODUCERS  2
#define PC_CONSUMERS  2
#define PC_RING       2048
#define PC_BATCH      32
#define PC_WINDOW     128         /* a consumer frees its blocks in random order */

struct item { unsigned char *p; size_t n; uint64_t seed; };

static struct {
	pthread_mutex_t lock;
	pthread_cond_t not_full, not_empty;
	struct item ring[PC_RING];
	size_t head, count;
	int producers_left;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0, 0, 0 };

static uint64_t pc_mallocs[PC_PRODUCERS];
static size_t pc_bytes[PC_PRODUCERS];

static void q_put(const struct item *it, size_t n)
{
	pthread_mutex_lock(&q.lock);
	for (size_t i = 0; i < n; i++) {
		while (q.count == PC_RING)
			pthread_cond_wait(&q.not_full, &q.lock);
		q.ring[(q.head + q.count) % PC_RING] = it[i];
		q.count++;
	}
	pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.lock);
}

/* up to max items; 0 when the producers are done and the queue is empty */
static size_t q_get(struct item *it, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&q.lock);
	while (q.count == 0 && q.producers_left > 0)
		pthread_cond_wait(&q.not_empty, &q.lock);
	while (n < max && q.count > 0) {
		it[n++] = q.ring[q.head];
		q.head = (q.head + 1) % PC_RING;
		q.count--;
	}
	pthread_cond_broadcast(&q.not_full);
	pthread_mutex_unlock(&q.lock);
	return n;
}

static void *producer(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t r = seeded((uint64_t)me + 100);
	struct item batch[PC_BATCH];
	size_t nb = 0;
	for (uint64_t seq = 0; seq < PC_ITEMS / PC_PRODUCERS; seq++) {
		struct item *it = &batch[nb++];
		it->n = rnd(&r) % 400 == 0 ? 200 * KiB + rnd(&r) % (16 * KiB) : small_size(&r, 4096);
		it->seed = ((uint64_t)(me + 1) << 40) | seq;
		if (rnd(&r) % 16 == 0) {
			it->p = kmm_calloc(1, it->n);
			if (it->p != NULL && !all_zero(it->p, it->n))
				failf("producer %d: calloc(1, %zu) not zeroed", me, it->n);
		} else {
			it->p = kmm_malloc(it->n);
		}
		if (it->p == NULL) {
			failf("producer %d: allocation of %zu bytes failed", me, it->n);
			nb--;
			continue;
		}
		if (kmm_malloc_usable_size(it->p) < it->n)
			failf("producer %d: usable size %zu < %zu", me, kmm_malloc_usable_size(it->p), it->n);
		pc_mallocs[me]++;
		pc_bytes[me] += it->n;
		pfill(it->p, it->n, it->seed);
		if (nb == PC_BATCH) {
			q_put(batch, nb);
			nb = 0;
		}
	}
	q_put(batch, nb);
	pthread_mutex_lock(&q.lock);
	q.producers_left--;
	pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

static void consume(const struct item *it, int me)
{
	long off = pcheck(it->p, it->n, it->seed);
	if (off >= 0)
		failf("consumer %d: block %p (%zu bytes, seed %#llx) corrupted at offset %ld",
		      me, (void *)it->p, it->n, (unsigned long long)it->seed, off);
	kmm_free(it->p);
}

static uint64_t pc_consumed[PC_CONSUMERS];

static void *consumer(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t r = seeded((uint64_t)me + 200);
	struct item window[PC_WINDOW], batch[PC_BATCH];
	memset(window, 0, sizeof window);
	size_t n;
	while ((n = q_get(batch, PC_BATCH)) > 0) {
		for (size_t i = 0; i < n; i++) {
			struct item *slot = &window[rnd(&r) % PC_WINDOW];
			if (slot->p != NULL)
				consume(slot, me);
			*slot = batch[i];
			pc_consumed[me]++;
		}
	}
	for (int i = 0; i < PC_WINDOW; i++)
		if (window[i].p != NULL)
			consume(&window[i], me);
	return NULL;
}

Test(threads, producers_and_consumers, .timeout = 60)
{
	pthread_t prod[PC_PRODUCERS], cons[PC_CONSUMERS], insp;
	kmm_free(kmm_malloc(1));
	size_t use0 = in_use();
	uint64_t served0 = served_total();
	double t0 = now();

	q.producers_left = PC_PRODUCERS;
	inspector_stop = 0;
	cr_assert_eq(pthread_create(&insp, NULL, inspector, NULL), 0);
	for (int i = 0; i < PC_CONSUMERS; i++)
		cr_assert_eq(pthread_create(&cons[i], NULL, consumer, (void *)(intptr_t)i), 0);
	for (int i = 0; i < PC_PRODUCERS; i++)
		cr_assert_eq(pthread_create(&prod[i], NULL, producer, (void *)(intptr_t)i), 0);
	for (int i = 0; i < PC_PRODUCERS; i++)
		pthread_join(prod[i], NULL);
	for (int i = 0; i < PC_CONSUMERS; i++)
		pthread_join(cons[i], NULL);
	inspector_stop = 1;
	pthread_join(insp, NULL);
	ASSERT_NO_THREAD_ERRORS();

	uint64_t made = 0, consumed = 0;
	size_t bytes = 0;
	for (int i = 0; i < PC_PRODUCERS; i++)
		made += pc_mallocs[i], bytes += pc_bytes[i];
	for (int i = 0; i < PC_CONSUMERS; i++)
		consumed += pc_consumed[i];
	cr_assert_eq(made, PC_ITEMS);
	cr_assert_eq(consumed, made, "%llu blocks made, %llu consumed",
		     (unsigned long long)made, (unsigned long long)consumed);
	size_t fp = footprint();
	cr_log_info("producers/consumers: %llu blocks, %zu MiB, %.2f s, %ld checker rounds; footprint %zu KiB "
		    "at the end, at most %zu KiB while running", (unsigned long long)made, bytes / MiB,
		    now() - t0, inspector_rounds, fp / KiB, inspector_max_footprint / KiB);

	/* every allocation of the exited producers is counted */
	uint64_t served = served_total() - served0;
	cr_assert(served >= made, "served counters: %llu allocations, the producers made %llu",
		  (unsigned long long)served, (unsigned long long)made);
	/* at most a queue's worth of blocks lived at once (a few MiB): the
	 * heap must not have kept what the consumers freed (> 100 MiB) */
	cr_assert(fp < 32 * MiB && inspector_max_footprint < 32 * MiB,
		  "footprint %zu MiB at the end, %zu MiB at most, after %zu MiB went through the queue",
		  fp / MiB, inspector_max_footprint / MiB, bytes / MiB);
	assert_freed_since(use0);
	check_all();
}

/* ================================================================================
 * (b) every thread frees the blocks of every other thread
 * ================================================================================ */

#define XF_THREADS 4
#define XF_BLOCKS  3000
#define XF_ROUNDS  16

struct blk { unsigned char *p; size_t n; uint64_t seed; };

static struct blk xf_buf[2][XF_THREADS][XF_BLOCKS];
static pthread_barrier_t xf_barrier;
static size_t xf_round_bytes[XF_ROUNDS + 1];
static size_t xf_fp[XF_ROUNDS + 2], xf_use[XF_ROUNDS + 2];   /* after round r */
static uint64_t xf_mallocs[XF_THREADS];

static void xf_alloc(int me, int round, int k, uint64_t *r)
{
	struct blk *b = &xf_buf[round % 2][me][k];
	b->n = rnd(r) % 500 == 0 ? 128 * KiB + rnd(r) % (160 * KiB) : small_size(r, 4096);
	b->seed = ((uint64_t)(me + 1) << 48) | ((uint64_t)round << 32) | (uint64_t)k;
	b->p = kmm_malloc(b->n);
	if (b->p == NULL) {
		failf("thread %d: malloc(%zu) failed", me, b->n);
		return;
	}
	xf_mallocs[me]++;
	__atomic_fetch_add(&xf_round_bytes[round], b->n, __ATOMIC_RELAXED);
	pfill(b->p, b->n, b->seed);
}

/* the blocks of owner j that thread i frees: those with k % 3 == slot */
static int xf_slot(int i, int j)
{
	return (i - j + XF_THREADS) % XF_THREADS - 1;    /* 0, 1, 2 for i != j */
}

static void xf_free_one(int me, int round, int j, int k)
{
	struct blk *b = &xf_buf[round % 2][j][k];
	if (b->p == NULL)
		return;
	long off = pcheck(b->p, b->n, b->seed);
	if (off >= 0)
		failf("thread %d: block %d of thread %d (round %d, %zu bytes) corrupted at offset %ld",
		      me, k, j, round, b->n, off);
	kmm_free(b->p);
	b->p = NULL;
}

/* my share of the others' blocks: c = 0 .. XF_BLOCKS-1 walks the three
 * other owners in turn, every third block of each */
static void xf_share(int me, int c, int *j, int *k)
{
	int per = XF_BLOCKS / 3, o = c / per;
	*j = o >= me ? o + 1 : o;
	*k = (c % per) * 3 + xf_slot(me, *j);
}

static void *xf_thread(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t r = seeded((uint64_t)me + 300);

	for (int k = 0; k < XF_BLOCKS; k++)
		xf_alloc(me, 0, k, &r);
	pthread_barrier_wait(&xf_barrier);
	for (int round = 1; round <= XF_ROUNDS + 1; round++) {
		/* free my share of the others' blocks of the previous round
		 * while allocating this round's own, one free per allocation:
		 * remote frees meet the owner's allocations */
		for (int c = 0; c < XF_BLOCKS; c++) {
			int j, k;
			if (round <= XF_ROUNDS)
				xf_alloc(me, round, c, &r);
			xf_share(me, c, &j, &k);
			xf_free_one(me, round - 1, j, k);
		}
		pthread_barrier_wait(&xf_barrier);
		if (me == 0) {         /* quiescent: the others wait below */
			xf_fp[round] = footprint();
			xf_use[round] = in_use();
		}
		pthread_barrier_wait(&xf_barrier);
	}
	return NULL;
}

static void run_cross_frees(void)
{
	pthread_t th[XF_THREADS];
	kmm_free(kmm_malloc(1));
	size_t use0 = in_use();
	uint64_t served0 = served_total();
	double t0 = now();
	cr_assert_eq(pthread_barrier_init(&xf_barrier, NULL, XF_THREADS), 0);
	for (int i = 0; i < XF_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, xf_thread, (void *)(intptr_t)i), 0);
	for (int i = 0; i < XF_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&xf_barrier);
	ASSERT_NO_THREAD_ERRORS();

	for (int b = 0; b < 2; b++)
		for (int t = 0; t < XF_THREADS; t++)
			for (int k = 0; k < XF_BLOCKS; k++)
				cr_assert_null(xf_buf[b][t][k].p, "block %d of thread %d never freed", k, t);
	uint64_t made = 0;
	size_t total = 0, round_max = 0;
	for (int i = 0; i < XF_THREADS; i++)
		made += xf_mallocs[i];
	for (int rd = 0; rd <= XF_ROUNDS; rd++) {
		total += xf_round_bytes[rd];
		if (xf_round_bytes[rd] > round_max)
			round_max = xf_round_bytes[rd];
	}
	cr_log_info("cross frees: %llu blocks, %zu MiB, %.2f s; footprint after round 1 %zu KiB, "
		    "after round %d %zu KiB, after the last frees %zu KiB",
		    (unsigned long long)made, total / MiB, now() - t0, xf_fp[1] / KiB, XF_ROUNDS,
		    xf_fp[XF_ROUNDS] / KiB, xf_fp[XF_ROUNDS + 1] / KiB);
	cr_assert_eq(made, (uint64_t)XF_THREADS * XF_BLOCKS * (XF_ROUNDS + 1));
	cr_assert(served_total() - served0 >= made);
	/* rounds 2.. reuse what the frees of the round before gave back: the
	 * heaps do not grow round after round (lost remote frees would add a
	 * round's worth, ~round_max, each time) */
	for (int rd = 2; rd <= XF_ROUNDS + 1; rd++)
		cr_assert(xf_fp[rd] <= xf_fp[1] + xf_fp[1] / 2 + 4 * MiB,
			  "footprint grows with the rounds: %zu KiB after round 1, %zu KiB after round %d "
			  "(a round allocates %zu KiB)", xf_fp[1] / KiB, xf_fp[rd] / KiB, rd, round_max / KiB);
	/* in use: a round's blocks, plus at most one round's frees pending */
	for (int rd = 2; rd <= XF_ROUNDS; rd++)
		cr_assert(xf_use[rd] <= xf_use[1] + round_max + MiB,
			  "in use grows with the rounds: %zu KiB after round 1, %zu KiB after round %d",
			  xf_use[1] / KiB, xf_use[rd] / KiB, rd);
	cr_assert(xf_use[XF_ROUNDS + 1] <= use0 + round_max + MiB,
		  "in use after every block was freed: %zu KiB (before: %zu KiB)",
		  xf_use[XF_ROUNDS + 1] / KiB, use0 / KiB);
	check_all();
}

Test(threads, everyone_frees_the_others_blocks, .timeout = 60)
{
	run_cross_frees();
}

/* The same with every thread in one arena (M_ARENA_MAX 1): malloc_info
 * must show a single heap. */
Test(arenas, arena_max_one_shares_one_heap, .timeout = 60)
{
	cr_assert_eq(kmm_mallopt(M_ARENA_MAX, 1), 1);
	run_cross_frees();
	cr_assert_eq(heaps_shown(), 1, "arena_max 1, yet malloc_info shows %d heaps", heaps_shown());
}

/* ================================================================================
 * after the threads are gone and malloc_trim() ran, mallinfo2 counts every
 * free: a program's own leak check (in use before == in use after) works
 * ================================================================================ */

#define EX_THREADS 4
#define EX_BLOCKS  5000

static struct blk ex_tab[EX_THREADS][EX_BLOCKS];
static pthread_barrier_t ex_barrier;

static void *ex_thread(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t r = seeded((uint64_t)me + 800);
	for (int k = 0; k < EX_BLOCKS; k++) {
		struct blk *b = &ex_tab[me][k];
		b->n = k % 1000 == 0 ? 200 * KiB : small_size(&r, 8192);
		b->seed = ((uint64_t)(me + 1) << 32) | (uint64_t)k;
		if ((b->p = kmm_malloc(b->n)) == NULL) {
			failf("thread %d: malloc failed", me);
			break;
		}
		pfill(b->p, b->n, b->seed);
		if (k % 4 == 3) {        /* some of my own go back at once */
			kmm_free(ex_tab[me][k - 1].p);
			ex_tab[me][k - 1].p = NULL;
		}
	}
	pthread_barrier_wait(&ex_barrier);
	/* all of the next thread's blocks, none of mine */
	int j = (me + 1) % EX_THREADS;
	for (int k = 0; k < EX_BLOCKS; k++) {
		struct blk *b = &ex_tab[j][k];
		if (b->p == NULL)
			continue;
		if (pcheck(b->p, b->n, b->seed) >= 0)
			failf("thread %d: block %d of thread %d corrupted", me, k, j);
		kmm_free(b->p);
		b->p = NULL;
	}
	return NULL;
}

/* One round: EX_THREADS threads allocate, then free each other's blocks
 * and exit; then malloc_trim(0). */
static void ex_round(void)
{
	pthread_t th[EX_THREADS];
	cr_assert_eq(pthread_barrier_init(&ex_barrier, NULL, EX_THREADS), 0);
	for (int i = 0; i < EX_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, ex_thread, (void *)(intptr_t)i), 0);
	for (int i = 0; i < EX_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&ex_barrier);
	ASSERT_NO_THREAD_ERRORS();
	kmm_malloc_trim(0);
}

/* criterion and pthread_create use glibc's malloc, which moves the same
 * program break: a break it grows after kmm's shows in kmm's arena as a
 * foreign gap (counted in arena, so in use).  Give glibc's heap room
 * first, so that it does not grow during the test. */
static void glibc_headroom(void)
{
	void *p[64];
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	for (int i = 0; i < 64; i++)
		p[i] = malloc(16 * KiB);
	for (int i = 0; i < 64; i++)
		free(p[i]);
}

Test(stats, in_use_back_to_the_start_once_threads_are_gone, .timeout = 30)
{
	glibc_headroom();
	kmm_free(kmm_malloc(1));
	/* from here on the main thread neither allocates nor frees */
	struct mallinfo2 m0 = kmm_mallinfo2();
	ex_round();
	struct mallinfo2 m1 = kmm_mallinfo2();
	int heaps = heaps_shown();
	/* every block is counted free again; what an arena itself takes in
	 * its heap (a header, as glibc's heap_info) may stay, a little per
	 * arena */
	size_t allowed = (size_t)(heaps - 1) * 4 * KiB;
	cr_assert(m1.uordblks <= m0.uordblks + allowed,
		  "in use %zu bytes after every block was freed and the threads exited, %zu before, "
		  "%d heaps (lost frees, or frees still pending after malloc_trim?)",
		  m1.uordblks, m0.uordblks, heaps);
	cr_assert_eq(m1.hblks, m0.hblks, "big blocks: %zu, before %zu", m1.hblks, m0.hblks);
	cr_assert_eq(m1.hblkhd, m0.hblkhd, "big block bytes: %zu, before %zu", m1.hblkhd, m0.hblkhd);
	/* the same again, with new threads: the arenas are reused, and in
	 * use comes back to exactly the same number */
	ex_round();
	struct mallinfo2 m2 = kmm_mallinfo2();
	cr_assert_eq(m2.uordblks, m1.uordblks,
		     "in use %zu bytes after a second round, %zu after the first (%d heaps, then %d)",
		     m2.uordblks, m1.uordblks, heaps, heaps_shown());
	cr_assert_eq(m2.hblkhd, m0.hblkhd);
	check_all();
}

/* ================================================================================
 * arena_max bounds the arenas while more threads than that allocate at once
 * ================================================================================ */

#define AM_THREADS 8
static pthread_barrier_t am_barrier;
static int am_heaps_seen;

static void *am_thread(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t r = seeded((uint64_t)me + 400);
	struct blk b[200];
	for (int i = 0; i < 200; i++) {
		b[i].n = small_size(&r, 8192);
		b[i].seed = ((uint64_t)(me + 1) << 32) | (uint64_t)i;
		b[i].p = kmm_malloc(b[i].n);
		if (b[i].p == NULL) {
			failf("thread %d: malloc failed", me);
			return NULL;
		}
		pfill(b[i].p, b[i].n, b[i].seed);
	}
	pthread_barrier_wait(&am_barrier);      /* all threads hold memory now */
	if (me == 0)
		am_heaps_seen = heaps_shown();
	pthread_barrier_wait(&am_barrier);
	for (int i = 0; i < 200; i++) {
		if (pcheck(b[i].p, b[i].n, b[i].seed) >= 0)
			failf("thread %d: block %d corrupted", me, i);
		kmm_free(b[i].p);
	}
	return NULL;
}

static void run_arena_max(int max)
{
	pthread_t th[AM_THREADS];
	cr_assert_eq(pthread_barrier_init(&am_barrier, NULL, AM_THREADS), 0);
	for (int i = 0; i < AM_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, am_thread, (void *)(intptr_t)i), 0);
	for (int i = 0; i < AM_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&am_barrier);
	ASSERT_NO_THREAD_ERRORS();
	cr_assert(am_heaps_seen >= 1 && am_heaps_seen <= max,
		  "%d threads allocating with arena_max %d: malloc_info shows %d heaps",
		  AM_THREADS, max, am_heaps_seen);
	check_all();
}

Test(arenas, arena_max_two_bounds_the_heaps, .timeout = 30)
{
	cr_assert_eq(kmm_mallopt(M_ARENA_MAX, 2), 1);
	run_arena_max(2);
}

Test(arenas, default_arena_max_is_eight_per_core, .timeout = 30)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	run_arena_max((int)(8 * (cores > 0 ? cores : 1)));
}

/* ================================================================================
 * (c) thread churn: 3000 short-lived threads, 8 at a time
 * ================================================================================ */

#define CH_THREADS   3000
#define CH_BATCH     8
#define CH_EARLY     504          /* 63 batches */
#define CH_OPS       40
#define CH_LEFT      4            /* blocks left for the main thread */

static struct blk ch_left[2][CH_BATCH][CH_LEFT];
static uint64_t ch_mallocs[CH_THREADS];

static void *ch_thread(void *arg)
{
	int id = (int)(intptr_t)arg;
	int slot = id % CH_BATCH, par = (id / CH_BATCH) % 2;
	uint64_t r = seeded((uint64_t)id + 1000);
	struct blk b[CH_OPS];
	uint64_t n = 0;
	for (int i = 0; i < CH_OPS; i++) {
		b[i].n = i == 0 && id % 16 == 0 ? 200 * KiB : i == 1 ? 64 * KiB : small_size(&r, 2048);
		b[i].seed = ((uint64_t)id << 32) | (uint64_t)i;
		b[i].p = kmm_malloc(b[i].n);
		if (b[i].p == NULL) {
			failf("thread %d: malloc(%zu) failed", id, b[i].n);
			return NULL;
		}
		n++;
		pfill(b[i].p, b[i].n, b[i].seed);
		if (i % 3 == 2) {      /* free some as we go: the tcache fills */
			int k = (int)(rnd(&r) % (uint64_t)i);
			if (b[k].p != NULL) {
				if (pcheck(b[k].p, b[k].n, b[k].seed) >= 0)
					failf("thread %d: block %d corrupted", id, k);
				kmm_free(b[k].p);
				b[k].p = NULL;
			}
		}
	}
	/* leave the last small blocks for the main thread, free the rest */
	int left = 0;
	for (int i = CH_OPS - 1; i >= 2; i--) {
		if (b[i].p == NULL)
			continue;
		if (left < CH_LEFT) {
			ch_left[par][slot][left++] = b[i];
			continue;
		}
		if (pcheck(b[i].p, b[i].n, b[i].seed) >= 0)
			failf("thread %d: block %d corrupted", id, i);
		kmm_free(b[i].p);
	}
	for (int i = 0; i < 2; i++)
		if (b[i].p != NULL) {
			if (pcheck(b[i].p, b[i].n, b[i].seed) >= 0)
				failf("thread %d: block %d corrupted", id, i);
			kmm_free(b[i].p);
		}
	ch_mallocs[id] = n;
	return NULL;
}

static void ch_free_left(int par)
{
	for (int s = 0; s < CH_BATCH; s++)
		for (int k = 0; k < CH_LEFT; k++) {
			struct blk *b = &ch_left[par][s][k];
			if (b->p == NULL)
				continue;
			long off = pcheck(b->p, b->n, b->seed);
			if (off >= 0)
				failf("main: block left by a thread (%zu bytes, seed %#llx) corrupted at %ld",
				      b->n, (unsigned long long)b->seed, off);
			kmm_free(b->p);
			b->p = NULL;
		}
}

Test(threads, churn_of_3000_short_lived_threads, .timeout = 60)
{
	pthread_t th[2][CH_BATCH];
	struct mallinfo2 early = { 0 }, late;
	struct kmm_stats st_early = { 0 }, st_late;
	size_t fp_early = 0;
	uint64_t served0 = served_total();
	double t0 = now(), t_early = 0;
	kmm_free(kmm_malloc(1));

	int batches = CH_THREADS / CH_BATCH;
	for (int bt = 0; bt < batches; bt++) {
		int par = bt % 2;
		for (int s = 0; s < CH_BATCH; s++) {
			int id = bt * CH_BATCH + s;
			int e = pthread_create(&th[par][s], NULL, ch_thread, (void *)(intptr_t)id);
			cr_assert_eq(e, 0, "pthread_create (thread %d): %s", id, strerror(e));
		}
		/* the previous batch's blocks, freed while this batch runs */
		if (bt > 0)
			ch_free_left(1 - par);
		for (int s = 0; s < CH_BATCH; s++)
			pthread_join(th[par][s], NULL);
		if ((bt + 1) * CH_BATCH == CH_EARLY || bt == batches - 1) {
			ch_free_left(par);
			if (bt < batches - 1) {
				early = kmm_mallinfo2();
				kmm_malloc_trim(0);   /* (the heaps' tops: how many threads overlapped) */
				fp_early = footprint();
				kmm_stats_get(&st_early);
				t_early = now() - t0;
			}
		}
	}
	ASSERT_NO_THREAD_ERRORS();
	late = kmm_mallinfo2();
	kmm_malloc_trim(0);
	size_t fp_late = footprint();
	cr_log_info("churn: %d threads in %.2f s (%d in %.2f s); after %d: arena %zu, in use %zu, big %zu; "
		    "after %d: arena %zu, in use %zu, big %zu", CH_THREADS, now() - t0, CH_EARLY, t_early,
		    CH_EARLY, early.arena, early.uordblks, early.hblkhd,
		    CH_THREADS, late.arena, late.uordblks, late.hblkhd);

	uint64_t made = 0;
	for (int i = 0; i < CH_THREADS; i++)
		made += ch_mallocs[i];
	cr_assert_eq(made, (uint64_t)CH_THREADS * CH_OPS);
	uint64_t served = served_total() - served0;
	cr_assert(served >= made, "served counters: %llu allocations; the exited threads made %llu",
		  (unsigned long long)served, (unsigned long long)made);

	/* 2496 more threads later, memory is what it was: no tcache, arena or
	 * block per thread stays behind (a leak of 1 KiB per thread would be
	 * 2.4 MiB).  Both footprints are taken after malloc_trim: what the
	 * heaps' tops kept depends on how many threads the machine ran at
	 * once (a loaded CI machine: 1612 KiB after 504, 2712 KiB after 3000,
	 * untrimmed).  Arenas are made when threads contend: each made since
	 * the early count is allowed its heap's first 256 KiB */
	kmm_stats_get(&st_late);
	size_t new_arenas = st_late.arenas > st_early.arenas ? st_late.arenas - st_early.arenas : 0;
	cr_assert(fp_late <= fp_early + MiB + new_arenas * 256 * KiB,
		  "footprint grows with the number of threads: %zu KiB after %d (%zu arenas), %zu KiB after %d "
		  "(%zu arenas)", fp_early / KiB, CH_EARLY, (size_t)st_early.arenas, fp_late / KiB, CH_THREADS,
		  (size_t)st_late.arenas);
	cr_assert(late.uordblks <= early.uordblks + 256 * KiB,
		  "in use grows with the number of threads: %zu KiB after %d, %zu KiB after %d",
		  early.uordblks / KiB, CH_EARLY, late.uordblks / KiB, CH_THREADS);
	cr_assert(late.hblkhd <= early.hblkhd + 256 * KiB,
		  "big blocks grow with the number of threads: %zu KiB after %d, %zu KiB after %d",
		  early.hblkhd / KiB, CH_EARLY, late.hblkhd / KiB, CH_THREADS);
	check_all();
}

/* ================================================================================
 * (d) realloc across threads: grown and shrunk by threads that did not
 *     allocate the block, contents preserved
 * ================================================================================ */

#define RA_THREADS 4
#define RA_BLOCKS  1500
#define RA_ROUNDS  16

static struct blk ra_tab[RA_THREADS][RA_BLOCKS];
static pthread_barrier_t ra_barrier;
static uint64_t ra_moves[RA_THREADS], ra_calls[RA_THREADS];

static size_t ra_size(uint64_t *r, size_t old)
{
	switch (rnd(r) % 8) {
	case 0: return old + 1 + rnd(r) % 64;                 /* a little, often in place */
	case 1: return old * 2 + 16;                          /* double */
	case 2: return old / 2 + 1;                           /* halve */
	case 3: return rnd(r) % 100 == 0 ? 150 * KiB + rnd(r) % (400 * KiB)   /* big */
			: 1024 + rnd(r) % (60 * KiB);             /* large bins */
	case 4: return old > 100 * KiB ? old - rnd(r) % (old / 2) : small_size(r, 1024);
	default: return small_size(r, 4096);
	}
}

static void *ra_thread(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t r = seeded((uint64_t)me + 500);
	for (int k = 0; k < RA_BLOCKS; k++) {
		struct blk *b = &ra_tab[me][k];
		b->n = small_size(&r, 4096);
		b->seed = ((uint64_t)(me + 1) << 48) | (uint64_t)k;
		b->p = k % 2 ? kmm_malloc(b->n) : kmm_realloc(NULL, b->n);
		if (b->p == NULL) {
			failf("thread %d: allocation failed", me);
			return NULL;
		}
		pfill(b->p, b->n, b->seed);
	}
	pthread_barrier_wait(&ra_barrier);
	for (int round = 1; round <= RA_ROUNDS; round++) {
		/* a rotation, never my own table: one thread per table */
		int owner = (me + round) % RA_THREADS;
		if (owner == me)
			owner = (owner + 1) % RA_THREADS;
		for (int k = 0; k < RA_BLOCKS; k++) {
			struct blk *b = &ra_tab[owner][k];
			long off = pcheck(b->p, b->n, b->seed);
			if (off >= 0) {
				failf("thread %d, round %d: block %d of table %d (%zu bytes) corrupted at %ld "
				      "before realloc", me, round, k, owner, b->n, off);
				return NULL;
			}
			size_t m = ra_size(&r, b->n);
			unsigned char *q = kmm_realloc(b->p, m);
			ra_calls[me]++;
			if (q == NULL) {
				failf("thread %d: realloc(%zu -> %zu) failed", me, b->n, m);
				return NULL;
			}
			if (q != b->p)
				ra_moves[me]++;
			size_t keep = m < b->n ? m : b->n;
			off = pcheck(q, keep, b->seed);
			if (off >= 0) {
				failf("thread %d, round %d: realloc %p (%zu bytes) -> %p (%zu bytes) lost the "
				      "contents at offset %ld", me, round, (void *)b->p, b->n, (void *)q, m, off);
				return NULL;
			}
			if (kmm_malloc_usable_size(q) < m)
				failf("thread %d: realloc to %zu: usable size %zu", me, m, kmm_malloc_usable_size(q));
			b->p = q;
			b->n = m;
			b->seed = ((uint64_t)(me + 1) << 48) | ((uint64_t)round << 32) | (uint64_t)k;
			pfill(q, m, b->seed);
		}
		pthread_barrier_wait(&ra_barrier);
	}
	/* free a table someone else allocated and reallocated */
	int owner = (me + 1) % RA_THREADS;
	for (int k = 0; k < RA_BLOCKS; k++) {
		struct blk *b = &ra_tab[owner][k];
		if (pcheck(b->p, b->n, b->seed) >= 0)
			failf("thread %d: block %d of table %d corrupted at the end", me, k, owner);
		if (k % 5 == 0) {
			/* realloc(p, 0) frees, as in glibc */
			if (kmm_realloc(b->p, 0) != NULL)
				failf("thread %d: realloc(p, 0) did not return NULL", me);
		} else {
			kmm_free(b->p);
		}
		b->p = NULL;
	}
	return NULL;
}

Test(threads, realloc_on_another_thread_keeps_contents, .timeout = 60)
{
	pthread_t th[RA_THREADS];
	kmm_free(kmm_malloc(1));
	size_t use0 = in_use();
	double t0 = now();
	cr_assert_eq(pthread_barrier_init(&ra_barrier, NULL, RA_THREADS), 0);
	for (int i = 0; i < RA_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, ra_thread, (void *)(intptr_t)i), 0);
	for (int i = 0; i < RA_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&ra_barrier);
	ASSERT_NO_THREAD_ERRORS();
	uint64_t calls = 0, moves = 0;
	for (int i = 0; i < RA_THREADS; i++)
		calls += ra_calls[i], moves += ra_moves[i];
	cr_log_info("realloc across threads: %llu reallocs (%llu moved), %.2f s",
		    (unsigned long long)calls, (unsigned long long)moves, now() - t0);
	cr_assert_eq(calls, (uint64_t)RA_THREADS * RA_BLOCKS * RA_ROUNDS);
	cr_assert(moves > 0 && moves < calls, "every realloc moved, or none did: %llu of %llu",
		  (unsigned long long)moves, (unsigned long long)calls);
	for (int t = 0; t < RA_THREADS; t++)
		for (int k = 0; k < RA_BLOCKS; k++)
			cr_assert_null(ra_tab[t][k].p);
	assert_freed_since(use0);
	check_all();
}

/* ================================================================================
 * (e) memalign, posix_memalign, aligned_alloc from 4 threads, alignments
 *     32 B .. 64 KiB, freed by other threads
 * ================================================================================ */

#define AL_THREADS 4
#define AL_SLOTS   256
#define AL_ITERS   25000

static void *volatile al_slot[AL_THREADS][AL_SLOTS];
static uint64_t al_count[AL_THREADS][5];

static void *al_alloc(int me, uint64_t *r, size_t *align_out, size_t n)
{
	size_t align = (size_t)32 << (rnd(r) % 12);          /* 32 .. 64 KiB */
	void *p = NULL;
	int how = (int)(rnd(r) % 16);
	if (how < 5) {
		p = kmm_memalign(align, n);
		how = 0;
	} else if (how < 10) {
		int e = kmm_posix_memalign(&p, align, n);
		if (e != 0) {
			failf("thread %d: posix_memalign(%zu, %zu): %s", me, align, n, strerror(e));
			return NULL;
		}
		how = 1;
	} else if (how < 15) {
		p = kmm_aligned_alloc(align, (n + align - 1) & ~(align - 1));
		how = 2;
	} else if (rnd(r) % 2) {
		align = (size_t)sysconf(_SC_PAGESIZE);
		p = kmm_valloc(n);
		how = 3;
	} else {
		align = (size_t)sysconf(_SC_PAGESIZE);
		p = kmm_pvalloc(n);
		how = 4;
	}
	if (p == NULL) {
		failf("thread %d: aligned allocation (alignment %zu, %zu bytes, way %d) failed", me, align, n, how);
		return NULL;
	}
	if (((uintptr_t)p & (align - 1)) != 0)
		failf("thread %d: %p is not aligned to %zu (way %d)", me, p, align, how);
	if (kmm_malloc_usable_size(p) < n)
		failf("thread %d: usable size %zu < %zu", me, kmm_malloc_usable_size(p), n);
	al_count[me][how]++;
	*align_out = align;
	return p;
}

static void *al_thread(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t r = seeded((uint64_t)me + 600);
	for (int i = 0; i < AL_ITERS; i++) {
		/* take a block from another thread's table, check, free */
		int t = (int)(rnd(&r) % (AL_THREADS - 1));
		if (t >= me)
			t++;
		int k = (int)(rnd(&r) % AL_SLOTS);
		void *old = __atomic_exchange_n(&al_slot[t][k], NULL, __ATOMIC_ACQ_REL);
		if (old != NULL) {
			hcheck(old, "aligned block freed by another thread");
			kmm_free(old);
		}
		/* put a new one in my table */
		size_t n, align;
		uint64_t c = rnd(&r) % 100;
		n = c < 70 ? HDR_MIN + rnd(&r) % 1024 : c < 97 ? HDR_MIN + rnd(&r) % (32 * KiB)
							       : 100 * KiB + rnd(&r) % (200 * KiB);
		void *p = al_alloc(me, &r, &align, n);
		if (p == NULL)
			return NULL;
		hfill(p, n, ((uint64_t)(me + 1) << 40) | (uint64_t)i);
		k = (int)(rnd(&r) % AL_SLOTS);
		old = __atomic_exchange_n(&al_slot[me][k], p, __ATOMIC_ACQ_REL);
		if (old != NULL) {
			hcheck(old, "own aligned block");
			kmm_free(old);
		}
	}
	return NULL;
}

Test(threads, aligned_allocations_freed_by_other_threads, .timeout = 60)
{
	pthread_t th[AL_THREADS];
	kmm_free(kmm_malloc(1));
	size_t use0 = in_use();
	double t0 = now();
	for (int i = 0; i < AL_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, al_thread, (void *)(intptr_t)i), 0);
	for (int i = 0; i < AL_THREADS; i++)
		pthread_join(th[i], NULL);
	ASSERT_NO_THREAD_ERRORS();
	uint64_t ways[5] = { 0 };
	for (int i = 0; i < AL_THREADS; i++)
		for (int w = 0; w < 5; w++)
			ways[w] += al_count[i][w];
	cr_log_info("aligned: memalign %llu, posix_memalign %llu, aligned_alloc %llu, valloc %llu, "
		    "pvalloc %llu, %.2f s", (unsigned long long)ways[0], (unsigned long long)ways[1],
		    (unsigned long long)ways[2], (unsigned long long)ways[3], (unsigned long long)ways[4],
		    now() - t0);
	for (int w = 0; w < 5; w++)
		cr_assert(ways[w] > 0);
	for (int t = 0; t < AL_THREADS; t++)
		for (int k = 0; k < AL_SLOTS; k++) {
			void *p = al_slot[t][k];
			if (p != NULL) {
				cr_assert(hcheck(p, "left at the end"), "%s", first_error);
				kmm_free(p);
			}
		}
	assert_freed_since(use0);
	check_all();
}

/* ================================================================================
 * fork under load: 8 threads allocate while the main thread forks 200 times;
 * every child allocates, frees and exits cleanly
 * ================================================================================ */

#define FK_THREADS 8
#define FK_FORKS   200
#define FK_PUB     16      /* blocks each worker publishes for the children */
#define FK_KEEP    48      /* the main thread's own blocks, inherited */

static volatile int fk_stop;
static void *volatile fk_pub[FK_THREADS][FK_PUB];
static uint64_t fk_ops[FK_THREADS];

/* one allocation of any kind, filled as a self-describing block; light:
 * mostly small ones (for the children, which share the CPUs with eight
 * busy threads) */
static void *alloc_fill(uint64_t *r, uint64_t seed, int light)
{
	uint64_t c = rnd(r) % 1000;
	size_t n = c < 700 ? HDR_MIN + rnd(r) % 512
		 : c < (light ? 990u : 950u) ? HDR_MIN + rnd(r) % (light ? 4 * KiB : 16 * KiB)
		 : c < (light ? 996u : 990u) ? 32 * KiB + rnd(r) % (100 * KiB)
		 : 200 * KiB + rnd(r) % (300 * KiB);
	void *p;
	switch (rnd(r) % 10) {
	case 0:
		p = kmm_calloc(1, n);
		if (p != NULL && !all_zero(p, n)) {
			failf("calloc(1, %zu) not zeroed", n);
			return NULL;
		}
		break;
	case 1:
		p = kmm_memalign(64 << (rnd(r) % 4), n);
		break;
	default:
		p = kmm_malloc(n);
	}
	if (p != NULL)
		hfill(p, n, seed);
	return p;
}

static void *any_alloc(uint64_t *r, uint64_t seed)
{
	return alloc_fill(r, seed, 0);
}

static void *light_alloc(uint64_t *r, uint64_t seed)
{
	return alloc_fill(r, seed, 1);
}

static void *fk_worker(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t r = seeded((uint64_t)me + 700);
	void *tab[64] = { 0 };
	uint64_t seq = 0;
	/* the workers keep allocating through every fork, but yield the
	 * CPUs to the children (nice 0, like the main thread) */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	while (!fk_stop) {
		int k = (int)(rnd(&r) % 64);
		if (tab[k] != NULL) {
			if (!hcheck(tab[k], "worker block"))
				return NULL;
			if (rnd(&r) % 8 == 0) {      /* realloc, contents move along */
				struct hdr h;
				memcpy(&h, tab[k], sizeof h);
				size_t m = HDR_MIN + rnd(&r) % (rnd(&r) % 50 ? 8 * KiB : 300 * KiB);
				void *q = kmm_realloc(tab[k], m);
				if (q == NULL) {
					failf("worker %d: realloc failed", me);
					return NULL;
				}
				size_t keep = (m < h.n ? m : h.n) - HDR_MIN;
				if (pcheck((char *)q + HDR_MIN, keep, h.seed) >= 0) {
					failf("worker %d: realloc lost the contents", me);
					return NULL;
				}
				hfill(q, m, ((uint64_t)(me + 1) << 48) | seq++);
				tab[k] = q;
			} else {
				kmm_free(tab[k]);
				tab[k] = NULL;
			}
		} else {
			tab[k] = any_alloc(&r, ((uint64_t)(me + 1) << 48) | seq++);
			if (tab[k] == NULL) {
				failf("worker %d: allocation failed", me);
				return NULL;
			}
		}
		/* publish a block for the children (and take back the old one) */
		if (rnd(&r) % 16 == 0) {
			void *p = any_alloc(&r, ((uint64_t)(me + 1) << 48) | seq++);
			if (p == NULL) {
				failf("worker %d: allocation failed", me);
				return NULL;
			}
			void *old = __atomic_exchange_n(&fk_pub[me][rnd(&r) % FK_PUB], p, __ATOMIC_ACQ_REL);
			if (old != NULL) {
				hcheck(old, "published block");
				kmm_free(old);
			}
		}
		fk_ops[me]++;
	}
	for (int k = 0; k < 64; k++)
		if (tab[k] != NULL) {
			hcheck(tab[k], "worker block at the end");
			kmm_free(tab[k]);
		}
	return NULL;
}

struct fk_child_arg { int n; int bad; };

static void *fk_child_thread(void *arg)
{
	struct fk_child_arg *a = arg;
	uint64_t r = seeded((uint64_t)a->n + 9000);
	void *tab[32] = { 0 };
	for (int i = 0; i < 600; i++) {
		int k = (int)(rnd(&r) % 32);
		if (tab[k] != NULL) {
			if (!hcheck(tab[k], "child thread block"))
				a->bad++;
			kmm_free(tab[k]);
		}
		tab[k] = light_alloc(&r, ((uint64_t)0xc0 << 48) | (uint64_t)i);
		if (tab[k] == NULL)
			a->bad++;
	}
	for (int k = 0; k < 32; k++)
		kmm_free(tab[k]);
	/* free the published blocks of workers that do not exist here */
	for (int t = a->n % 2; t < FK_THREADS; t += 2)
		for (int k = 0; k < FK_PUB; k++) {
			void *p = fk_pub[t][k];
			fk_pub[t][k] = NULL;
			if (p != NULL) {
				if (!hcheck(p, "inherited block, in a child's thread"))
					a->bad++;
				kmm_free(p);
			}
		}
	return NULL;
}

/* 0 if all is well; else which check failed */
static int fk_child(int n, void **keep)
{
	alarm(20);                   /* a deadlock ends in SIGALRM, not a hang */
	uint64_t r = seeded((uint64_t)n + 5000);
	/* the parent's blocks, all inherited intact */
	for (int i = 0; i < FK_KEEP; i++)
		if (keep[i] == NULL || !hcheck(keep[i], "main thread block, in the child"))
			return 10;
	for (int t = 0; t < FK_THREADS; t++)
		for (int k = 0; k < FK_PUB; k++) {
			void *p = fk_pub[t][k];
			if (p != NULL && !hcheck(p, "worker's published block, in the child"))
				return 11;
		}
	/* allocate and free on our own */
	void *tab[64] = { 0 };
	for (int i = 0; i < 800; i++) {
		int k = (int)(rnd(&r) % 64);
		if (tab[k] != NULL) {
			if (!hcheck(tab[k], "child block"))
				return 12;
			kmm_free(tab[k]);
		}
		tab[k] = light_alloc(&r, ((uint64_t)0xc1 << 48) | (uint64_t)i);
		if (tab[k] == NULL)
			return 13;
		if (i == 400)           /* the inherited blocks, reused */
			for (int j = 0; j < FK_KEEP; j += 2) {
				kmm_free(keep[j]);
				keep[j] = NULL;
			}
	}
	/* threads still work in a child, and free the workers' blocks */
	if (n % 4 == 0) {
		pthread_t t[2];
		struct fk_child_arg a[2] = { { n, 0 }, { n + 1, 0 } };
		for (int i = 0; i < 2; i++)
			if (pthread_create(&t[i], NULL, fk_child_thread, &a[i]) != 0)
				return 14;
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		if (a[0].bad || a[1].bad)
			return 15;
	} else {
		for (int t = 0; t < FK_THREADS; t++)
			for (int k = 0; k < FK_PUB; k++)
				if (fk_pub[t][k] != NULL) {
					kmm_free(fk_pub[t][k]);
					fk_pub[t][k] = NULL;
				}
	}
	/* and a grandchild now and then */
	if (n % 10 == 0) {
		pid_t g = fork();
		if (g < 0)
			return 16;
		if (g == 0) {
			void *p[100];
			for (int i = 0; i < 100; i++)
				if ((p[i] = light_alloc(&r, (uint64_t)i)) == NULL)
					_exit(2);
			for (int i = 0; i < 100; i++) {
				if (!hcheck(p[i], "grandchild block"))
					_exit(3);
				kmm_free(p[i]);
			}
			_exit(kmm_check(1) == 0 ? 0 : 4);
		}
		int st;
		if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 17;
	}
	for (int k = 0; k < 64; k++)
		if (tab[k] != NULL) {
			if (!hcheck(tab[k], "child block at the end"))
				return 18;
			kmm_free(tab[k]);
		}
	for (int i = 0; i < FK_KEEP; i++)
		kmm_free(keep[i]);
	if (nerrors != 0)
		return 19;
	return kmm_check(1) == 0 ? 0 : 20;
}

Test(fork, eight_threads_allocate_while_main_forks_200_times, .timeout = 90)
{
	pthread_t th[FK_THREADS];
	void *keep[FK_KEEP] = { 0 };
	uint64_t r = seeded(42);
	int clean = 0;
	char why[256] = "";
	double t0 = now(), t_fork = 0, t_wait = 0;

	fk_stop = 0;
	for (int i = 0; i < FK_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, fk_worker, (void *)(intptr_t)i), 0);
	for (int n = 0; n < FK_FORKS; n++) {
		/* the main thread's blocks change between forks */
		for (int i = 0; i < FK_KEEP; i++) {
			if (keep[i] != NULL) {
				hcheck(keep[i], "main thread block");
				kmm_free(keep[i]);
			}
			keep[i] = any_alloc(&r, ((uint64_t)0xaa << 48) | ((uint64_t)n << 16) | (uint64_t)i);
			cr_assert_not_null(keep[i]);
		}
		double tf = now();
		pid_t pid = fork();
		cr_assert(pid >= 0, "fork: %s", strerror(errno));
		if (pid == 0)
			_exit(fk_child(n, keep));
		double tw = now();
		t_fork += tw - tf;
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		t_wait += now() - tw;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			clean++;
		else if (why[0] == '\0')
			snprintf(why, sizeof why, "child %d: %s %d", n,
				 WIFEXITED(st) ? "exit status" : "killed by signal",
				 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}
	fk_stop = 1;
	uint64_t ops = 0;
	for (int i = 0; i < FK_THREADS; i++) {
		pthread_join(th[i], NULL);
		ops += fk_ops[i];
	}
	cr_log_info("fork: %d forks while %d threads made %llu operations, %.2f s "
		    "(%.2f s in fork(), %.2f s waiting for the children)",
		    FK_FORKS, FK_THREADS, (unsigned long long)ops, now() - t0, t_fork, t_wait);
	cr_assert_eq(clean, FK_FORKS, "%d of %d children exited cleanly; first failure: %s "
		     "(exit status 10-20: see fk_child; signal 14: deadlock)", clean, FK_FORKS, why);
	ASSERT_NO_THREAD_ERRORS();
	for (int i = 0; i < FK_THREADS; i++)
		cr_assert(ops > 0 && fk_ops[i] > 0, "worker %d never ran", i);
	for (int i = 0; i < FK_KEEP; i++) {
		cr_assert(hcheck(keep[i], "main thread block at the end"), "%s", first_error);
		kmm_free(keep[i]);
	}
	for (int t = 0; t < FK_THREADS; t++)
		for (int k = 0; k < FK_PUB; k++)
			if (fk_pub[t][k] != NULL) {
				cr_assert(hcheck(fk_pub[t][k], "published block at the end"), "%s", first_error);
				kmm_free(fk_pub[t][k]);
			}
	check_all();
}

/* A fork from a thread other than the main one, while the main thread and
 * others allocate: the child's only thread is the forking one. */
static void *fork_from_thread(void *arg)
{
	(void)arg;
	uint64_t r = seeded(77);
	for (int n = 0; n < 40; n++) {
		void *p = any_alloc(&r, (uint64_t)n);
		if (p == NULL) {
			failf("fork thread: allocation failed");
			return NULL;
		}
		pid_t pid = fork();
		if (pid < 0) {
			failf("fork: %s", strerror(errno));
			return NULL;
		}
		if (pid == 0) {
			alarm(20);
			if (!hcheck(p, "forking thread's block, in the child"))
				_exit(2);
			kmm_free(p);
			void *q[200];
			for (int i = 0; i < 200; i++)
				if ((q[i] = light_alloc(&r, (uint64_t)i)) == NULL)
					_exit(3);
			for (int i = 0; i < 200; i++) {
				if (!hcheck(q[i], "child block"))
					_exit(4);
				kmm_free(q[i]);
			}
			_exit(kmm_check(1) == 0 ? 0 : 5);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			failf("child %d of the forking thread: status %#x", n, st);
			return NULL;
		}
		kmm_free(p);
	}
	return NULL;
}

Test(fork, fork_from_a_second_thread_while_others_allocate, .timeout = 60)
{
	pthread_t th[3], f;
	fk_stop = 0;
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, fk_worker, (void *)(intptr_t)i), 0);
	cr_assert_eq(pthread_create(&f, NULL, fork_from_thread, NULL), 0);
	/* the main thread allocates too */
	uint64_t r = seeded(99);
	void *mine[32] = { 0 };
	for (int i = 0; !__atomic_load_n(&nerrors, __ATOMIC_RELAXED); i++) {
		int k = i % 32;
		if (mine[k] != NULL) {
			hcheck(mine[k], "main thread block");
			kmm_free(mine[k]);
		}
		mine[k] = any_alloc(&r, (uint64_t)i);
		if (pthread_tryjoin_np(f, NULL) == 0)
			break;
	}
	fk_stop = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	ASSERT_NO_THREAD_ERRORS();
	for (int k = 0; k < 32; k++)
		kmm_free(mine[k]);
	for (int t = 0; t < 3; t++)
		for (int k = 0; k < FK_PUB; k++)
			kmm_free(fk_pub[t][k]);
	check_all();
}

/* A fork before anything was allocated (the arenas not handed out yet):
 * the child is consistent, and its threads get arenas as usual. */
static void *small_churn(void *arg)
{
	uint64_t r = seeded((uint64_t)(uintptr_t)arg);
	void *tab[32] = { 0 };
	for (int i = 0; i < 2000; i++) {
		int k = (int)(rnd(&r) % 32);
		if (tab[k] != NULL) {
			hcheck(tab[k], "block");
			kmm_free(tab[k]);
		}
		tab[k] = light_alloc(&r, ((uint64_t)(uintptr_t)arg << 32) | (uint64_t)i);
		if (tab[k] == NULL)
			failf("allocation failed");
	}
	for (int k = 0; k < 32; k++)
		kmm_free(tab[k]);
	return NULL;
}

Test(fork, fork_before_the_first_allocation, .timeout = 30)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		alarm(20);
		if (kmm_check(1) != 0)
			_exit(2);
		pthread_t t[2];
		for (int i = 0; i < 2; i++)
			if (pthread_create(&t[i], NULL, small_churn, (void *)(uintptr_t)(i + 1)) != 0)
				_exit(3);
		small_churn((void *)(uintptr_t)3);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		if (nerrors != 0)
			_exit(4);
		_exit(kmm_check(1) == 0 ? 0 : 5);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "child: %s %d (2: kmm_check failed right after the fork, 5: after allocating)",
		  WIFEXITED(st) ? "exit status" : "killed by signal",
		  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	/* and the parent goes on as if nothing happened */
	small_churn((void *)(uintptr_t)9);
	ASSERT_NO_THREAD_ERRORS();
	check_all();
}

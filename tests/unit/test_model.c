/*
 * test_model.c — randomized model test.
 *
 * Long random sequences of malloc / calloc / realloc / memalign /
 * posix_memalign / aligned_alloc / free with sizes from 0 to several MiB,
 * checked against a reference: a table of live blocks, each filled with a
 * pattern derived from its own seed.  Every operation checks alignment,
 * usable size, zeroing (calloc) and that contents survive (realloc) and were
 * not overwritten by another block (free verifies the pattern first).  The
 * invariant checkers run every few thousand operations.
 *
 * The seed comes from KMM_TEST_SEED if set, else from the clock; it is in
 * every failure message, so a failing sequence can be replayed:
 *     KMM_TEST_SEED=1234 tests/unit/test_model
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "testutil.h"

#define SLOTS 3000
#define BIG   (64 * 1024)   /* above this, patterns are written sparsely */

struct slot {
	unsigned char *p;
	size_t n;
	size_t align;
	unsigned seed;
};

struct model {
	struct slot s[SLOTS];
	uint64_t rng;
	unsigned long long seed;
	long op;
};

static uint64_t rnd(struct model *m)
{
	/* xorshift64* */
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 2685821657736338717ull;
}

static size_t pick_size(struct model *m)
{
	uint64_t r = rnd(m) % 1000;
	if (r < 650) return rnd(m) % 256;
	if (r < 900) return rnd(m) % 4096;
	if (r < 975) return rnd(m) % (128 * 1024);
	if (r < 995) return rnd(m) % (1 << 20);
	return rnd(m) % (6 << 20);
}

static inline unsigned char pat(unsigned seed, size_t i)
{
	return (unsigned char)(seed * 167u + i * 13u + (i >> 8));
}

static size_t stride(size_t n)
{
	return n > BIG ? 509 : 1;
}

static void paint(struct slot *s, size_t from)
{
	size_t st = stride(s->n);
	for (size_t i = from; i < s->n; i += st)
		s->p[i] = pat(s->seed, i);
	if (s->n > 0)
		s->p[s->n - 1] = pat(s->seed, s->n - 1);
}

static void check_paint(struct model *m, struct slot *s, size_t upto, const char *what)
{
	size_t st = stride(s->n);
	for (size_t i = 0; i < upto; i += st)
		cr_assert_eq(s->p[i], pat(s->seed, i),
			     "seed %llu op %ld: %s: block %p (%zu bytes) byte %zu changed",
			     m->seed, m->op, what, (void *)s->p, s->n, i);
	if (upto > 0)
		cr_assert_eq(s->p[upto - 1], pat(s->seed, upto - 1),
			     "seed %llu op %ld: %s: last byte of %p changed", m->seed, m->op, what,
			     (void *)s->p);
}

static void check_block(struct model *m, struct slot *s, const char *what)
{
	cr_assert_not_null(s->p, "seed %llu op %ld: %s of %zu bytes failed", m->seed, m->op, what, s->n);
	cr_assert_eq((uintptr_t)s->p % (s->align > 16 ? s->align : 16), 0,
		     "seed %llu op %ld: %s returned %p, misaligned (align %zu)", m->seed, m->op, what,
		     (void *)s->p, s->align);
	size_t u = kmm_malloc_usable_size(s->p);
	cr_assert(u >= s->n, "seed %llu op %ld: %s: usable %zu < %zu", m->seed, m->op, what, u, s->n);
}

static void step(struct model *m)
{
	struct slot *s = &m->s[rnd(m) % SLOTS];
	unsigned kind = (unsigned)(rnd(m) % 100);
	m->op++;

	if (s->p != NULL && kind < 45) {
		check_paint(m, s, s->n, "free");
		kmm_free(s->p);
		s->p = NULL;
		return;
	}
	if (s->p != NULL && kind < 70) {
		size_t n = pick_size(m);
		size_t keep = n < s->n ? n : s->n;
		check_paint(m, s, s->n, "before realloc");
		unsigned char *q = kmm_realloc(s->p, n);
		if (n == 0) {
			/* realloc(p, 0) frees, like glibc */
			cr_assert_null(q);
			s->p = NULL;
			return;
		}
		s->p = q;
		s->align = 16;
		size_t old = s->n;
		s->n = n;
		check_block(m, s, "realloc");
		/* the kept prefix must be intact: check it with the old stride */
		size_t st = stride(old);
		for (size_t i = 0; i < keep; i += st)
			cr_assert_eq(q[i], pat(s->seed, i), "seed %llu op %ld: realloc lost byte %zu",
				     m->seed, m->op, i);
		paint(s, 0);
		return;
	}
	if (s->p != NULL) {
		check_paint(m, s, s->n, "free before reuse");
		kmm_free(s->p);
		s->p = NULL;
	}
	s->n = pick_size(m);
	s->seed = (unsigned)rnd(m);
	s->align = 16;
	if (kind < 80) {
		s->p = kmm_malloc(s->n);
		check_block(m, s, "malloc");
	} else if (kind < 90) {
		size_t k = 1 + rnd(m) % 7;
		s->n -= s->n % k;
		s->p = kmm_calloc(s->n / k, k);
		check_block(m, s, "calloc");
		size_t u = kmm_malloc_usable_size(s->p);
		for (size_t i = 0; i < u; i += (u > BIG ? 61 : 1))
			cr_assert_eq(s->p[i], 0, "seed %llu op %ld: calloc byte %zu of %zu not zero",
				     m->seed, m->op, i, u);
	} else {
		s->align = (size_t)1 << (4 + rnd(m) % 13);   /* 16 .. 64 KiB */
		void *p = NULL;
		switch (rnd(m) % 3) {
		case 0: p = kmm_memalign(s->align, s->n); break;
		case 1: cr_assert_eq(kmm_posix_memalign(&p, s->align, s->n), 0); break;
		case 2: p = kmm_aligned_alloc(s->align, s->n); break;
		}
		s->p = p;
		check_block(m, s, "memalign");
	}
	paint(s, 0);
}

static void run_model(struct model *m, long ops)
{
	for (long i = 0; i < ops; i++) {
		step(m);
		if (m->op % 4000 == 0)
			cr_assert_eq(kmm_check(1), 0, "seed %llu op %ld: invariants violated", m->seed, m->op);
	}
	for (int i = 0; i < SLOTS; i++) {
		if (m->s[i].p != NULL) {
			check_paint(m, &m->s[i], m->s[i].n, "final free");
			kmm_free(m->s[i].p);
			m->s[i].p = NULL;
		}
	}
}

static unsigned long long pick_seed(void)
{
	const char *e = getenv("KMM_TEST_SEED");
	if (e != NULL)
		return strtoull(e, NULL, 0);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_nsec ^ ((unsigned long long)ts.tv_sec << 20);
}

static struct model models[3];

static void init_model(struct model *m, unsigned long long seed)
{
	memset(m, 0, sizeof *m);
	m->seed = seed;
	m->rng = seed * 0x9E3779B97F4A7C15ull + 1;
}

Test(model, single_thread, .timeout = 120)
{
	unsigned long long seed = pick_seed();
	cr_log_info("model seed %llu (replay with KMM_TEST_SEED=%llu)", seed, seed);
	init_model(&models[0], seed);
	run_model(&models[0], 150000);
	CHECK_HEAP();
}

Test(model, single_thread_no_tcache, .timeout = 120)
{
	unsigned long long seed = pick_seed() + 1;
	tcache_off();
	init_model(&models[0], seed);
	run_model(&models[0], 80000);
	CHECK_HEAP();
}

Test(model, small_mmap_threshold_and_trim, .timeout = 120)
{
	unsigned long long seed = pick_seed() + 2;
	cr_assert_eq(kmm_mallopt(M_MMAP_THRESHOLD, 8 * 1024), 1);
	cr_assert_eq(kmm_mallopt(M_TRIM_THRESHOLD, 16 * 1024), 1);
	cr_assert_eq(kmm_mallopt(M_TOP_PAD, 0), 1);
	init_model(&models[0], seed);
	run_model(&models[0], 60000);
	CHECK_HEAP();
}

static void *thread_model(void *arg)
{
	struct model *m = arg;
	run_model(m, 60000);
	return NULL;
}

Test(model, three_threads, .timeout = 180)
{
	unsigned long long seed = pick_seed() + 3;
	pthread_t th[3];
	kmm_malloc(1);
	for (int i = 0; i < 3; i++) {
		init_model(&models[i], seed + (unsigned long long)i * 1000003);
		cr_assert_eq(pthread_create(&th[i], NULL, thread_model, &models[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECK_HEAP();
}

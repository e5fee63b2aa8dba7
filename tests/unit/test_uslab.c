/*
 * test_uslab.c — the slab front end (src/kernel/uslab.[ch]): per-thread
 * slabs for small requests, front=slab (the default, profile=kmm).
 *
 * Through the prefixed API, as a program sees it: classes and alignment,
 * reuse without locks, calloc, realloc, memalign, frees by other threads
 * (remote lists, full slabs found again), thread exit and a later thread
 * taking the slabs over, frees after a thread's exit, fork, malloc_trim,
 * the statistics, and the hardening (invalid pointers, double frees, a
 * corrupted free list).  Every test ends with the invariant checkers, whose
 * front-end part (kmm_uslab_check) walks the caller's slabs' lists.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "kernel/uslab.h"

#define CHECK_ALL() cr_assert_eq(kmm_check(1), 0, "invariants violated (see stderr)")

static struct kmm_page *slab_of(const void *p)
{
	return kmm_uslab_head(p);
}

static struct kmm_stats stats(void)
{
	struct kmm_stats st;
	cr_assert_eq(kmm_stats_get(&st), 0);
	return st;
}

/* mallinfo2 balances, and counts the slabs */
static void check_mallinfo(void)
{
	struct mallinfo2 mi = kmm_mallinfo2();
	cr_assert_eq(mi.uordblks + mi.fordblks, mi.arena, "mallinfo2: %zu + %zu != %zu", mi.uordblks, mi.fordblks,
		     mi.arena);
	struct kmm_stats st = stats();
	cr_assert(mi.arena >= st.slab_bytes, "mallinfo2 arena %zu holds the slabs' %zu bytes", mi.arena,
		  st.slab_bytes);
	cr_assert(st.slab_in_use <= st.slab_bytes);
}

Test(classes, every_size_gets_a_class_that_holds_it)
{
	kmm_free(kmm_malloc(1));   /* set up */
	size_t prev = 0;
	cr_assert_eq(kmm_uslab_class(0), KMM_USLAB_EMPTY, "malloc(0) is a zero-size block (heap/zero.h)");
	cr_assert_null(kmm_uslab_pop(KMM_USLAB_EMPTY));
	for (size_t n = 1; n <= KMM_USLAB_MAX; n++) {
		size_t c = kmm_uslab_class(n);
		cr_assert_lt(c, KMM_USLAB_CLASSES);
		size_t size = kmm_uslab_classes[c].size;
		cr_assert_geq(size, n, "class of %zu holds %zu", n, size);
		cr_assert_eq(size % 16, 0);
		cr_assert(c == 0 || kmm_uslab_classes[c - 1].size < n, "%zu: a smaller class would do", n);
		cr_assert_geq(size, prev);
		prev = size;
		/* no more than a quarter of slack past 128 bytes */
		if (n > 128)
			cr_assert_leq(size - n, n / 4 + 16, "request %zu in class %zu", n, size);
	}
}

/* The offset -> index computation (one multiplication) against division,
 * for every class and every offset of a slab. */
Test(classes, object_index_by_reciprocal_is_exact)
{
	kmm_free(kmm_malloc(1));
	for (size_t c = 0; c < KMM_USLAB_CLASSES; c++) {
		size_t size = kmm_uslab_classes[c].size;
		for (uintptr_t off = 0; off < KMM_USLAB_BYTES; off++) {
			long want = off % size == 0 ? (long)(off / size) : -1;
			long got = kmm_uslab_index(c, off);
			if (got != want)
				cr_assert_fail("class %zu, offset %zu: index %ld, expected %ld", size, (size_t)off, got,
					       want);
		}
	}
}

Test(malloc, small_requests_come_from_slabs_aligned_and_usable)
{
	for (size_t n = 1; n <= KMM_USLAB_MAX + 64; n += 7) {
		char *p = kmm_malloc(n);
		cr_assert_not_null(p);
		if (n <= KMM_USLAB_MAX) {
			cr_assert_not_null(slab_of(p), "malloc(%zu) not from a slab", n);
			cr_assert_eq(kmm_malloc_usable_size(p), kmm_uslab_classes[kmm_uslab_class(n)].size);
		} else {
			cr_assert_null(slab_of(p), "malloc(%zu) from a slab", n);
		}
		cr_assert_eq((uintptr_t)p % 16, 0, "malloc(%zu) = %p", n, (void *)p);
		memset(p, 0x5a, kmm_malloc_usable_size(p));
		kmm_free(p);
	}
	CHECK_ALL();
}

Test(malloc, lifo_reuse_on_one_thread)
{
	void *a = kmm_malloc(40), *b = kmm_malloc(40);
	cr_assert_neq(a, b);
	kmm_free(a);
	kmm_free(b);
	cr_assert_eq(kmm_malloc(33), b, "the last freed object of the class comes back first");
	cr_assert_eq(kmm_malloc(48), a);
	CHECK_ALL();
}

Test(malloc, many_objects_distinct_and_intact)
{
	enum { N = 50000 };
	static char *p[N];
	for (int i = 0; i < N; i++) {
		size_t n = 1 + (size_t)(i * 37) % KMM_USLAB_MAX;
		p[i] = kmm_malloc(n);
		cr_assert_not_null(p[i]);
		fill(p[i], n, (uint64_t)i);
	}
	CHECK_ALL();
	check_mallinfo();
	for (int i = 0; i < N; i += 2)
		kmm_free(p[i]);
	CHECK_ALL();
	for (int i = 1; i < N; i += 2) {
		size_t n = 1 + (size_t)(i * 37) % KMM_USLAB_MAX;
		cr_assert(verify(p[i], n, (uint64_t)i), "object %d overwritten", i);
		kmm_free(p[i]);
	}
	CHECK_ALL();
	check_mallinfo();
	struct kmm_stats st = stats();
	cr_assert_geq(st.slab_allocs, N);
	cr_assert_geq(st.served[KMM_SERVED_SLAB], N);
	cr_assert_lt(st.slab_in_use, 64 * 1024, "%zu bytes still in use after every free", st.slab_in_use);
}

/* A new slab is carved lazily, a page's worth first, then as many
 * objects as were carved before: a thread going through a slab of
 * 1024-byte objects (64 of them, 4 a page) carves 4, 4, 8, 16, 32 (five
 * slow paths, not sixteen), and has touched only the pages it used. */
Test(malloc, carving_doubles_from_a_page)
{
	kmm_free(kmm_malloc(2000));   /* the thread's record, another class */
	struct kmm_uslab_stats a, b;
	kmm_uslab_stats(&a);
	static void *p[64];
	p[0] = kmm_malloc(1000);
	kmm_uslab_stats(&b);
	cr_assert_eq(b.resident - a.resident, KMM_PAGE_SIZE, "the first carve touched %zu bytes",
		     b.resident - a.resident);
	for (int i = 1; i < 64; i++)
		p[i] = kmm_malloc(1000);
	kmm_uslab_stats(&b);
	cr_assert_eq(b.alloc_slow - a.alloc_slow, 5, "%llu slow paths for one slab",
		     (unsigned long long)(b.alloc_slow - a.alloc_slow));
	cr_assert_eq(b.slabs - a.slabs, 1);
	for (int i = 1; i < 64; i++)
		cr_assert_eq(slab_of(p[i]), slab_of(p[0]), "object %d in another slab", i);
	for (int i = 0; i < 64; i++)
		kmm_free(p[i]);
	CHECK_ALL();
}

Test(calloc, zeroed_fresh_and_reused)
{
	enum { N = 4000 };
	static unsigned char *p[N];
	for (int i = 0; i < N; i++) {
		size_t n = 1 + (size_t)i % 300;
		p[i] = kmm_calloc(1, n);
		cr_assert_not_null(p[i]);
		cr_assert_not_null(slab_of(p[i]));
		size_t u = kmm_malloc_usable_size(p[i]);
		for (size_t k = 0; k < u; k++)
			cr_assert_eq(p[i][k], 0, "calloc(%zu) byte %zu", n, k);
		memset(p[i], 0xff, u);
	}
	for (int i = 0; i < N; i++)
		kmm_free(p[i]);
	for (int i = 0; i < N; i++) {
		size_t n = 1 + (size_t)i % 300;
		unsigned char *q = kmm_calloc(n, 1);
		size_t u = kmm_malloc_usable_size(q);
		for (size_t k = 0; k < u; k++)
			cr_assert_eq(q[k], 0, "recycled calloc(%zu) byte %zu", n, k);
		p[i] = q;
	}
	for (int i = 0; i < N; i++)
		kmm_free(p[i]);
	CHECK_ALL();
}

Test(realloc, in_place_within_the_class_else_moves)
{
	char *p = kmm_malloc(100);   /* class 112 */
	fill(p, 100, 1);
	cr_assert_eq(kmm_realloc(p, 112), p, "grows within its class in place");
	cr_assert_eq(kmm_realloc(p, 60), p, "shrinks in place while it fills more than half");
	char *q = kmm_realloc(p, 300);
	cr_assert_neq(q, p);
	cr_assert(verify(q, 60, 1), "contents kept");
	char *r = kmm_realloc(q, 20000);   /* to the heap */
	cr_assert_null(slab_of(r));
	cr_assert(verify(r, 60, 1));
	char *s = kmm_realloc(r, 10);      /* a heap chunk shrinks in place */
	cr_assert(verify(s, 10, 1));
	char *t = kmm_malloc(1000);
	fill(t, 1000, 2);
	char *u = kmm_realloc(t, 100);     /* a fraction of its class: moves down */
	cr_assert_neq(u, t);
	cr_assert(verify(u, 100, 2));
	kmm_free(s);
	kmm_free(u);
	CHECK_ALL();
}

Test(memalign, small_alignments_from_naturally_aligned_classes)
{
	for (size_t a = 1; a <= 4096; a <<= 1)
		for (size_t n = 1; n <= 2048; n = n * 3 + 1) {
			void *p = kmm_memalign(a, n);
			cr_assert_not_null(p);
			cr_assert_eq((uintptr_t)p % a, 0, "memalign(%zu, %zu) = %p", a, n, p);
			cr_assert_geq(kmm_malloc_usable_size(p), n);
			if (n <= KMM_USLAB_MAX && a <= KMM_USLAB_MAX)
				cr_assert_not_null(slab_of(p), "memalign(%zu, %zu) not from a slab", a, n);
			memset(p, 1, n);
			kmm_free(p);
		}
	void *p;
	cr_assert_eq(kmm_posix_memalign(&p, 64, 8), 0);
	cr_assert_eq((uintptr_t)p % 64, 0);
	kmm_free(p);
	p = kmm_aligned_alloc(256, 256);
	cr_assert_eq((uintptr_t)p % 256, 0);
	kmm_free(p);
	CHECK_ALL();
}

/* ---- other threads ----------------------------------------------------------------- */

struct batch {
	void **p;
	size_t n, size;
};

static void *free_batch(void *arg)
{
	struct batch *b = arg;
	for (size_t i = 0; i < b->n; i++)
		kmm_free(b->p[i]);
	return NULL;
}

static void *alloc_batch(void *arg)
{
	struct batch *b = arg;
	for (size_t i = 0; i < b->n; i++) {
		b->p[i] = kmm_malloc(b->size);
		memset(b->p[i], 0x33, b->size);
	}
	return NULL;
}

/* A full slab parked off every list gets its first remote free: it is
 * pushed back to its owner, who reuses its objects. */
Test(remote, full_slabs_come_back_to_their_owner)
{
	enum { N = 3 * 4096 };   /* three slabs of 16-byte objects */
	static void *p[N];
	for (int i = 0; i < N; i++)
		p[i] = kmm_malloc(16);
	CHECK_ALL();
	struct kmm_stats st0 = stats();
	size_t slabs0 = st0.slabs;
	/* another thread frees every object of the first two slabs */
	struct batch b = { p, 2 * 4096, 16 };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, free_batch, &b), 0);
	pthread_join(th, NULL);
	struct kmm_stats st1 = stats();
	cr_assert_geq(st1.slab_remote_frees, 2 * 4096);
	CHECK_ALL();
	/* the owner gets them back: no new slab for the next 8192 */
	for (int i = 0; i < 2 * 4096; i++)
		p[i] = kmm_malloc(16);
	struct kmm_stats st2 = stats();
	cr_assert_leq(st2.slabs, slabs0 + 1, "slabs %zu -> %zu: remote frees not reused", slabs0, st2.slabs);
	for (int i = 0; i < N; i++)
		kmm_free(p[i]);
	CHECK_ALL();
	check_mallinfo();
}

/* The owner's frees into a parked (full) slab stay on its own list until
 * an eighth of its objects are free; then it is a partial slab again
 * (uslab.c, THEORY 4). */
Test(remote, owner_frees_bring_a_parked_slab_back_at_an_eighth)
{
	enum { PER = 64, N = 3 * PER };   /* three slabs of 1024-byte objects */
	static void *p[N];
	for (int i = 0; i < N; i++)
		p[i] = kmm_malloc(1000);
	struct kmm_page *s = slab_of(p[0]);
	cr_assert_not_null(s);
	cr_assert_eq(slab_of(p[PER - 1]), s);
	cr_assert_eq(s->us_where, KMM_USLAB_FULL, "the first slab is parked when full");
	cr_assert_eq(kmm_uslab_classes[s->us_class].unpark, PER / 8);
	for (int i = 0; i < PER / 8 - 1; i++) {
		kmm_free(p[i]);
		p[i] = NULL;
	}
	cr_assert_eq(s->us_where, KMM_USLAB_FULL, "%d frees: still parked", PER / 8 - 1);
	cr_assert_eq(s->us_nfree, PER / 8 - 1, "on its own list");
	CHECK_ALL();
	kmm_free(p[PER / 8 - 1]);
	p[PER / 8 - 1] = NULL;
	cr_assert_eq(s->us_where, KMM_USLAB_PARTIAL, "an eighth free: a partial slab again");
	cr_assert_eq(s->us_nfree, PER / 8);
	CHECK_ALL();
	for (int i = 0; i < N; i++)
		kmm_free(p[i]);
	CHECK_ALL();
	check_mallinfo();
}

/* Blocks allocated by threads that exited, freed by main; a new thread
 * takes the old records over instead of making new ones. */
Test(threads, records_are_taken_over_by_new_threads)
{
	enum { T = 6, N = 2000 };
	static void *p[T][N];
	struct batch b[T];
	for (int round = 0; round < 3; round++) {
		pthread_t th[T];
		for (int t = 0; t < T; t++) {
			b[t] = (struct batch){ p[t], N, 24 + 16 * (size_t)t };
			cr_assert_eq(pthread_create(&th[t], NULL, alloc_batch, &b[t]), 0);
		}
		for (int t = 0; t < T; t++)
			pthread_join(th[t], NULL);
		CHECK_ALL();
		for (int t = 0; t < T; t++)
			free_batch(&b[t]);
		CHECK_ALL();
		check_mallinfo();
	}
	struct kmm_uslab_stats us;
	kmm_uslab_stats(&us);
	cr_assert_leq(us.owners, T + 1, "%zu owner records for %d threads at a time", us.owners, T);
	cr_assert_geq(us.idle_owners, 1);
	cr_assert_eq(kmm_malloc_trim(0), 1);
	kmm_uslab_stats(&us);
	cr_assert_leq(us.slabs, 8, "%zu slabs left after every object was freed and malloc_trim", us.slabs);
	CHECK_ALL();
}

/* free() and malloc() after the thread's exit hook ran (glibc frees its
 * own things after the TLS destructors): a pthread key made after kmm's
 * runs its destructor after kmm's. */
static pthread_key_t late_key;
static void *late_block;
static void *late_result;

static void late_destructor(void *arg)
{
	kmm_free(arg);                  /* an object of this thread's slabs */
	void *q = kmm_malloc(32);       /* from the heap now */
	memset(q, 1, 32);
	late_result = q;
}

static void *late_thread(void *arg)
{
	(void)arg;
	kmm_free(kmm_malloc(8));        /* registered: kmm's exit key exists */
	cr_assert_eq(pthread_key_create(&late_key, late_destructor), 0);
	late_block = kmm_malloc(64);
	pthread_setspecific(late_key, late_block);
	return NULL;
}

Test(threads, frees_and_mallocs_after_the_exit_hook)
{
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, late_thread, NULL), 0);
	pthread_join(th, NULL);
	cr_assert_not_null(late_result);
	cr_assert_null(slab_of(late_result), "a dead thread's malloc goes to the heap");
	kmm_free(late_result);
	CHECK_ALL();
}

/* ---- fork --------------------------------------------------------------------------- */

static volatile int spin_stop;
static void *spinner(void *arg)
{
	struct batch *b = arg;
	while (!spin_stop) {
		for (size_t i = 0; i < b->n; i++)
			b->p[i] = kmm_malloc(b->size);
		for (size_t i = 0; i < b->n; i++)
			kmm_free(b->p[i]);
	}
	return NULL;
}

Test(fork, child_allocates_and_frees_everything)
{
	enum { N = 3000 };
	static void *mine[N], *theirs[N], *scratch[64];
	struct batch b = { theirs, N, 48 };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, alloc_batch, &b), 0);
	pthread_join(th, NULL);   /* an exited thread's objects */
	for (int i = 0; i < N; i++)
		mine[i] = kmm_malloc(16 + (size_t)i % 500);
	struct batch sb = { scratch, 64, 100 };
	pthread_t sp;
	cr_assert_eq(pthread_create(&sp, NULL, spinner, &sb), 0);   /* running while we fork */
	usleep(1000);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int bad = kmm_check(1);
		for (int i = 0; i < N; i++) {
			kmm_free(mine[i]);
			kmm_free(theirs[i]);
		}
		for (int i = 0; i < N; i++)
			mine[i] = kmm_malloc(16 + (size_t)i % 700);
		for (int i = 0; i < N; i++)
			kmm_free(mine[i]);
		bad += kmm_check(1);
		struct mallinfo2 mi = kmm_mallinfo2();
		bad += mi.uordblks + mi.fordblks != mi.arena;
		_exit(bad != 0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	spin_stop = 1;
	pthread_join(sp, NULL);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed (status %#x)", status);
	for (int i = 0; i < N; i++) {
		kmm_free(mine[i]);
		kmm_free(theirs[i]);
	}
	CHECK_ALL();
}

/* ---- trim and statistics ------------------------------------------------------------------ */

Test(trim, empty_slabs_go_back)
{
	enum { N = 40000 };
	static void *p[N];
	for (int i = 0; i < N; i++)
		p[i] = kmm_malloc(100);
	struct kmm_stats st0 = stats();
	cr_assert_geq(st0.slab_bytes, (size_t)N * 100);
	cr_assert_geq(st0.slab_in_use, (size_t)N * 100);
	for (int i = 0; i < N; i++)
		kmm_free(p[i]);
	struct kmm_stats st1 = stats();
	cr_assert_lt(st1.slabs, st0.slabs, "empty slabs beyond a reserve go back to the buddy allocator");
	kmm_malloc_trim(0);
	struct kmm_stats st2 = stats();
	cr_assert_leq(st2.slabs, 2, "%zu slabs after malloc_trim", st2.slabs);
	check_mallinfo();
	CHECK_ALL();
}

/* Slabs of 1000-byte objects (class 1024, 64 a slab, 4 a page) of which
 * one object in 32 stays in use: pages 0 and 8 of each slab keep one; the
 * 14 others hold only free objects. */
static void *free_one(void *arg);

enum { PG_N = 64 * 8 };
static char *pg_p[PG_N];

static void pages_setup(void)
{
	for (int i = 0; i < PG_N; i++) {
		pg_p[i] = kmm_malloc(1000);
		cr_assert_not_null(pg_p[i]);
		fill(pg_p[i], 1000, (uint64_t)i);
	}
	for (int i = 0; i < PG_N; i++)
		if (i % 32 != 0)
			kmm_free(pg_p[i]);
}

static bool resident(const void *p)
{
	unsigned char v = 0;
	void *page = (void *)((uintptr_t)p & ~(uintptr_t)(KMM_PAGE_SIZE - 1));
	cr_assert_eq(mincore(page, KMM_PAGE_SIZE, &v), 0, "mincore: %s", strerror(errno));
	return v & 1;
}

/* malloc_trim gives back the pages of partly used slabs that no object in
 * use touches (uslab.c, THEORY 9); the slabs work on as before */
Test(trim, free_pages_of_partly_used_slabs_go_back)
{
	pages_setup();
	struct kmm_uslab_stats us0;
	kmm_uslab_stats(&us0);
	cr_assert_eq(us0.released, 0);
	cr_assert(resident(pg_p[16]));
	cr_assert_eq(kmm_malloc_trim(0), 1);
	struct kmm_uslab_stats us;
	kmm_uslab_stats(&us);
	/* every slab but the thread's active one: 14 pages each */
	cr_assert_geq(us.released, (size_t)(PG_N / 64 - 1) * 14 * KMM_PAGE_SIZE, "%zu bytes given back", us.released);
	cr_assert_eq(us.pages_released * KMM_PAGE_SIZE, us.released);
	cr_assert_geq(us.page_releases, (uint64_t)(PG_N / 64 - 1), "one madvise per run at least");
	cr_assert_eq(us.resident + us.released, us0.resident, "touched %zu + given back %zu, before %zu", us.resident,
		     us.released, us0.resident);
	cr_assert(!resident(pg_p[16]), "the page of a freed object in the first slab is still resident");
	cr_assert(resident(pg_p[32]), "the page of an object in use must stay");
	for (int i = 0; i < PG_N; i += 32)
		cr_assert(verify(pg_p[i], 1000, (uint64_t)i), "object %d in use was changed", i);
	CHECK_ALL();
	/* the slabs become active again: the objects of their pages come back */
	static char *q[PG_N];
	for (int i = 0; i < PG_N; i++) {
		if (i % 32 == 0)
			continue;
		q[i] = kmm_malloc(1000);
		cr_assert_not_null(q[i]);
		fill(q[i], 1000, (uint64_t)i + 7);
	}
	CHECK_ALL();
	for (int i = 0; i < PG_N; i++) {
		if (i % 32 == 0)
			cr_assert(verify(pg_p[i], 1000, (uint64_t)i));
		else
			cr_assert(verify(q[i], 1000, (uint64_t)i + 7), "object %d (%p) overwritten", i, (void *)q[i]);
	}
	kmm_uslab_stats(&us);
	cr_assert_eq(us.released, 0, "%zu bytes still given back after the slabs filled up", us.released);
	for (int i = 0; i < PG_N; i++)
		kmm_free(i % 32 == 0 ? pg_p[i] : q[i]);
	CHECK_ALL();
	check_mallinfo();
}

/* the objects in use of a slab with pages given back are freed through
 * the slow path; the slab empties and goes back as usual */
Test(trim, a_slab_with_pages_given_back_empties)
{
	pages_setup();
	kmm_malloc_trim(0);
	for (int i = 0; i < PG_N; i += 32)
		kmm_free(pg_p[i]);
	CHECK_ALL();
	kmm_malloc_trim(0);
	struct kmm_uslab_stats us;
	kmm_uslab_stats(&us);
	cr_assert_eq(us.released, 0);
	cr_assert_leq(us.slabs, 2, "%zu slabs left", us.slabs);
	CHECK_ALL();
}

Test(hardening, double_free_into_a_page_given_back, .signal = SIGABRT)
{
	pages_setup();
	kmm_malloc_trim(0);
	kmm_free(pg_p[17]);
}

Test(hardening, double_free_into_a_page_given_back_by_another_thread, .signal = SIGABRT)
{
	pages_setup();
	kmm_malloc_trim(0);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, free_one, pg_p[17]), 0);
	pthread_join(th, NULL);
}

Test(stats, reports_show_the_slab_classes)
{
	void *p = kmm_malloc(200), *q = kmm_malloc(2000);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	cr_assert_eq(kmm_malloc_info(0, f), 0);
	fclose(f);
	cr_assert_not_null(strstr(buf, "<slabs count=\"2\""), "malloc_info: %s", buf);
	free(buf);
	int fd = fileno(tmpfile());
	cr_assert_eq(kmm_report(fd, "slabinfo,summary,meminfo"), 0);
	lseek(fd, 0, SEEK_SET);
	static char text[65536];
	ssize_t n = read(fd, text, sizeof text - 1);
	cr_assert_gt(n, 0);
	text[n] = '\0';
	cr_assert_not_null(strstr(text, "\nuslab-224 "), "slabinfo: %s", text);
	cr_assert_not_null(strstr(text, "\nuslab-2048 "), "slabinfo: %s", text);
	cr_assert_not_null(strstr(text, "slab front end (front=slab"), "summary: %s", text);
	cr_assert_not_null(strstr(text, "SlabFront:"), "meminfo: %s", text);
	kmm_free(p);
	kmm_free(q);
	CHECK_ALL();
}

/* ---- hardening ---------------------------------------------------------------------------- */

Test(hardening, double_free_at_once, .signal = SIGABRT)
{
	void *p = kmm_malloc(64);
	kmm_free(p);
	kmm_free(p);
}

Test(hardening, double_free_after_other_frees, .signal = SIGABRT)
{
	void *p[10];
	for (int i = 0; i < 10; i++)
		p[i] = kmm_malloc(64);
	kmm_free(p[3]);
	for (int i = 4; i < 10; i++)
		kmm_free(p[i]);
	kmm_free(p[3]);
}

static void *free_one(void *arg)
{
	kmm_free(arg);
	return NULL;
}

Test(hardening, double_free_by_another_thread, .signal = SIGABRT)
{
	void *p = kmm_malloc(64);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, free_one, p), 0);
	pthread_join(th, NULL);
	free_one(p);   /* still on the remote list */
}

Test(hardening, double_free_of_an_object_on_the_owners_list, .signal = SIGABRT)
{
	void *p = kmm_malloc(64);
	kmm_free(p);   /* on this thread's list */
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, free_one, p), 0);
	pthread_join(th, NULL);
}

Test(hardening, interior_pointer, .signal = SIGABRT)
{
	char *p = kmm_malloc(64);
	kmm_free(p + 16);
}

Test(hardening, never_handed_out, .signal = SIGABRT)
{
	char *p = kmm_malloc(64);
	kmm_free(p + 64 * 1000);   /* the same slab, far past what was carved */
}

Test(hardening, write_after_free_into_the_list_word, .signal = SIGABRT)
{
	uintptr_t *p = kmm_malloc(64);
	kmm_free(p);
	p[0] = 0x4141414141414141ull;   /* the next pointer */
	kmm_malloc(64);
	kmm_malloc(64);
}

/* the free mark is only a hint: a block that carries it by chance (its
 * data) is freed normally */
Test(hardening, freed_mark_in_user_data_is_not_a_double_free)
{
	uintptr_t *p = kmm_malloc(64), *q = kmm_malloc(64);
	kmm_free(q);
	uintptr_t mark = q[1];   /* (a read after free, to learn the mark) */
	q = kmm_malloc(64);
	p[1] = mark;
	kmm_free(p);
	kmm_free(q);
	CHECK_ALL();
}

Test(hardening, checker_sees_a_lost_freed_mark)
{
	uintptr_t *p = kmm_malloc(64);
	kmm_free(p);
	p[1] = 0;   /* a write after free */
	cr_assert_neq(kmm_check(0), 0, "kmm_check() misses a free object whose mark was overwritten");
	p[1] = kmm_uslab_key;
	CHECK_ALL();
}

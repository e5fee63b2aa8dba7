/*
 * test_slab.c — the SLUB-style slab caches and kmalloc of the kernel side
 * (src/kernel/slab.c): every kmalloc size, large kmalloc, kmem_cache_create,
 * random alloc/free with pattern checks and an overlap model, several
 * threads with remote frees and thread exit, the slabinfo report, and empty
 * slabs going back to the buddy allocator; misuse (frees of what is not an
 * object of the cache, double frees) aborting with its one-line diagnostic,
 * and valid frees in any order raising no false alarm, with and without
 * slab_debug.
 *
 * criterion runs every Test() in a fresh process.  Every test ends with
 * kmm_slab_check(1) and kmm_kernel_check(1) (the kernel side's checkers) returning 0.  Random tests print their
 * seed in every failure message.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel/kernel.h"
#include "kernel/page_alloc.h"
#include "kernel/slab.h"
#include "kernel/vmalloc.h"
#include "util/format.h"
#include "ktest.h"


#define CHECK_SLAB() do { \
	cr_assert_eq(kmm_slab_check(1), 0, "slab invariants violated (see stderr)"); \
	cr_assert_eq(kmm_kernel_check(1), 0, "kernel-side invariants violated (see stderr)"); \
} while (0)

/* ---- helpers ---------------------------------------------------------------- */

static const size_t classes[] = { 8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192 };
#define NCLASSES (sizeof classes / sizeof classes[0])

static size_t class_of(size_t n)
{
	if (n == 0)
		n = 1;
	for (size_t i = 0; i < NCLASSES; i++)
		if (n <= classes[i])
			return classes[i];
	return 0;
}

/* the alignment kmalloc-N guarantees: N for powers of two >= 64 (at most a
 * page), 8 otherwise */
static size_t class_align(size_t cls)
{
	if (cls >= 64 && (cls & (cls - 1)) == 0)
		return cls > 4096 ? 4096 : cls;
	return 8;
}

struct obj {
	char *p;
	size_t size;      /* asked for */
	uint64_t seed;
	struct kmm_kmem_cache *cache;   /* NULL: kmalloc */
};

static int cmp_obj(const void *a, const void *b)
{
	const struct obj *x = a, *y = b;
	return x->p < y->p ? -1 : x->p > y->p;
}

/* No two live objects overlap: sorted by address, each ends (at its usable
 * size) before the next begins. */
static void check_no_overlap(struct obj *o, size_t n, uint64_t seed)
{
	struct obj *s = malloc(n * sizeof *s);
	cr_assert(n == 0 || s != NULL);
	memcpy(s, o, n * sizeof *s);
	qsort(s, n, sizeof *s, cmp_obj);
	for (size_t i = 1; i < n; i++) {
		size_t span = s[i - 1].cache ? s[i - 1].cache->size : kmm_ksize(s[i - 1].p);
		cr_assert(s[i - 1].p + span <= s[i].p, "objects %p (+%zu) and %p overlap (seed %llu)",
			  (void *)s[i - 1].p, span, (void *)s[i].p, (unsigned long long)seed);
	}
	free(s);
}

/* a random kmalloc size: mostly small, sometimes up to 8 KiB, rarely pages */
static size_t random_size(uint64_t *rs, bool large)
{
	size_t r = rng_below(rs, 100);
	if (r < 60)
		return 1 + rng_below(rs, 256);
	if (r < 90)
		return 1 + rng_below(rs, 2048);
	if (r < 98 || !large)
		return 1 + rng_below(rs, KMM_KMALLOC_MAX);
	return KMM_KMALLOC_MAX + 1 + rng_below(rs, 60000);
}

/* ---- slabinfo --------------------------------------------------------------------- */

struct slabinfo_row {
	char name[32];
	size_t active_objs, num_objs, objsize, objperslab, pagesperslab, active_slabs, num_slabs;
};

static char slabinfo_text[16384];

/* Parse the slabinfo report; returns the number of cache lines. */
static size_t read_slabinfo(struct slabinfo_row *rows, size_t max)
{
	struct kmm_buf b;
	kmm_buf_init(&b, slabinfo_text, sizeof slabinfo_text, -1);
	kmm_slab_report_slabinfo(&b);
	cr_assert(!b.truncated);
	static char copy[sizeof slabinfo_text];
	memcpy(copy, slabinfo_text, sizeof copy);

	size_t n = 0, lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save), lineno++) {
		if (lineno == 0) {
			cr_assert_str_eq(line, "slabinfo - version: 2.1");
			continue;
		}
		if (lineno == 1) {
			cr_assert_eq(strncmp(line, "# name", 6), 0, "header line: %s", line);
			cr_assert_not_null(strstr(line, "<active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"));
			cr_assert_not_null(strstr(line, ": slabdata <active_slabs> <num_slabs> <sharedavail>"));
			continue;
		}
		cr_assert(n < max);
		struct slabinfo_row *r = &rows[n];
		int lim, batch, shared, avail, end = 0;
		int got = sscanf(line, "%31s %zu %zu %zu %zu %zu : tunables %d %d %d : slabdata %zu %zu %d%n", r->name,
				 &r->active_objs, &r->num_objs, &r->objsize, &r->objperslab, &r->pagesperslab, &lim,
				 &batch, &shared, &r->active_slabs, &r->num_slabs, &avail, &end);
		cr_assert_eq(got, 12, "slabinfo line does not parse: %s", line);
		cr_assert_eq(line[end], '\0', "trailing text: %s", line);
		/* consistency of the numbers */
		cr_assert_eq(r->num_objs, r->num_slabs * r->objperslab, "%s: num_objs", r->name);
		cr_assert(r->active_objs <= r->num_objs, "%s: active %zu > num %zu", r->name, r->active_objs,
			  r->num_objs);
		cr_assert_eq(r->active_slabs, r->num_slabs, "%s", r->name);
		cr_assert(r->objperslab >= 1 && r->objperslab * r->objsize <= r->pagesperslab * PG, "%s: %zu x %zu in %zu pages",
			  r->name, r->objperslab, r->objsize, r->pagesperslab);
		cr_assert(r->pagesperslab >= 1 && (r->pagesperslab & (r->pagesperslab - 1)) == 0, "%s", r->name);
		n++;
	}
	return n;
}

static struct slabinfo_row *find_row(struct slabinfo_row *rows, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].name, name) == 0)
			return &rows[i];
	return NULL;
}

/* The cache of kmalloc(n). */
static struct kmm_kmem_cache *kmalloc_cache_of(size_t n)
{
	void *p = kmm_kmalloc(n);
	cr_assert_not_null(p);
	struct kmm_page *head = kmm_virt_to_head_page(p);
	cr_assert(head->flags & KMM_PG_SLAB);
	struct kmm_kmem_cache *c = head->slab_cache;
	kmm_kfree(p);
	return c;
}

/* ---- kmalloc sizes ------------------------------------------------------------------ */

Test(kmalloc, every_size_up_to_8192)
{
	enum { N = KMM_KMALLOC_MAX };
	static struct obj o[N];
	for (size_t s = 1; s <= N; s++) {
		char *p = kmm_kmalloc(s);
		cr_assert_not_null(p, "kmalloc(%zu)", s);
		size_t cls = class_of(s);
		cr_assert_eq(kmm_ksize(p), cls, "ksize(kmalloc(%zu)) = %zu, want %zu", s, kmm_ksize(p), cls);
		cr_assert_eq((uintptr_t)p % class_align(cls), 0, "kmalloc(%zu) = %p not aligned to %zu", s, (void *)p,
			     class_align(cls));
		struct kmm_page *head = kmm_virt_to_head_page(p);
		cr_assert_not_null(head);
		cr_assert(head->flags & KMM_PG_SLAB, "kmalloc(%zu) is in a slab", s);
		cr_assert_eq(head->slab_cache->object_size, cls);
		char name[32];
		snprintf(name, sizeof name, "kmalloc-%zu", cls);
		cr_assert_str_eq(head->slab_cache->name, name);
		cr_assert_eq((size_t)(p - (char *)kmm_page_address(head)) % head->slab_cache->size, 0,
			     "on an object boundary");
		fill(p, s, s);
		o[s - 1] = (struct obj){ p, s, s, NULL };
	}
	check_no_overlap(o, N, 0);
	cr_assert_eq(kmm_slab_check(1), 0);
	for (size_t s = 1; s <= N; s++) {
		cr_assert(verify(o[s - 1].p, s, s), "kmalloc(%zu) lost its contents", s);
		kmm_kfree(o[s - 1].p);
	}
	CHECK_SLAB();
}

Test(kmalloc, zero_size_and_null)
{
	void *p = kmm_kmalloc(0);
	cr_assert_not_null(p);
	cr_assert_eq(kmm_ksize(p), 8);
	kmm_kfree(p);
	kmm_kfree(NULL);
	int local;
	cr_assert_eq(kmm_ksize(&local), 0, "ksize of memory kmalloc does not own");
	CHECK_SLAB();
}

Test(kmalloc, larger_than_8192_gets_pages)
{
	const size_t sizes[] = { 8193, 12288, 12289, 16384, 16385, 65536, 100000, 1 << 20, (1 << 20) + 1, 4 << 20 };
	void *p[sizeof sizes / sizeof sizes[0]];
	size_t free0 = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t s = sizes[i];
		if (i == 1)
			free0 = kmm_zone.free_pages + (kmm_ksize(p[0]) / PG);
		p[i] = kmm_kmalloc(s);
		cr_assert_not_null(p[i], "kmalloc(%zu)", s);
		size_t want = PG;
		while (want < s)
			want <<= 1;
		cr_assert_eq(kmm_ksize(p[i]), want, "ksize(kmalloc(%zu)) = %zu, want %zu", s, kmm_ksize(p[i]), want);
		cr_assert_eq((uintptr_t)p[i] % PG, 0);
		struct kmm_page *head = kmm_virt_to_head_page(p[i]);
		cr_assert_eq(kmm_page_address(head), p[i]);
		cr_assert_eq(head->owner, KMM_OWNER_PAGES);
		cr_assert_eq(head->flags & KMM_PG_SLAB, 0);
		cr_assert_eq(kmm_virt_to_head_page((char *)p[i] + want - 1), head, "compound block");
		cr_assert_eq(kmm_ksize((char *)p[i] + want / 2), 0, "ksize inside the block: not a kmalloc pointer");
		fill(p[i], s, i);
	}
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		cr_assert(verify(p[i], sizes[i], i), "kmalloc(%zu) lost its contents", sizes[i]);
		kmm_kfree(p[i]);
	}
	cr_assert_eq(kmm_zone.free_pages, free0, "the pages went back to the buddy allocator");
	errno = 0;
	cr_assert_null(kmm_kmalloc((4 << 20) + 1), "beyond the largest buddy block");
	cr_assert_eq(errno, ENOMEM);
	CHECK_SLAB();
}

Test(kmalloc, kzalloc_clears_recycled_objects)
{
	for (size_t s = 24; s <= 8192 * 3; s = s * 2 + 8) {
		char *p = kmm_kmalloc(s);
		cr_assert_not_null(p);
		memset(p, 0xee, s);
		kmm_kfree(p);
		char *q = kmm_kzalloc(s);
		cr_assert_not_null(q);
		if (s <= KMM_KMALLOC_MAX)
			cr_assert_eq(q, p, "kmalloc(%zu): the object just freed comes back (LIFO)", s);
		cr_assert(all_zero(q, s), "kzalloc(%zu) returned dirty memory", s);
		kmm_kfree(q);
	}
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("zalloc-test", 333, 8);
	cr_assert_not_null(c);
	char *p = kmm_kmem_cache_alloc(c);
	memset(p, 0x11, 333);
	kmm_kmem_cache_free(c, p);
	char *q = kmm_kmem_cache_zalloc(c);
	cr_assert_eq(q, p);
	cr_assert(all_zero(q, 333));
	kmm_kmem_cache_free(c, q);
	kmm_kmem_cache_free(c, NULL);
	CHECK_SLAB();
}

/* ---- random, one thread ----------------------------------------------------------- */

static void random_kmalloc(uint64_t seed, unsigned ops, struct kmm_kmem_cache *cache)
{
	enum { MAX_LIVE = 3000 };
	static struct obj live[MAX_LIVE];
	size_t n = 0;
	uint64_t rs = seed;

	for (unsigned op = 0; op < ops; op++) {
		bool alloc = n == 0 || (n < MAX_LIVE && rng_below(&rs, 100) < 55);
		if (alloc) {
			struct obj o = { NULL, 0, rng_next(&rs), NULL };
			if (cache != NULL && rng_below(&rs, 3) == 0) {
				o.cache = cache;
				o.size = cache->object_size;
				o.p = rng_below(&rs, 4) == 0 ? kmm_kmem_cache_zalloc(cache) : kmm_kmem_cache_alloc(cache);
				cr_assert_not_null(o.p, "cache alloc (seed %llu)", (unsigned long long)seed);
				struct kmm_page *head = kmm_virt_to_head_page(o.p);
				cr_assert(head->flags & KMM_PG_SLAB);
				cr_assert_eq(head->slab_cache, cache, "object in a slab of its cache (seed %llu)",
					     (unsigned long long)seed);
				cr_assert_eq((size_t)(o.p - (char *)kmm_page_address(head)) % cache->size, 0,
					     "object %p not on a boundary (seed %llu)", (void *)o.p, (unsigned long long)seed);
				cr_assert_eq((uintptr_t)o.p % cache->align, 0);
			} else {
				o.size = random_size(&rs, true);
				o.p = kmm_kmalloc(o.size);
				cr_assert_not_null(o.p, "kmalloc(%zu) (seed %llu)", o.size, (unsigned long long)seed);
				size_t ks = kmm_ksize(o.p);
				cr_assert(ks >= o.size && (o.size > KMM_KMALLOC_MAX || ks == class_of(o.size)),
					  "ksize(kmalloc(%zu)) = %zu (seed %llu)", o.size, ks, (unsigned long long)seed);
			}
			fill(o.p, o.size, o.seed);
			live[n++] = o;
		} else {
			size_t i = rng_below(&rs, n);
			struct obj o = live[i];
			cr_assert(verify(o.p, o.size, o.seed), "op %u: object %p (%zu bytes) was overwritten (seed %llu)", op,
				  (void *)o.p, o.size, (unsigned long long)seed);
			if (o.cache)
				kmm_kmem_cache_free(o.cache, o.p);
			else
				kmm_kfree(o.p);
			live[i] = live[--n];
		}
		if (op % 2000 == 1999) {
			check_no_overlap(live, n, seed);
			cr_assert_eq(kmm_slab_check(1), 0, "slab check at op %u (seed %llu)", op, (unsigned long long)seed);
		}
	}
	check_no_overlap(live, n, seed);
	while (n > 0) {
		struct obj o = live[--n];
		cr_assert(verify(o.p, o.size, o.seed), "object %p was overwritten (seed %llu)", (void *)o.p,
			  (unsigned long long)seed);
		if (o.cache)
			kmm_kmem_cache_free(o.cache, o.p);
		else
			kmm_kfree(o.p);
	}
	cr_assert_eq(kmm_slab_check(1), 0, "slab check after freeing all (seed %llu)", (unsigned long long)seed);
}

Test(slab_random, kmalloc_seed_1) { random_kmalloc(1, 30000, NULL); CHECK_SLAB(); }
Test(slab_random, kmalloc_seed_77) { random_kmalloc(77, 30000, NULL); CHECK_SLAB(); }

Test(slab_random, cache_and_kmalloc_seed_5)
{
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("test-obj-200", 200, 8);
	cr_assert_not_null(c);
	cr_assert_str_eq(c->name, "test-obj-200");
	cr_assert_eq(c->object_size, 200);
	cr_assert_eq(c->size, 200);
	cr_assert_eq(c->order, 0);
	cr_assert_eq(c->objects, 20);
	random_kmalloc(5, 30000, c);
	CHECK_SLAB();
}

Test(slab_random, aligned_cache_seed_9)
{
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("aligned-100", 100, 64);
	cr_assert_not_null(c);
	cr_assert_eq(c->size, 128, "100 bytes aligned to 64: stride 128");
	cr_assert_eq(c->align, 64);
	random_kmalloc(9, 20000, c);
	struct kmm_kmem_cache *d = kmm_kmem_cache_create("tiny-3", 3, 1);
	cr_assert_not_null(d);
	cr_assert(d->size >= sizeof(void *), "room for the free pointer");
	random_kmalloc(10, 10000, d);
	CHECK_SLAB();
}

Test(slab, cache_name_kept_and_truncated_in_slabinfo)
{
	static const char long_name[] = "a-very-long-cache-name-that-does-not-fit";
	struct kmm_kmem_cache *c = kmm_kmem_cache_create(long_name, 64, 8);
	cr_assert_not_null(c);
	cr_assert_eq(c->name, long_name, "the name is kept, not copied");
	void *o = kmm_kmem_cache_alloc(c);
	cr_assert_not_null(o);
	static struct slabinfo_row rows[64];
	size_t n = read_slabinfo(rows, 64);
	char want[KMM_CACHE_NAME_LEN];
	memcpy(want, long_name, sizeof want - 1);
	want[sizeof want - 1] = '\0';
	size_t found = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].name, want) == 0 && rows[i].num_slabs == 1)
			found++;
	cr_assert_eq(found, 1, "slabinfo has no line \"%s\" with one slab:\n%s", want, slabinfo_text);
	kmm_kmem_cache_free(c, o);
	CHECK_SLAB();
}

Test(slab, freelist_words_are_not_plain_pointers)
{
	/* SLAB_FREELIST_HARDENED: a freed object's first word is the next
	 * free object XORed with the cache's random and the swapped address */
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("hardened-64", 64, 8);
	cr_assert_not_null(c);
	void *a = kmm_kmem_cache_alloc(c), *b = kmm_kmem_cache_alloc(c);
	kmm_kmem_cache_free(c, a);
	kmm_kmem_cache_free(c, b);    /* b's first word leads to a */
	uintptr_t word = *(uintptr_t *)b;
	cr_assert_neq(word, (uintptr_t)a, "the freelist word is the plain pointer");
	cr_assert_eq(word ^ c->random ^ __builtin_bswap64((uint64_t)(uintptr_t)b), (uintptr_t)a);
	/* the allocator still follows it */
	cr_assert_eq(kmm_kmem_cache_alloc(c), b);
	cr_assert_eq(kmm_kmem_cache_alloc(c), a);
	CHECK_SLAB();
}

Test(slab, slab_random_shuffles_the_freelist)
{
	/* SLAB_FREELIST_RANDOM: a new slab's objects come out in a random
	 * order; without it, in address order */
	struct kmm_kmem_cache *plain = kmm_kmem_cache_create("order-64", 64, 8);
	cr_assert_not_null(plain);
	uintptr_t prev = 0;
	for (unsigned i = 0; i < plain->objects; i++) {
		uintptr_t o = (uintptr_t)kmm_kmem_cache_alloc(plain);
		cr_assert(o > prev, "without slab_random, objects come in address order");
		prev = o;
	}
	cr_assert_eq(kmm_kernel_param_set(KMM_KP_SLAB_RANDOM, 1), 1);
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("random-64", 64, 8);
	cr_assert_not_null(c);
	unsigned n = c->objects, ascending = 0;
	uintptr_t *got = calloc(n, sizeof *got);
	for (unsigned i = 0; i < n; i++) {
		got[i] = (uintptr_t)kmm_kmem_cache_alloc(c);
		cr_assert(got[i] != 0);
		memset((void *)got[i], 0x5a, 64);
		if (i > 0 && got[i] > got[i - 1])
			ascending++;
	}
	/* n distinct objects of one slab, not in order: a random permutation
	 * of 64 has about 32 ascents, the address order 63 */
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			cr_assert_neq(got[i], got[j]);
	cr_assert(ascending < n - 1 - 8, "%u of %u steps go up: not shuffled", ascending, n - 1);
	CHECK_SLAB();
	for (unsigned i = 0; i < n; i++)
		kmm_kmem_cache_free(c, (void *)got[i]);
	free(got);
	kmm_kernel_param_set(KMM_KP_SLAB_RANDOM, 0);
	CHECK_SLAB();
}

Test(slab, double_free_of_the_freelist_head_aborts, .signal = SIGABRT)
{
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("dfree-64", 64, 8);
	void *a = kmm_kmem_cache_alloc(c);
	kmm_kmem_cache_free(c, a);
	kmm_kmem_cache_free(c, a);
}

/* ---- misuse: ownership and double frees -------------------------------------------- */

/*
 * Each misuse is one Test with .signal = SIGABRT.  abort_with() first
 * commits the misuse in a child process with stderr in a pipe and checks
 * the one line kmm writes before abort(): the function, the pointer and
 * why.  Then it commits the misuse in the test process itself, which must
 * die of SIGABRT for the Test to pass.
 */
struct misuse {
	struct kmm_kmem_cache *c;   /* NULL: kfree */
	void *p;
};

static void commit(const struct misuse *m)
{
	if (m->c != NULL)
		kmm_kmem_cache_free(m->c, m->p);
	else
		kmm_kfree(m->p);
}

static void abort_with(struct misuse m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void abort_with(struct misuse m, const char *fmt, ...)
{
	char want[300], got[600];
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(want, sizeof want - 1, fmt, ap);
	va_end(ap);
	cr_assert(w > 0 && (size_t)w < sizeof want - 1);
	want[w] = '\n';
	want[w + 1] = '\0';
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);     /* no core files */
	int fd[2];
	cr_assert_eq(pipe(fd), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 2);
		commit(&m);
		_exit(0);
	}
	close(fd[1]);
	size_t n = 0;
	ssize_t r;
	while (n < sizeof got - 1 && (r = read(fd[0], got + n, sizeof got - 1 - n)) > 0)
		n += (size_t)r;
	got[n] = '\0';
	close(fd[0]);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "the misuse did not abort (status %#x), stderr: %s",
		  (unsigned)st, got);
	cr_assert_str_eq(got, want, "diagnostic");
	commit(&m);
	cr_assert_fail("the misuse did not abort the test process");
}

static size_t object_index(const void *obj)
{
	struct kmm_page *head = kmm_virt_to_head_page(obj);
	return (size_t)((const char *)obj - (char *)kmm_page_address(head)) / head->slab_cache->size;
}

/* The first frame (its address in its section) that vmalloc owns, after a
 * vmalloc of 64 KiB built from buddy frames (vmalloc_frames=on; a
 * demand-paged area has none). */
static void *a_vmalloc_frame(void)
{
	kmm_vmalloc_params.frames = true;
	char *v = kmm_vmalloc(64 * 1024, NULL);
	cr_assert_not_null(v);
	memset(v, 1, 64 * 1024);
	for (struct kmm_mem_section *s = kmm_zone.sections; s != NULL; s = s->next)
		for (size_t i = s->reserved_pages; i < s->deferred; i++)
			if ((s->mem_map[i].flags & KMM_PG_HEAD) && s->mem_map[i].owner == KMM_OWNER_VMALLOC)
				return kmm_page_address(&s->mem_map[i]);
	cr_assert_fail("no frame of a vmalloc area");
	return NULL;
}

static char a_global[64] __attribute__((aligned(64)));

Test(slab_misuse, cache_free_inside_an_object, .signal = SIGABRT)
{
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("misuse-64", 64, 8);
	char *a = kmm_kmem_cache_alloc(c), *b = kmm_kmem_cache_alloc(c);
	cr_assert(a && b);
	abort_with((struct misuse){ c, b + 16 },
		   "kmm: kmem_cache_free(misuse-64): invalid pointer %p (16 bytes into object %zu of a misuse-64 slab)",
		   (void *)(b + 16), object_index(b));
}

Test(slab_misuse, cache_free_of_another_caches_object, .signal = SIGABRT)
{
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("misuse-64", 64, 8);
	struct kmm_kmem_cache *d = kmm_kmem_cache_create("other-64", 64, 8);
	void *a = kmm_kmem_cache_alloc(c), *b = kmm_kmem_cache_alloc(d);
	cr_assert(a && b);
	abort_with((struct misuse){ c, b }, "kmm: kmem_cache_free(misuse-64): invalid pointer %p (in a slab of other-64)",
		   b);
}

Test(slab_misuse, cache_free_misaligned, .signal = SIGABRT)
{
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("misuse-64", 64, 8);
	char *a = kmm_kmem_cache_alloc(c);
	cr_assert_not_null(a);
	abort_with((struct misuse){ c, a + 4 }, "kmm: kmem_cache_free(misuse-64): invalid pointer %p (misaligned)",
		   (void *)(a + 4));
}

Test(slab_misuse, cache_free_past_the_last_object, .signal = SIGABRT)
{
	/* 20 objects of 200 bytes in a page: 96 bytes left over at the end */
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("misuse-200", 200, 8);
	cr_assert_eq(c->order, 0);
	cr_assert_eq(c->objects, 20);
	char *a = kmm_kmem_cache_alloc(c);
	cr_assert_not_null(a);
	char *past = (char *)kmm_page_address(kmm_virt_to_head_page(a)) + 20 * 200;
	abort_with((struct misuse){ c, past },
		   "kmm: kmem_cache_free(misuse-200): invalid pointer %p (past the last object of a misuse-200 slab)",
		   (void *)past);
}

Test(slab_misuse, cache_free_of_a_kmalloc_page_block, .signal = SIGABRT)
{
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("misuse-64", 64, 8);
	void *p = kmm_kmalloc(4 * PG);
	cr_assert_not_null(p);
	abort_with((struct misuse){ c, p },
		   "kmm: kmem_cache_free(misuse-64): invalid pointer %p (in a block of whole pages, not a slab)", p);
}

Test(slab_misuse, cache_free_of_a_stack_address, .signal = SIGABRT)
{
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("misuse-64", 64, 8);
	char local[64] __attribute__((aligned(64)));
	memset(local, 0, sizeof local);
	abort_with((struct misuse){ c, local }, "kmm: kmem_cache_free(misuse-64): invalid pointer %p (not in kmm's memory)",
		   (void *)local);
}

Test(slab_misuse, kfree_inside_a_page_block, .signal = SIGABRT)
{
	char *p = kmm_kmalloc(4 * PG);
	cr_assert_not_null(p);
	abort_with((struct misuse){ NULL, p + PG },
		   "kmm: kfree(): invalid pointer %p (4096 bytes into the 4-page kmalloc block at %p)", (void *)(p + PG),
		   (void *)p);
}

Test(slab_misuse, kfree_misaligned_in_a_page_block, .signal = SIGABRT)
{
	char *p = kmm_kmalloc(2 * PG);
	cr_assert_not_null(p);
	abort_with((struct misuse){ NULL, p + 12 }, "kmm: kfree(): invalid pointer %p (misaligned)", (void *)(p + 12));
}

Test(slab_misuse, kfree_inside_a_kmalloc_object, .signal = SIGABRT)
{
	char *p = kmm_kmalloc(100);     /* kmalloc-128 */
	cr_assert_not_null(p);
	abort_with((struct misuse){ NULL, p + 64 },
		   "kmm: kfree(): invalid pointer %p (64 bytes into object %zu of a kmalloc-128 slab)", (void *)(p + 64),
		   object_index(p));
}

Test(slab_misuse, kfree_of_a_vmalloc_frame, .signal = SIGABRT)
{
	void *f = a_vmalloc_frame();
	abort_with((struct misuse){ NULL, f }, "kmm: kfree(): invalid pointer %p (in a page of a vmalloc area)", f);
}

Test(slab_misuse, kfree_of_a_vmalloc_area, .signal = SIGABRT)
{
	void *v = kmm_vmalloc(64 * 1024, NULL);
	cr_assert_not_null(v);
	abort_with((struct misuse){ NULL, v }, "kmm: kfree(): invalid pointer %p (in vmalloc space, not a slab)", v);
}

Test(slab_misuse, kfree_of_a_free_page, .signal = SIGABRT)
{
	/* a large kmalloc block freed twice: its frames are free */
	void *p = kmm_kmalloc(4 * PG);
	cr_assert_not_null(p);
	kmm_kfree(p);
	abort_with((struct misuse){ NULL, p }, "kmm: kfree(): invalid pointer %p (in a free page)", p);
}

Test(slab_misuse, kfree_of_a_sections_descriptors, .signal = SIGABRT)
{
	kmm_kfree(kmm_kmalloc(8));     /* a section exists */
	char *hdr = kmm_zone.sections->base + 64;
	abort_with((struct misuse){ NULL, hdr },
		   "kmm: kfree(): invalid pointer %p (in the header or page descriptors of a memory section)",
		   (void *)hdr);
}

Test(slab_misuse, kfree_of_a_stack_address, .signal = SIGABRT)
{
	kmm_kfree(kmm_kmalloc(8));
	char local[64] __attribute__((aligned(64)));
	memset(local, 0, sizeof local);
	abort_with((struct misuse){ NULL, local }, "kmm: kfree(): invalid pointer %p (not in kmm's memory)",
		   (void *)local);
}

Test(slab_misuse, kfree_of_a_global, .signal = SIGABRT)
{
	kmm_kfree(kmm_kmalloc(8));
	abort_with((struct misuse){ NULL, a_global }, "kmm: kfree(): invalid pointer %p (not in kmm's memory)",
		   (void *)a_global);
}

Test(slab_misuse, kfree_of_null_plus_one, .signal = SIGABRT)
{
	kmm_kfree(kmm_kmalloc(8));
	abort_with((struct misuse){ NULL, (char *)NULL + 1 }, "kmm: kfree(): invalid pointer %p (not in kmm's memory)",
		   (void *)((char *)NULL + 1));
}

/* A new cache "df-64" whose first 8 objects o[0..7] were allocated, then
 * freed in that order. */
static struct kmm_kmem_cache *eight_freed(void *o[8])
{
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("df-64", 64, 8);
	for (int i = 0; i < 8; i++)
		o[i] = kmm_kmem_cache_alloc(c);
	for (int i = 0; i < 8; i++)
		kmm_kmem_cache_free(c, o[i]);
	return c;
}

Test(slab_misuse, double_free_within_the_first_freelist_entries, .signal = SIGABRT)
{
	/* freed 0..7: the active slab's freelist starts 7, 6, 5, 4 */
	void *o[8];
	struct kmm_kmem_cache *c = eight_freed(o);
	abort_with((struct misuse){ c, o[4] },
		   "kmm: kmem_cache_free(df-64): double free of %p (already on its slab's freelist)", o[4]);
}

Test(slab_misuse, double_free_into_an_all_free_slab, .signal = SIGABRT)
{
	/* o[0] is 8th on the freelist, but no object of the slab is in use */
	void *o[8];
	struct kmm_kmem_cache *c = eight_freed(o);
	abort_with((struct misuse){ c, o[0] },
		   "kmm: kmem_cache_free(df-64): double free of %p (every object of its slab is free)", o[0]);
}

/* Fill a slab of c and start the next: the first slab, full, is no longer
 * the thread's active one (its frees are "remote"). */
static void **fill_a_slab(struct kmm_kmem_cache *c)
{
	void **o = calloc(c->objects + 1, sizeof *o);
	for (unsigned i = 0; i <= c->objects; i++)
		o[i] = kmm_kmem_cache_alloc(c);
	cr_assert_neq(kmm_virt_to_head_page(o[0]), kmm_virt_to_head_page(o[c->objects]));
	for (unsigned i = 1; i < c->objects; i++)
		cr_assert_eq(kmm_virt_to_head_page(o[i]), kmm_virt_to_head_page(o[0]));
	return o;
}

Test(slab_misuse, double_free_into_another_slab, .signal = SIGABRT)
{
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("df-64", 64, 8);
	void **o = fill_a_slab(c);
	kmm_kmem_cache_free(c, o[0]);
	kmm_kmem_cache_free(c, o[3]);
	kmm_kmem_cache_free(c, o[5]);     /* the slab's freelist: 5, 3, 0 */
	cr_assert_eq(c->free_remote, 3);
	abort_with((struct misuse){ c, o[0] },
		   "kmm: kmem_cache_free(df-64): double free of %p (already on its slab's freelist)", o[0]);
}

Test(slab_misuse, double_free_into_another_all_free_slab, .signal = SIGABRT)
{
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("df-64", 64, 8);
	void **o = fill_a_slab(c);
	for (unsigned i = 0; i < c->objects; i++)
		kmm_kmem_cache_free(c, o[i]);
	cr_assert_eq(c->nr_slabs, 2, "the empty slab stays (min_partial)");
	abort_with((struct misuse){ c, o[1] },
		   "kmm: kmem_cache_free(df-64): double free of %p (every object of its slab is free)", o[1]);
}

Test(slab_misuse, kfree_double_free_names_the_cache, .signal = SIGABRT)
{
	void *a = kmm_kmalloc(40), *b = kmm_kmalloc(40);
	kmm_kfree(a);
	kmm_kfree(b);
	abort_with((struct misuse){ NULL, a },
		   "kmm: kfree(): double free of %p (kmalloc-64, already on its slab's freelist)", a);
}

/* slab_debug=on: every entry of both freelists */

Test(slab_misuse, slab_debug_finds_a_double_free_deep_in_the_freelist, .signal = SIGABRT)
{
	cr_assert_eq(kmm_kernel_param_set(KMM_KP_SLAB_DEBUG, 1), 1);
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("dbg-64", 64, 8);
	void *o[30];
	for (int i = 0; i < 30; i++)
		o[i] = kmm_kmem_cache_alloc(c);
	for (int i = 0; i < 20; i++)
		kmm_kmem_cache_free(c, o[i]);
	/* o[0] is 20th on the freelist, 10 objects are still in use */
	abort_with((struct misuse){ c, o[0] },
		   "kmm: kmem_cache_free(dbg-64): double free of %p (already on its slab's freelist)", o[0]);
}

static void *free_it(void *arg)
{
	struct misuse *m = arg;
	kmm_kmem_cache_free(m->c, m->p);
	kmm_slab_thread_exit();
	return NULL;
}

Test(slab_misuse, slab_debug_finds_a_remote_free_freed_again, .signal = SIGABRT)
{
	/* another thread freed o[2] (onto the slab's own freelist); this
	 * thread, whose active slab it is, frees it again */
	cr_assert_eq(kmm_kernel_param_set(KMM_KP_SLAB_DEBUG, 1), 1);
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("dbg-64", 64, 8);
	void *o[4];
	for (int i = 0; i < 4; i++)
		o[i] = kmm_kmem_cache_alloc(c);
	pthread_t t;
	struct misuse m = { c, o[2] };
	cr_assert_eq(pthread_create(&t, NULL, free_it, &m), 0);
	pthread_join(t, NULL);
	cr_assert_eq(c->free_remote, 1);
	abort_with((struct misuse){ c, o[2] },
		   "kmm: kmem_cache_free(dbg-64): double free of %p (already on its slab's freelist)", o[2]);
}

Test(slab_misuse, slab_debug_finds_a_write_after_free, .signal = SIGABRT)
{
	/* the freelist word of a freed object overwritten: the next
	 * allocation after it would follow the word */
	cr_assert_eq(kmm_kernel_param_set(KMM_KP_SLAB_DEBUG, 1), 1);
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("dbg-64", 64, 8);
	void *a = kmm_kmem_cache_alloc(c), *b = kmm_kmem_cache_alloc(c);
	kmm_kmem_cache_free(c, a);
	kmm_kmem_cache_free(c, b);
	*(volatile uintptr_t *)b = 0x4141414141414141ull;
	uintptr_t entry = 0x4141414141414141ull ^ c->random ^ __builtin_bswap64((uint64_t)(uintptr_t)b);
	char want[200];
	snprintf(want, sizeof want,
		 "kmm: kmem_cache(dbg-64): freelist of the slab at %p corrupted (entry %p is not one of its objects; "
		 "a write after free?)\n",
		 kmm_page_address(kmm_virt_to_head_page(b)), (void *)entry);
	int fd[2];
	cr_assert_eq(pipe(fd), 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 2);
		kmm_kmem_cache_alloc(c);
		_exit(0);
	}
	close(fd[1]);
	char got[300];
	ssize_t n = read(fd[0], got, sizeof got - 1);
	got[n > 0 ? n : 0] = '\0';
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %#x, stderr: %s", (unsigned)st, got);
	cr_assert_str_eq(got, want);
	kmm_kmem_cache_alloc(c);
}

/* ---- no false alarm ---------------------------------------------------------------- */

/* Fill `nslabs` slabs of c and free every object in a random order: the
 * slab that stays active takes its frees on the fast path, the others on
 * the remote path, down to empty. */
static void free_in_random_order(struct kmm_kmem_cache *c, unsigned nslabs, uint64_t seed)
{
	size_t n = (size_t)c->objects * nslabs;
	void **o = malloc(n * sizeof *o);
	uint64_t rs = seed;
	for (size_t i = 0; i < n; i++) {
		o[i] = kmm_kmem_cache_alloc(c);
		cr_assert_not_null(o[i]);
		fill(o[i], c->object_size, i);
	}
	for (size_t i = n; i > 1; i--) {
		size_t j = rng_below(&rs, i);
		void *t = o[i - 1];
		o[i - 1] = o[j];
		o[j] = t;
	}
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(kmm_ksize(o[i]), c->object_size);
		kmm_kmem_cache_free(c, o[i]);
	}
	cr_assert_eq(kmm_slab_check(1), 0, "%s (seed %llu)", c->name, (unsigned long long)seed);
	free(o);
}

static void free_everything_in_random_order(void)
{
	static const size_t sizes[] = { 8, 24, 64, 200, 700, 3000, 9000 };
	static char names[7][16];
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		snprintf(names[i], sizeof names[i], "rnd-%zu", sizes[i]);
		struct kmm_kmem_cache *c = kmm_kmem_cache_create(names[i], sizes[i], 8);
		cr_assert_not_null(c);
		for (uint64_t seed = 1; seed <= 3; seed++)
			free_in_random_order(c, 3, seed * 100 + i);
		cr_assert(c->free_remote > 0 && c->free_fast > 0, "%s: both paths taken", c->name);
	}
	/* kmalloc: objects of every size and page blocks, freed in random order */
	random_kmalloc(11, 20000, NULL);
}

Test(slab, valid_frees_in_any_order_raise_no_alarm)
{
	free_everything_in_random_order();
	CHECK_SLAB();
}

Test(slab, valid_frees_in_any_order_raise_no_alarm_with_slab_debug)
{
	cr_assert_eq(kmm_kernel_param_set(KMM_KP_SLAB_DEBUG, 1), 1);
	free_everything_in_random_order();
	CHECK_SLAB();
}

Test(slab, kfree_takes_an_object_of_any_cache)
{
	/* as Linux's kfree does: the object goes back to its own cache */
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("any-200", 200, 8);
	void *a = kmm_kmem_cache_alloc(c), *b = kmm_kmem_cache_alloc(c);
	cr_assert(a && b);
	cr_assert_eq(kmm_ksize(a), 200);
	uint64_t fast = c->free_fast;
	kmm_kfree(a);
	cr_assert_eq(c->free_fast, fast + 1, "freed into any-200");
	cr_assert_eq(kmm_kmem_cache_alloc(c), a);
	kmm_kfree(a);
	kmm_kmem_cache_free(c, b);
	CHECK_SLAB();
}

Test(kmalloc, ksize_of_what_kmalloc_did_not_hand_out_is_zero)
{
	char local[64] __attribute__((aligned(64)));
	char *obj = kmm_kmalloc(100), *blk = kmm_kmalloc(4 * PG);
	cr_assert(obj && blk);
	cr_assert_eq(kmm_ksize(obj), 128);
	cr_assert_eq(kmm_ksize(blk), 4 * PG);
	cr_assert_eq(kmm_ksize(NULL), 0);
	cr_assert_eq(kmm_ksize((char *)NULL + 1), 0);
	cr_assert_eq(kmm_ksize(local), 0);
	cr_assert_eq(kmm_ksize(a_global), 0);
	cr_assert_eq(kmm_ksize(obj + 8), 0, "inside an object");
	cr_assert_eq(kmm_ksize(obj + 3), 0, "misaligned");
	cr_assert_eq(kmm_ksize(blk + PG), 0, "inside a page block");
	cr_assert_eq(kmm_ksize(kmm_zone.sections->base + 64), 0, "a section's header");
	cr_assert_eq(kmm_ksize(a_vmalloc_frame()), 0, "a frame of a vmalloc area");
	void *v = kmm_vmalloc(PG, NULL);
	cr_assert_eq(kmm_ksize(v), 0, "a vmalloc area");
	kmm_kfree(blk);
	cr_assert_eq(kmm_ksize(blk), 0, "a free page");
	kmm_kfree(obj);
	CHECK_SLAB();
}

Test(slab, big_objects_one_per_slab)
{
	/* 64 KiB objects (the trace log's buffers): one per order-4 slab */
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("big-64k", 65536, 64);
	cr_assert_not_null(c);
	cr_assert_eq(c->order, 4);
	cr_assert_eq(c->objects, 1);
	char *o[3];
	for (int i = 0; i < 3; i++) {
		o[i] = kmm_kmem_cache_alloc(c);
		cr_assert_not_null(o[i]);
		memset(o[i], 0x5a, 65536);
	}
	cr_assert(o[0] != o[1] && o[1] != o[2] && o[0] != o[2]);
	CHECK_SLAB();
	for (int i = 0; i < 3; i++)
		kmm_kmem_cache_free(c, o[i]);
	CHECK_SLAB();
	/* what no slab can hold is refused, not half made */
	errno = 0;
	cr_assert_null(kmm_kmem_cache_create("too-big", ((size_t)4 << 20) + 1, 8));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(kmm_kmem_cache_create("bad-align", 64, 24));
	cr_assert_null(kmm_kmem_cache_create("zero", 0, 8));
}

Test(slab, cache_slots_run_out_cleanly)
{
	struct kmm_kmem_cache *made[KMM_MAX_CACHES + 1];
	size_t n = 0;
	static char names[KMM_MAX_CACHES + 1][24];   /* caches keep their names */
	errno = 0;
	for (;;) {
		snprintf(names[n], sizeof names[n], "slot-%zu", n);
		struct kmm_kmem_cache *c = kmm_kmem_cache_create(names[n], 32 + 8 * n, 8);
		if (c == NULL)
			break;
		cr_assert(n < KMM_MAX_CACHES, "more caches than slots");
		made[n++] = c;
	}
	cr_assert_eq(errno, ENOMEM);
	/* kmem_cache and the 13 kmalloc caches take 14 slots */
	cr_assert_eq(n, KMM_MAX_CACHES - 1 - NCLASSES, "%zu caches could be created", n);
	cr_assert_eq(kmm_slab_check(1), 0);
	for (size_t i = 0; i < n; i++) {
		void *a = kmm_kmem_cache_alloc(made[i]), *b = kmm_kmem_cache_alloc(made[i]);
		cr_assert(a && b && a != b, "cache %zu works", i);
		memset(a, 1, made[i]->object_size);
		memset(b, 2, made[i]->object_size);
		kmm_kmem_cache_free(made[i], a);
		kmm_kmem_cache_free(made[i], b);
	}
	CHECK_SLAB();
}

/* ---- empty slabs go back ------------------------------------------------------------ */

static void drain_test(struct kmm_kmem_cache *c, size_t nobj, uint64_t seed, bool use_kmalloc, size_t ksz)
{
	void **o = malloc(nobj * sizeof *o);
	uint64_t rs = seed;
	cr_assert_not_null(o);
	size_t slabs0 = c->nr_slabs;
	uint64_t freed0 = c->slabs_freed;
	for (size_t i = 0; i < nobj; i++) {
		o[i] = use_kmalloc ? kmm_kmalloc(ksz) : kmm_kmem_cache_alloc(c);
		cr_assert_not_null(o[i]);
	}
	size_t want = (nobj + c->objects - 1) / c->objects;
	cr_assert(c->nr_slabs >= slabs0 + want - 1 && c->nr_slabs <= slabs0 + want + 1,
		  "%s: %zu slabs for %zu objects of %u per slab", c->name, c->nr_slabs, nobj, c->objects);
	size_t peak = c->nr_slabs;
	size_t free_mid = kmm_zone.free_pages;
	/* free in random order */
	for (size_t i = nobj; i > 1; i--) {
		size_t j = rng_below(&rs, i);
		void *t = o[i - 1];
		o[i - 1] = o[j];
		o[j] = t;
	}
	for (size_t i = 0; i < nobj; i++) {
		if (use_kmalloc)
			kmm_kfree(o[i]);
		else
			kmm_kmem_cache_free(c, o[i]);
	}
	/* at most min_partial empty slabs stay, besides the thread's active one */
	cr_assert(c->nr_slabs <= c->min_partial + 1, "%s: %zu slabs left after freeing everything (min_partial %u)",
		  c->name, c->nr_slabs, c->min_partial);
	cr_assert(c->slabs_freed - freed0 >= peak - c->min_partial - 1, "%s: only %llu slabs freed", c->name,
		  (unsigned long long)(c->slabs_freed - freed0));
	size_t back = (peak - c->nr_slabs) << c->order;
	cr_assert(kmm_zone.free_pages >= free_mid + back, "%s: the buddy allocator got %zu pages back, want %zu",
		  c->name, kmm_zone.free_pages - free_mid, back);
	cr_assert_eq(kmm_slab_check(1), 0);
	free(o);
}

Test(slab, empty_slabs_go_back_to_the_buddy)
{
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("drain-256", 256, 8);
	cr_assert_not_null(c);
	cr_assert_eq(c->objects, 16);
	cr_assert_eq(c->min_partial, 4);
	drain_test(c, 1600, 3, false, 0);

	struct kmm_kmem_cache *k1024 = kmalloc_cache_of(1000);
	cr_assert_str_eq(k1024->name, "kmalloc-1024");
	cr_assert_eq(k1024->min_partial, 2);
	drain_test(k1024, 777, 4, true, 1000);

	struct kmm_kmem_cache *k8192 = kmalloc_cache_of(8000);
	drain_test(k8192, 300, 5, true, 8000);

	/* the thread's active slabs back too: now at most min_partial */
	kmm_slab_thread_exit();
	cr_assert(c->nr_slabs <= c->min_partial, "%zu slabs", c->nr_slabs);
	cr_assert(k1024->nr_slabs <= k1024->min_partial, "%zu slabs", k1024->nr_slabs);
	cr_assert(k8192->nr_slabs <= k8192->min_partial, "%zu slabs", k8192->nr_slabs);
	struct slabinfo_row rows[KMM_MAX_CACHES];
	size_t nr = read_slabinfo(rows, KMM_MAX_CACHES);
	struct slabinfo_row *r = find_row(rows, nr, "drain-256");
	cr_assert_not_null(r);
	cr_assert_eq(r->active_objs, 0, "nothing allocated: %s", slabinfo_text);
	cr_assert_eq(r->num_slabs, c->nr_slabs);
	cr_assert_eq(kmm_slab_check(1), 0);

	/* an exited thread can still allocate and free (from partial slabs) */
	void *p = kmm_kmem_cache_alloc(c), *q = kmm_kmalloc(1000);
	cr_assert(p && q);
	memset(p, 1, 256);
	memset(q, 2, 1000);
	cr_assert_eq(kmm_slab_check(1), 0);
	kmm_kmem_cache_free(c, p);
	kmm_kfree(q);
	CHECK_SLAB();
}

/* ---- slabinfo ----------------------------------------------------------------------- */

Test(slab, slabinfo_lines_consistent)
{
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("info-cache", 500, 8);
	cr_assert_not_null(c);
	enum { N = 45 };
	void *o[N];
	for (int i = 0; i < N; i++)
		o[i] = kmm_kmem_cache_alloc(c);
	void *k[100];
	for (int i = 0; i < 100; i++)
		k[i] = kmm_kmalloc(40);   /* kmalloc-64 */

	struct slabinfo_row rows[KMM_MAX_CACHES];
	size_t nr = read_slabinfo(rows, KMM_MAX_CACHES);
	cr_assert_eq(nr, NCLASSES + 2, "kmem_cache, 13 kmalloc caches and ours:\n%s", slabinfo_text);
	cr_assert_not_null(find_row(rows, nr, "kmem_cache"));
	for (size_t i = 0; i < NCLASSES; i++) {
		char name[32];
		snprintf(name, sizeof name, "kmalloc-%zu", classes[i]);
		struct slabinfo_row *r = find_row(rows, nr, name);
		cr_assert_not_null(r, "no line for %s", name);
		cr_assert_eq(r->objsize, classes[i], "%s objsize", name);
	}
	struct slabinfo_row *r = find_row(rows, nr, "info-cache");
	cr_assert_not_null(r);
	cr_assert_eq(r->objsize, c->size);
	cr_assert_eq(r->objperslab, c->objects);
	cr_assert_eq(r->pagesperslab, (size_t)1 << c->order);
	cr_assert_eq(r->num_slabs, c->nr_slabs);
	cr_assert_eq(r->num_slabs, (N + c->objects - 1) / c->objects);
	/* objects on the thread's private list count as active (as in SLUB) */
	cr_assert(r->active_objs >= N, "active %zu < %d", r->active_objs, N);
	struct slabinfo_row *r64 = find_row(rows, nr, "kmalloc-64");
	cr_assert(r64->active_objs >= 100);

	size_t total = 0;
	for (size_t i = 0; i < nr; i++)
		total += rows[i].num_slabs * rows[i].pagesperslab * PG;
	cr_assert_eq(kmm_slab_total_bytes(), total);

	/* with the active slabs given back, active counts are exact */
	kmm_slab_thread_exit();
	nr = read_slabinfo(rows, KMM_MAX_CACHES);
	r = find_row(rows, nr, "info-cache");
	cr_assert_eq(r->active_objs, N, "%s", slabinfo_text);
	r64 = find_row(rows, nr, "kmalloc-64");
	cr_assert_eq(r64->active_objs, 100, "%s", slabinfo_text);
	for (int i = 0; i < N; i += 2)
		kmm_kmem_cache_free(c, o[i]);
	nr = read_slabinfo(rows, KMM_MAX_CACHES);
	r = find_row(rows, nr, "info-cache");
	cr_assert_eq(r->active_objs, N / 2, "%s", slabinfo_text);
	for (int i = 1; i < N; i += 2)
		kmm_kmem_cache_free(c, o[i]);
	for (int i = 0; i < 100; i++)
		kmm_kfree(k[i]);
	nr = read_slabinfo(rows, KMM_MAX_CACHES);
	r = find_row(rows, nr, "info-cache");
	cr_assert_eq(r->active_objs, 0);
	cr_assert(r->num_slabs <= c->min_partial);
	CHECK_SLAB();
}

/* ---- threads: remote frees and thread exit ------------------------------------------ */

enum { NTHREADS = 4, THREAD_OPS = 40000, MAILBOX = 512 };

static struct {
	pthread_mutex_t lock;
	struct obj slot[MAILBOX];
	size_t n;
} mailbox = { PTHREAD_MUTEX_INITIALIZER, { { 0 } }, 0 };

static struct kmm_kmem_cache *shared_cache;
static int thread_failed;
static char thread_error[256];
static uint64_t remote_handoffs;

static void thread_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void thread_fail(const char *fmt, ...)
{
	if (__atomic_exchange_n(&thread_failed, 1, __ATOMIC_ACQ_REL))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(thread_error, sizeof thread_error, fmt, ap);
	va_end(ap);
}

static void free_obj(struct obj *o)
{
	if (o->cache)
		kmm_kmem_cache_free(o->cache, o->p);
	else
		kmm_kfree(o->p);
}

static void *slab_thread(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg, rs = seed;
	enum { MAX_LIVE = 600 };
	struct obj *live = calloc(MAX_LIVE, sizeof *live);
	size_t n = 0;

	for (unsigned op = 0; op < THREAD_OPS && !__atomic_load_n(&thread_failed, __ATOMIC_RELAXED); op++) {
		size_t r = rng_below(&rs, 100);
		if (n == 0 || (n < MAX_LIVE && r < 45)) {
			struct obj o = { NULL, 0, rng_next(&rs), NULL };
			if (rng_below(&rs, 3) == 0) {
				o.cache = shared_cache;
				o.size = shared_cache->object_size;
				o.p = kmm_kmem_cache_alloc(shared_cache);
			} else {
				o.size = random_size(&rs, false);
				o.p = kmm_kmalloc(o.size);
			}
			if (o.p == NULL) {
				thread_fail("thread %llu: allocation of %zu failed", (unsigned long long)seed, o.size);
				break;
			}
			fill(o.p, o.size, o.seed);
			live[n++] = o;
		} else if (r < 80) {
			size_t i = rng_below(&rs, n);
			if (!verify(live[i].p, live[i].size, live[i].seed))
				thread_fail("thread %llu op %u: object %p (%zu bytes) overwritten", (unsigned long long)seed,
					    op, (void *)live[i].p, live[i].size);
			free_obj(&live[i]);
			live[i] = live[--n];
		} else {
			/* exchange with other threads: take one of theirs and free
			 * it here (a remote free), or hand one of ours over */
			struct obj got = { NULL, 0, 0, NULL };
			size_t i = rng_below(&rs, n);
			pthread_mutex_lock(&mailbox.lock);
			if (mailbox.n > 0 && rng_below(&rs, 2) == 0) {
				size_t k = rng_below(&rs, mailbox.n);
				got = mailbox.slot[k];
				mailbox.slot[k] = mailbox.slot[--mailbox.n];
			} else if (mailbox.n < MAILBOX) {
				mailbox.slot[mailbox.n++] = live[i];
				live[i] = live[--n];
			}
			pthread_mutex_unlock(&mailbox.lock);
			if (got.p != NULL) {
				if (!verify(got.p, got.size, got.seed))
					thread_fail("thread %llu: object %p from another thread overwritten",
						    (unsigned long long)seed, (void *)got.p);
				free_obj(&got);
				__atomic_add_fetch(&remote_handoffs, 1, __ATOMIC_RELAXED);
			}
		}
	}
	/* leave some objects behind for others to free after this thread exited */
	for (size_t i = 0; i < n; i++) {
		if (!verify(live[i].p, live[i].size, live[i].seed))
			thread_fail("thread %llu: object %p overwritten at exit", (unsigned long long)seed, (void *)live[i].p);
		bool handed = false;
		if (i % 4 == 0) {
			pthread_mutex_lock(&mailbox.lock);
			if (mailbox.n < MAILBOX) {
				mailbox.slot[mailbox.n++] = live[i];
				handed = true;
			}
			pthread_mutex_unlock(&mailbox.lock);
		}
		if (!handed)
			free_obj(&live[i]);
	}
	free(live);
	kmm_slab_thread_exit();   /* what the heap's thread-exit path does */
	return NULL;
}

static void run_threads(uint64_t seed)
{
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, slab_thread, (void *)(uintptr_t)(seed * 100 + (uint64_t)i)), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	cr_assert(!thread_failed, "%s (seed %llu)", thread_error, (unsigned long long)seed);
}

static void threads_round_trip(void);

Test(slab_threads, remote_frees_and_thread_exit, .timeout = 60)
{
	threads_round_trip();
}

/* the double free checks raise no false alarm while other threads free
 * into this thread's active slabs */
Test(slab_threads, remote_frees_and_thread_exit_with_slab_debug, .timeout = 60)
{
	cr_assert_eq(kmm_kernel_param_set(KMM_KP_SLAB_DEBUG, 1), 1);
	threads_round_trip();
}

static void threads_round_trip(void)
{
	shared_cache = kmm_kmem_cache_create("shared-72", 72, 8);
	cr_assert_not_null(shared_cache);
	run_threads(1);
	cr_assert_eq(kmm_slab_check(1), 0, "after the first round of threads");
	/* a second round frees what the first left behind, from new threads */
	run_threads(2);
	cr_assert(remote_handoffs > 1000, "only %llu objects changed threads", (unsigned long long)remote_handoffs);
	cr_assert(shared_cache->free_remote > 0);
	cr_assert_eq(kmm_slab_check(1), 0, "after joining");

	/* the main thread frees what the exited threads left in the mailbox */
	for (size_t i = 0; i < mailbox.n; i++) {
		cr_assert(verify(mailbox.slot[i].p, mailbox.slot[i].size, mailbox.slot[i].seed),
			  "object left by an exited thread was overwritten");
		free_obj(&mailbox.slot[i]);
	}
	mailbox.n = 0;
	cr_assert_eq(kmm_slab_check(1), 0);

	/* nothing is allocated any more: no active object in any kmalloc
	 * cache or the shared one, and at most min_partial slabs each */
	struct slabinfo_row rows[KMM_MAX_CACHES];
	size_t nr = read_slabinfo(rows, KMM_MAX_CACHES);
	for (size_t i = 0; i < nr; i++) {
		if (strcmp(rows[i].name, "kmem_cache") == 0)
			continue;
		cr_assert_eq(rows[i].active_objs, 0, "%s: %zu objects still active after everything was freed:\n%s",
			     rows[i].name, rows[i].active_objs, slabinfo_text);
	}
	cr_assert(shared_cache->nr_slabs <= shared_cache->min_partial, "shared cache keeps %zu slabs",
		  shared_cache->nr_slabs);
	for (size_t i = 0; i < NCLASSES; i++) {
		struct kmm_kmem_cache *c = kmalloc_cache_of(classes[i]);
		cr_assert(c->nr_slabs <= c->min_partial + 1, "%s keeps %zu slabs", c->name, c->nr_slabs);
	}
	CHECK_SLAB();
}

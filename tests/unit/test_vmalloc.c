/*
 * test_vmalloc.c — the vmalloc-style region allocator of the kernel side
 * (src/kernel/vmalloc.c): lowest-match search against a linear scan after
 * random sequences, guard pages, alignment and contents, merging of freed
 * ranges, the lazy-free bound and reuse, vrealloc in place / moved /
 * shrunk, kmm_vmalloc_zero, the vmallocinfo report, the populate option,
 * and fork from a multi-threaded process.
 *
 * criterion runs every Test() in a fresh process (kmm's constructor has
 * registered its fork handlers there too, see src/init.c).  Every test ends
 * with kmm_vmalloc_check(1) and kmm_kernel_check(1) (the kernel side's checkers) returning 0.  Random tests print
 * their seed in every failure message.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel/kernel.h"
#include "kernel/page_alloc.h"
#include "kernel/region.h"
#include "kernel/slab.h"
#include "kernel/vmalloc.h"
#include "util/format.h"
#include "ktest.h"

#define CALLER ((const void *)__builtin_return_address(0))

#define CHECK_VMALLOC() do { \
	cr_assert_eq(kmm_vmalloc_check(1), 0, "vmalloc invariants violated (see stderr)"); \
	cr_assert_eq(kmm_kernel_check(1), 0, "kernel-side invariants violated (see stderr)"); \
} while (0)

/* ---- helpers ---------------------------------------------------------------- */

/* The two ways of backing an area (vmalloc.h): frames moved in with mremap
 * (vmalloc_frames=on) and demand-paged areas (off).  BOTH_MODES defines a
 * test twice, NAME_frames and NAME_demand, each running the body below it
 * in its mode; the rest say which mode they test. */
static void frames_mode(void)
{
	kmm_vmalloc_params.frames = true;
}

static void demand_mode(void)
{
	kmm_vmalloc_params.frames = false;
}

#define BOTH_MODES(suite, name, ...) \
	static void name##_body(void); \
	Test(suite, name##_frames, ##__VA_ARGS__) { frames_mode(); name##_body(); } \
	Test(suite, name##_demand, ##__VA_ARGS__) { demand_mode(); name##_body(); } \
	static void name##_body(void)

/* Tests that need freed areas to stay lazily freed fix the lazy pool's
 * size instead of relying on the automatic cache budget. */
static void keep_lazy(void)
{
	kmm_vmalloc_params.lazy_max = 64 * MiB;
}

static size_t round_pages(size_t n)
{
	return (n + PG - 1) & ~(PG - 1);
}

static struct kmm_vmalloc_stats stats(void)
{
	struct kmm_vmalloc_stats st;
	kmm_vmalloc_stats(&st);
	return st;
}

static size_t resident_pages(const void *addr, size_t len)
{
	size_t n = (len + PG - 1) / PG, count = 0;
	unsigned char *vec = malloc(n);
	cr_assert_not_null(vec);
	cr_assert_eq(mincore((void *)addr, len, vec), 0, "mincore(%p, %zu): %s", addr, len, strerror(errno));
	for (size_t i = 0; i < n; i++)
		count += vec[i] & 1;
	free(vec);
	return count;
}

/* Fork a child that writes one byte at addr; returns its wait status. */
static int child_writes(volatile char *addr)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		*addr = 1;
		_exit(0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* The area at p: its last mapped byte is writable, the byte after it (the
 * guard page) is not. */
static void check_guard(char *p, const char *what)
{
	size_t mapped = kmm_vmalloc_size(p);
	cr_assert(mapped > 0, "%s: %p is not an area", what, (void *)p);
	int st = child_writes(p + mapped - 1);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: writing the last byte of the area failed (status %#x)",
		  what, st);
	st = child_writes(p + mapped);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
		  "%s: writing one byte past the %zu mapped bytes did not die with SIGSEGV (status %#x)", what, mapped,
		  st);
	st = child_writes(p + mapped + PG - 1);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "%s: the whole guard page faults (status %#x)", what, st);
}

/* Per-page stamps: cheaper than a full pattern for big areas, still
 * catches pages mapped at the wrong place or lost.  A stamp (8 bytes at the
 * start of a page) is written where it lies wholly before the last byte,
 * which gets a byte of its own. */
static void stamp(char *p, size_t size, uint64_t tag)
{
	for (size_t off = 0; off + sizeof(uint64_t) < size; off += PG)
		*(uint64_t *)(p + off) = tag ^ (off / PG);
	p[size - 1] = (char)tag;
}

static int stamps_ok(const char *p, size_t size, uint64_t tag)
{
	if (p[size - 1] != (char)tag)
		return 0;
	for (size_t off = 0; off + sizeof(uint64_t) < size; off += PG)
		if (*(const uint64_t *)(p + off) != (tag ^ (off / PG)))
			return 0;
	return 1;
}

static const size_t probe_sizes[] = { PG, 2 * PG, 3 * PG, 17 * PG, 256 * PG, MiB + PG, 4 * MiB + PG, 16 * MiB,
				      64 * MiB, (size_t)1 << 30, (size_t)3 << 30 };

static void check_lowest_match(uint64_t seed, unsigned op, uint64_t *rs)
{
	for (size_t i = 0; i < sizeof probe_sizes / sizeof probe_sizes[0]; i++) {
		uintptr_t t = kmm_vmalloc_lowest_match(probe_sizes[i], false);
		uintptr_t l = kmm_vmalloc_lowest_match(probe_sizes[i], true);
		cr_assert_eq(t, l, "op %u: lowest match for %zu: tree %#lx, linear scan %#lx (seed %llu)", op,
			     probe_sizes[i], (unsigned long)t, (unsigned long)l, (unsigned long long)seed);
	}
	for (int k = 0; k < 4; k++) {
		size_t s = (1 + rng_below(rs, 1u << rng_below(rs, 14))) * PG;
		uintptr_t t = kmm_vmalloc_lowest_match(s, false), l = kmm_vmalloc_lowest_match(s, true);
		cr_assert_eq(t, l, "op %u: lowest match for %zu: tree %#lx, linear scan %#lx (seed %llu)", op, s,
			     (unsigned long)t, (unsigned long)l, (unsigned long long)seed);
	}
}

/* ---- random sequences: lowest match, contents, no overlap ------------------------- */

struct area {
	char *p;
	size_t size;     /* bytes asked for */
	uint64_t tag;
};

static size_t random_area_size(uint64_t *rs)
{
	/* log-uniform: 1 page .. 16 MiB, any byte count */
	size_t pages = 1 + rng_below(rs, (size_t)1 << rng_below(rs, 13));
	size_t size = pages * PG - rng_below(rs, PG);
	return size == 0 ? 1 : size;
}

static void random_vmalloc(uint64_t seed, unsigned ops, bool realloc_too)
{
	enum { MAX_LIVE = 48 };
	const size_t max_bytes = 96 * MiB;
	struct area live[MAX_LIVE];
	size_t n = 0, bytes = 0;
	uint64_t rs = seed;

	for (unsigned op = 0; op < ops; op++) {
		size_t r = rng_below(&rs, 100);
		size_t size = random_area_size(&rs);
		if (n == 0 || (n < MAX_LIVE && bytes + size <= max_bytes && r < 50)) {
			struct kmm_vmalloc_stats st0 = stats();
			uintptr_t predicted = kmm_vmalloc_lowest_match(round_pages(size) + PG, false);
			char *p = kmm_vmalloc(size, CALLER);
			cr_assert_not_null(p, "vmalloc(%zu) failed at op %u (seed %llu)", size, op, (unsigned long long)seed);
			cr_assert_eq((uintptr_t)p % PG, 0, "vmalloc(%zu) = %p not page aligned (seed %llu)", size, (void *)p,
				     (unsigned long long)seed);
			size_t mapped = kmm_vmalloc_size(p);
			cr_assert(mapped >= round_pages(size) && mapped % PG == 0,
				  "vmalloc(%zu): %zu bytes mapped (seed %llu)", size, mapped, (unsigned long long)seed);
			struct kmm_vmalloc_stats st1 = stats();
			/* a new area (nothing lazily freed, pages[] in a kmalloc
			 * object) is the lowest free range that fits */
			if (st0.lazy_areas == 0 && predicted != 0 && round_pages(size) / PG <= PG / sizeof(void *))
				cr_assert_eq((uintptr_t)p, predicted,
					     "vmalloc(%zu) = %p, the lowest free range was %#lx (seed %llu)", size,
					     (void *)p, (unsigned long)predicted, (unsigned long long)seed);
			if (st1.reused == st0.reused)
				cr_assert_eq(mapped, round_pages(size), "a new area maps exactly the pages asked for");
			for (size_t i = 0; i < n; i++) {
				size_t m = kmm_vmalloc_size(live[i].p);
				cr_assert(p + mapped + PG <= live[i].p || live[i].p + m + PG <= p,
					  "op %u: area %p (+%zu) overlaps %p (+%zu) (seed %llu)", op, (void *)p, mapped,
					  (void *)live[i].p, m, (unsigned long long)seed);
			}
			struct area a = { p, size, rng_next(&rs) };
			stamp(p, size, a.tag);
			live[n++] = a;
			bytes += size;
		} else if (realloc_too && r < 60) {
			size_t i = rng_below(&rs, n);
			struct area *a = &live[i];
			size_t nsize = rng_below(&rs, 2) ? a->size + rng_below(&rs, 2 * a->size + 1) + 1
							 : 1 + rng_below(&rs, a->size);
			if (bytes - a->size + nsize > max_bytes)
				nsize = a->size;
			cr_assert(stamps_ok(a->p, a->size, a->tag), "area %p lost its contents (seed %llu)", (void *)a->p,
				  (unsigned long long)seed);
			char *q = kmm_vrealloc(a->p, nsize);
			cr_assert_not_null(q, "vrealloc(%p, %zu) (seed %llu)", (void *)a->p, nsize, (unsigned long long)seed);
			cr_assert_eq((uintptr_t)q % PG, 0);
			cr_assert(kmm_vmalloc_size(q) >= round_pages(nsize), "vrealloc to %zu: %zu mapped (seed %llu)", nsize,
				  kmm_vmalloc_size(q), (unsigned long long)seed);
			size_t keep = nsize < a->size ? nsize : a->size;
			/* the stamps of the kept part survive the move */
			for (size_t off = 0; off + sizeof(uint64_t) < keep; off += PG)
				cr_assert_eq(*(uint64_t *)(q + off), a->tag ^ (off / PG),
					     "vrealloc(%zu -> %zu): page %zu lost (seed %llu)", a->size, nsize, off / PG,
					     (unsigned long long)seed);
			bytes = bytes - a->size + nsize;
			a->p = q;
			a->size = nsize;
			stamp(q, nsize, a->tag);
		} else {
			size_t i = rng_below(&rs, n);
			cr_assert(stamps_ok(live[i].p, live[i].size, live[i].tag),
				  "op %u: area %p (%zu bytes) lost its contents (seed %llu)", op, (void *)live[i].p,
				  live[i].size, (unsigned long long)seed);
			kmm_vfree(live[i].p);
			bytes -= live[i].size;
			live[i] = live[--n];
		}
		check_lowest_match(seed, op, &rs);
		if (op % 25 == 24)
			cr_assert_eq(kmm_vmalloc_check(1), 0, "vmalloc check at op %u (seed %llu)", op,
				     (unsigned long long)seed);
	}
	while (n > 0) {
		n--;
		cr_assert(stamps_ok(live[n].p, live[n].size, live[n].tag), "area %p lost its contents (seed %llu)",
			  (void *)live[n].p, (unsigned long long)seed);
		kmm_vfree(live[n].p);
		check_lowest_match(seed, ops + (unsigned)n, &rs);
	}
	cr_assert_eq(kmm_vmalloc_check(1), 0, "after freeing everything (seed %llu)", (unsigned long long)seed);
}

BOTH_MODES(vmalloc_random, lowest_match_seed_1) { random_vmalloc(1, 600, false); CHECK_VMALLOC(); }
BOTH_MODES(vmalloc_random, lowest_match_seed_2) { random_vmalloc(2, 600, false); CHECK_VMALLOC(); }
BOTH_MODES(vmalloc_random, lowest_match_with_vrealloc_seed_3) { random_vmalloc(3, 600, true); CHECK_VMALLOC(); }
BOTH_MODES(vmalloc_random, lowest_match_with_vrealloc_seed_4)
{
	/* small spaces: more of them, ranges up to their ends */
	kmm_vmalloc_params.space_size = 64 * MiB;
	random_vmalloc(4, 500, true);
	cr_assert(stats().spaces > 1, "several 64 MiB spaces were reserved");
	CHECK_VMALLOC();
}

/* ---- freed ranges merge ----------------------------------------------------------- */

BOTH_MODES(vmalloc, freed_ranges_merge_after_purge)
{
	uint64_t rs = 11;
	enum { N = 40 };
	char *p[N];
	for (int i = 0; i < N; i++) {
		/* a few big ones, whose pages[] arrays are vmalloc areas too */
		size_t size = i % 8 == 0 ? 8 * MiB + rng_below(&rs, 8 * MiB) : random_area_size(&rs) % (4 * MiB) + 1;
		p[i] = kmm_vmalloc(size, CALLER);
		cr_assert_not_null(p[i]);
		p[i][0] = 1;
	}
	for (int i = N; i > 1; i--) {
		size_t j = rng_below(&rs, (size_t)i);
		char *t = p[i - 1];
		p[i - 1] = p[j];
		p[j] = t;
	}
	for (int i = 0; i < N; i++) {
		kmm_vfree(p[i]);
		if (i == N / 2)
			cr_assert_eq(kmm_vmalloc_check(1), 0, "half freed");
	}
	struct kmm_vmalloc_stats st = stats();
	cr_assert_eq(st.busy_areas, 0);
	cr_assert_eq(st.busy_bytes, 0);
	/* (a purge may leave the pages[] arrays of the areas it purged lazily
	 * freed: see purge_all_leaves_nothing_lazy; purge until none is) */
	for (int k = 0; k < 4 && (st.lazy_areas > 0 || k == 0); k++) {
		kmm_vmalloc_purge(true);
		st = stats();
	}
	cr_assert_eq(st.lazy_areas, 0);
	cr_assert_eq(st.lazy_bytes, 0);
	cr_assert_eq(st.busy_areas, 0);
	cr_assert_eq(st.free_ranges, st.spaces, "%zu free ranges in %zu spaces: freed ranges did not merge",
		     st.free_ranges, st.spaces);
	cr_assert_eq(st.free_bytes, st.space_bytes);
	CHECK_VMALLOC();
}

Test(vmalloc, purge_all_leaves_nothing_lazy)
{
	frames_mode();
	keep_lazy();
	/* vfree of an 8 MiB area (its pages[] of 2048 entries is a vmalloc
	 * area itself), then purge(true): "all of them" */
	char *p = kmm_vmalloc(8 * MiB, CALLER);
	cr_assert_not_null(p);
	kmm_vfree(p);
	struct kmm_vmalloc_stats st = stats();
	cr_assert_eq(st.lazy_areas, 1);
	cr_assert_eq(st.busy_areas, 1, "the area's pages[] array");
	kmm_vmalloc_purge(true);
	st = stats();
	cr_assert_eq(st.busy_areas, 0);
	cr_assert_eq(st.lazy_areas, 0, "purge(true) left %zu lazily freed area(s), %zu bytes", st.lazy_areas,
		     st.lazy_bytes);
	cr_assert_eq(st.free_ranges, st.spaces, "%zu free ranges in %zu spaces", st.free_ranges, st.spaces);
	CHECK_VMALLOC();
}

BOTH_MODES(vmalloc, freed_ranges_merge_small_areas)
{
	/* areas whose pages[] are kmalloc objects only */
	uint64_t rs = 12;
	enum { N = 200 };
	char *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = kmm_vmalloc(1 + rng_below(&rs, 512 * PG), CALLER);
		cr_assert_not_null(p[i]);
	}
	for (int i = 0; i < N; i += 2)
		kmm_vfree(p[i]);
	kmm_vmalloc_purge(true);
	struct kmm_vmalloc_stats st = stats();
	cr_assert(st.free_ranges > st.spaces, "holes between live areas");
	for (int i = 1; i < N; i += 2)
		kmm_vfree(p[i]);
	kmm_vmalloc_purge(true);
	st = stats();
	cr_assert_eq(st.lazy_areas, 0);
	cr_assert_eq(st.free_ranges, st.spaces, "%zu free ranges in %zu spaces", st.free_ranges, st.spaces);
	cr_assert_eq(st.free_bytes, st.space_bytes);
	cr_assert_eq(kmm_vmalloc_lowest_match(st.space_bytes, false), kmm_vmalloc_lowest_match(st.space_bytes, true));
	cr_assert_neq(kmm_vmalloc_lowest_match(st.space_bytes, false), 0, "the whole space is one free range again");
	CHECK_VMALLOC();
}

BOTH_MODES(vmalloc, free_ranges_of_adjacent_spaces)
{
	/* Two 64 MiB spaces; the OS tends to place the second right below the
	 * first.  Freeing everything must leave the checker content and one
	 * free range per space. */
	kmm_vmalloc_params.space_size = 64 * MiB;
	char *p1 = kmm_vmalloc(40 * MiB, CALLER);
	char *p2 = kmm_vmalloc(40 * MiB, CALLER);
	cr_assert(p1 && p2);
	struct kmm_vmalloc_stats st = stats();
	cr_assert_eq(st.spaces, 2);
	cr_assert_eq(kmm_vmalloc_check(1), 0, "two areas in two spaces");
	kmm_vfree(p1);
	kmm_vfree(p2);
	kmm_vmalloc_purge(true);
	st = stats();
	cr_assert_eq(st.lazy_areas, 0, "%zu lazy areas left by purge(all)", st.lazy_areas);
	cr_assert_eq(kmm_vmalloc_check(1), 0, "all freed and purged: areas at %p and %p (see stderr)", (void *)p1,
		     (void *)p2);
	cr_assert_eq(st.free_ranges, st.spaces, "%zu free ranges in %zu spaces", st.free_ranges, st.spaces);
	CHECK_VMALLOC();
}

/* ---- guard pages, alignment, errors ---------------------------------------------- */

BOTH_MODES(vmalloc_guard, write_past_the_area_dies, .signal = SIGSEGV)
{
	char *p = kmm_vmalloc(3 * PG + 100, CALLER);
	cr_assert_not_null(p);
	size_t mapped = kmm_vmalloc_size(p);
	cr_assert_eq(mapped, 4 * PG);
	p[mapped - 1] = 1;
	*(volatile char *)(p + mapped) = 1;   /* the guard page */
	cr_assert_fail("the guard page after the area was writable");
}

BOTH_MODES(vmalloc_guard, guard_page_after_every_area)
{
	char *a = kmm_vmalloc(1, CALLER);
	char *b = kmm_vmalloc(PG, CALLER);
	char *c = kmm_vmalloc(5 * PG + 1, CALLER);
	char *d = kmm_vmalloc(MiB, CALLER);
	char *e = kmm_vmalloc(8 * MiB, CALLER);
	cr_assert(a && b && c && d && e);
	/* consecutive areas: one guard page apart */
	cr_assert_eq(b, a + PG + PG, "b follows a's guard page");
	cr_assert_eq(c, b + PG + PG);
	check_guard(a, "1 byte");
	check_guard(b, "1 page");
	check_guard(c, "5 pages + 1");
	check_guard(d, "1 MiB");
	check_guard(e, "8 MiB");
	CHECK_VMALLOC();
}

BOTH_MODES(vmalloc_guard, guard_page_after_resizing_and_reuse)
{
	keep_lazy();
	char *p = kmm_vmalloc(MiB, CALLER);
	cr_assert_not_null(p);
	char *q = kmm_vrealloc(p, 2 * MiB);
	cr_assert_eq(q, p, "grown in place");
	check_guard(q, "grown in place");
	q = kmm_vrealloc(q, 256 << 10);
	cr_assert_eq(q, p);
	cr_assert_eq(kmm_vmalloc_size(q), 256 << 10, "shrunk by more than 64 KiB");
	check_guard(q, "shrunk");
	char *blocker = kmm_vmalloc(PG, CALLER);
	cr_assert_eq(blocker, q + (256 << 10) + PG, "the freed tail is the lowest free range");
	char *m = kmm_vrealloc(q, 3 * MiB);
	cr_assert_neq(m, q, "moved");
	check_guard(m, "moved");
	/* the old place is not mapped any more */
	int st = child_writes(q);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "the old place of a moved area still writable");
	kmm_vfree(m);
	char *r = kmm_vmalloc(2 * MiB, CALLER);
	cr_assert_eq(r, m, "the lazily freed area is reused");
	cr_assert(kmm_vmalloc_size(r) >= 2 * MiB);
	check_guard(r, "reused");
	kmm_vfree(blocker);
	CHECK_VMALLOC();
}

BOTH_MODES(vmalloc, zero_size_and_bad_pointers)
{
	keep_lazy();
	errno = 0;
	cr_assert_null(kmm_vmalloc(0, CALLER));
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(kmm_vmalloc((size_t)1 << 47, CALLER));
	cr_assert_eq(errno, ENOMEM);
	kmm_vfree(NULL);
	char *p = kmm_vmalloc(3 * PG, CALLER);
	cr_assert_eq(kmm_vmalloc_size(p), 3 * PG);
	cr_assert_eq(kmm_vmalloc_size(p + PG), 0, "not the start of an area");
	int local;
	cr_assert_eq(kmm_vmalloc_size(&local), 0);
	kmm_vfree(p);
	cr_assert_eq(kmm_vmalloc_size(p), 0, "a lazily freed area is not busy");
	CHECK_VMALLOC();
}

Test(vmalloc, vfree_inside_an_area_aborts, .signal = SIGABRT)
{
	char *p = kmm_vmalloc(3 * PG, CALLER);
	kmm_vfree(p + PG);
}

Test(vmalloc, double_vfree_aborts, .signal = SIGABRT)
{
	char *p = kmm_vmalloc(3 * PG, CALLER);
	kmm_vfree(p);
	kmm_vfree(p);
}

BOTH_MODES(vmalloc, contents_survive_other_areas_coming_and_going)
{
	enum { N = 12 };
	char *keep[N];
	size_t size[N];
	uint64_t rs = 21;
	for (int i = 0; i < N; i++) {
		size[i] = 1 + rng_below(&rs, 3 * MiB);
		keep[i] = kmm_vmalloc(size[i], CALLER);
		cr_assert_not_null(keep[i]);
		fill(keep[i], size[i], (uint64_t)i);
		/* churn around it: areas that are freed, purged, reused */
		for (int j = 0; j < 8; j++) {
			char *t = kmm_vmalloc(1 + rng_below(&rs, 2 * MiB), CALLER);
			cr_assert_not_null(t);
			memset(t, 0xff, kmm_vmalloc_size(t));
			kmm_vfree(t);
		}
		if (i % 3 == 2)
			kmm_vmalloc_purge(true);
	}
	for (int i = 0; i < N; i++) {
		cr_assert(verify(keep[i], size[i], (uint64_t)i), "area %d (%zu bytes) lost its contents", i, size[i]);
		kmm_vfree(keep[i]);
	}
	CHECK_VMALLOC();
}

/* ---- lazy free: bound and reuse ---------------------------------------------------- */

BOTH_MODES(vmalloc, lazy_bytes_stay_within_lazy_max)
{
	const size_t lazy_max = 2 * MiB;
	kmm_vmalloc_params.lazy_max = lazy_max;
	uint64_t rs = 31;
	enum { N = 24 };
	char *p[N] = { 0 };
	uint64_t purges0 = stats().purges;
	for (unsigned op = 0; op < 1500; op++) {
		size_t i = rng_below(&rs, N);
		if (p[i] == NULL) {
			size_t size = 1 + rng_below(&rs, (size_t)1 << (12 + rng_below(&rs, 10)));   /* up to 2 MiB */
			p[i] = kmm_vmalloc(size, CALLER);
			cr_assert_not_null(p[i]);
			p[i][size - 1] = 1;
		} else {
			kmm_vfree(p[i]);
			p[i] = NULL;
			struct kmm_vmalloc_stats st = stats();
			cr_assert(st.lazy_bytes <= lazy_max, "op %u: %zu bytes lazily freed, lazy_max %zu", op,
				  st.lazy_bytes, lazy_max);
		}
		if (op % 100 == 99)
			cr_assert_eq(kmm_vmalloc_check(1), 0, "op %u", op);
	}
	/* an area bigger than lazy_max is purged at once */
	char *big = kmm_vmalloc(3 * MiB, CALLER);
	kmm_vfree(big);
	struct kmm_vmalloc_stats st = stats();
	cr_assert(st.lazy_bytes <= lazy_max, "%zu bytes lazily freed", st.lazy_bytes);
	cr_assert(st.purges > purges0, "purges happened");
	for (size_t i = 0; i < N; i++)
		kmm_vfree(p[i]);
	CHECK_VMALLOC();
}

BOTH_MODES(vmalloc, lazily_freed_area_is_reused)
{
	keep_lazy();
	char *p = kmm_vmalloc(MiB, CALLER);
	cr_assert_not_null(p);
	fill(p, MiB, 7);
	struct kmm_vmalloc_stats st0 = stats();
	kmm_vfree(p);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_eq(st1.lazy_areas, st0.lazy_areas + 1);
	cr_assert_eq(st1.lazy_bytes, st0.lazy_bytes + MiB + PG, "lazy bytes count the guard page");
	cr_assert_eq(st1.frees, st0.frees + 1);
	cr_assert_eq(resident_pages(p, MiB), 256, "a lazily freed area keeps its frames");

	char *q = kmm_vmalloc(MiB, CALLER);
	struct kmm_vmalloc_stats st2 = stats();
	cr_assert_eq(q, p, "the same address back");
	cr_assert_eq(st2.reused, st1.reused + 1);
	cr_assert_eq(st2.lazy_areas, st0.lazy_areas);
	cr_assert_eq(st2.frames_fresh + st2.frames_recycled, st1.frames_fresh + st1.frames_recycled, "no new frames");
	cr_assert_eq(st2.runs_mapped, st1.runs_mapped, "nothing mapped");
	cr_assert(verify(q, MiB, 7), "the frames are the old ones (no copy, no fault)");

	/* a smaller request takes it too (best fit among lazy areas); the
	 * excess may be kept or given back */
	kmm_vfree(q);
	char *r = kmm_vmalloc(600 << 10, CALLER);
	cr_assert_eq(r, p, "600 KiB reuses the 1 MiB area");
	cr_assert(kmm_vmalloc_size(r) >= 600 << 10 && kmm_vmalloc_size(r) <= MiB);
	cr_assert(verify(r, 600 << 10, 7));
	cr_assert_eq(stats().reused, st2.reused + 1);
	kmm_vfree(r);
	CHECK_VMALLOC();
}

Test(vmalloc, reuse_of_a_much_bigger_lazy_area_shrinks_it)
{
	frames_mode();
	kmm_vmalloc_params.lazy_max = 8 * MiB;   /* keeps areas up to 2 MiB lazily */
	char *p = kmm_vmalloc(MiB, CALLER);
	cr_assert_not_null(p);
	fill(p, MiB, 17);
	kmm_vfree(p);
	struct kmm_vmalloc_stats st0 = stats();
	cr_assert_eq(st0.lazy_areas, 1);
	size_t free0 = kmm_zone.free_pages;
	char *q = kmm_vmalloc(100, CALLER);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_eq(q, p, "the lazily freed area is reused");
	cr_assert_eq(st1.reused, st0.reused + 1);
	cr_assert_eq(kmm_vmalloc_size(q), PG, "1020 KiB of excess is more than a quarter of the request: shrunk");
	cr_assert_eq(st1.frames_shrunk - st0.frames_shrunk, 255);
	cr_assert_eq(kmm_zone.free_pages, free0 + 255);
	cr_assert(verify(q, PG, 17));
	check_guard(q, "shrunk on reuse");
	kmm_vfree(q);
	CHECK_VMALLOC();
}

/* ---- vrealloc ---------------------------------------------------------------------- */

BOTH_MODES(vrealloc, grows_in_place)
{
	char *p = kmm_vmalloc(MiB, CALLER);
	cr_assert_not_null(p);
	fill(p, MiB, 3);
	struct kmm_vmalloc_stats st0 = stats();
	char *q = kmm_vrealloc(p, 2 * MiB);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_eq(q, p, "the range after the guard page was free: grown in place");
	cr_assert_eq(st1.grown_in_place, st0.grown_in_place + 1);
	cr_assert_eq(st1.moved, st0.moved);
	cr_assert(kmm_vmalloc_size(q) >= 2 * MiB);
	cr_assert(verify(q, MiB, 3), "contents preserved");
	fill(q + MiB, MiB, 4);          /* the old guard page is data now */
	cr_assert(verify(q + MiB, MiB, 4));
	cr_assert_eq(st1.busy_bytes, st0.busy_bytes + kmm_vmalloc_size(q) - MiB);
	/* small growth: at least a quarter more */
	char *r = kmm_vrealloc(q, 2 * MiB + 1);
	cr_assert_eq(r, q);
	cr_assert(kmm_vmalloc_size(r) >= 2 * MiB + 1);
	cr_assert(verify(r, MiB, 3) && verify(r + MiB, MiB, 4));
	/* shrinking a little keeps the pages */
	size_t before = kmm_vmalloc_size(r);
	cr_assert_eq(kmm_vrealloc(r, before - PG), r);
	cr_assert_eq(kmm_vmalloc_size(r), before);
	kmm_vfree(r);
	CHECK_VMALLOC();
}

BOTH_MODES(vrealloc, moves_when_blocked)
{
	char *p = kmm_vmalloc(MiB, CALLER);
	char *blocker = kmm_vmalloc(PG, CALLER);
	cr_assert(p && blocker);
	cr_assert_eq(blocker, p + MiB + PG, "the blocker sits right after p's guard page");
	fill(p, MiB, 5);
	struct kmm_vmalloc_stats st0 = stats();
	char *q = kmm_vrealloc(p, 3 * MiB);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_not_null(q);
	cr_assert_neq(q, p, "moved");
	cr_assert_eq(st1.moved, st0.moved + 1);
	cr_assert_eq((uintptr_t)q % PG, 0);
	cr_assert(kmm_vmalloc_size(q) >= 3 * MiB);
	cr_assert_eq(kmm_vmalloc_size(p), 0, "the old address is no area any more");
	cr_assert(verify(q, MiB, 5), "contents moved with the page tables");
	fill(q + MiB, 2 * MiB, 6);
	cr_assert(verify(q, MiB, 5));
	/* the old range is free again: the next small area may take it */
	cr_assert(kmm_vmalloc_lowest_match(PG, false) <= (uintptr_t)p);
	cr_assert_eq(kmm_vmalloc_check(1), 0);
	/* move again, bigger, with pages[] now a vmalloc area of its own */
	char *blocker2 = kmm_vmalloc(PG, CALLER);
	(void)blocker2;
	char *r = kmm_vrealloc(q, 12 * MiB);
	cr_assert_not_null(r);
	cr_assert(verify(r, MiB, 5) && verify(r + MiB, 2 * MiB, 6), "contents preserved over the second move");
	memset(r + 3 * MiB, 0x77, 9 * MiB);
	kmm_vfree(r);
	kmm_vfree(blocker);
	kmm_vfree(blocker2);
	CHECK_VMALLOC();
}

Test(vrealloc, shrinks_and_gives_frames_back)
{
	frames_mode();
	char *p = kmm_vmalloc(4 * MiB, CALLER);
	cr_assert_not_null(p);
	fill(p, 4 * MiB, 8);
	struct kmm_vmalloc_stats st0 = stats();
	size_t free0 = kmm_zone.free_pages;
	char *q = kmm_vrealloc(p, MiB);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_eq(q, p);
	cr_assert_eq(kmm_vmalloc_size(q), MiB);
	cr_assert_eq(st1.frames_shrunk, st0.frames_shrunk + 768);
	cr_assert_eq(st1.busy_bytes, st0.busy_bytes - 3 * MiB);
	cr_assert_eq(kmm_zone.free_pages, free0 + 768, "the frames went back to the buddy allocator");
	cr_assert(verify(q, MiB, 8));
	/* and grows back in place over the range it gave back */
	char *r = kmm_vrealloc(q, 4 * MiB);
	cr_assert_eq(r, p);
	cr_assert(verify(r, MiB, 8));
	memset(r + MiB, 0, 3 * MiB);
	kmm_vfree(r);
	CHECK_VMALLOC();
}

/* ---- kmm_vmalloc_zero --------------------------------------------------------------- */

BOTH_MODES(vmalloc_zero, fresh_frames_are_not_touched)
{
	char *p = kmm_vmalloc(MiB, CALLER);
	cr_assert_not_null(p);
	cr_assert_eq(resident_pages(p, MiB), 0, "demand-faulted: nothing resident yet");
	kmm_vmalloc_zero(p, p, MiB);
	cr_assert_eq(resident_pages(p, MiB), 0, "zeroing fresh frames must not touch them");
	cr_assert(all_zero(p, MiB));
	kmm_vfree(p);
	CHECK_VMALLOC();
}

BOTH_MODES(vmalloc_zero, reused_area_is_cleared)
{
	keep_lazy();
	char *p = kmm_vmalloc(MiB, CALLER);
	cr_assert_not_null(p);
	fill(p, MiB, 9);
	kmm_vfree(p);
	uint64_t reused = stats().reused;
	char *q = kmm_vmalloc(MiB, CALLER);
	cr_assert_eq(q, p, "the same area back");
	cr_assert_eq(stats().reused, reused + 1, "the lazily freed area was reused");
	cr_assert(verify(q, MiB, 9), "a reused area comes back as it was");
	/* a part only: the rest is left alone */
	kmm_vmalloc_zero(q, q + 100, 3 * PG);
	cr_assert(verify(q, 100, 9), "bytes before the range untouched");
	cr_assert(all_zero(q + 100, 3 * PG), "the range reads zero");
	cr_assert_eq(q[100 + 3 * PG], (char)(9 * 131u + (100 + 3 * PG) * 7u + ((100 + 3 * PG) >> 12)),
		     "bytes after the range untouched");
	kmm_vmalloc_zero(q, q, MiB);
	cr_assert(all_zero(q, MiB), "zero returns zeros on a reused area");
	kmm_vfree(q);
	CHECK_VMALLOC();
}

Test(vmalloc_zero, recycled_frames_are_cleared)
{
	frames_mode();
	char *p = kmm_vmalloc(2 * MiB, CALLER);
	cr_assert_not_null(p);
	memset(p, 0xab, 2 * MiB);
	kmm_vfree(p);
	kmm_vmalloc_purge(true);   /* the frames go back to the buddy, still resident */
	struct kmm_vmalloc_stats st0 = stats();
	char *q = kmm_vmalloc(2 * MiB, CALLER);
	cr_assert_not_null(q);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_eq(st1.reused, st0.reused, "a new area");
	cr_assert_eq(st1.frames_recycled - st0.frames_recycled, 512, "its frames come back from the buddy allocator");
	kmm_vmalloc_zero(q, q, 2 * MiB);
	cr_assert(all_zero(q, 2 * MiB), "recycled frames must be cleared");
	/* a mix: an area partly on recycled, partly on fresh frames */
	kmm_vfree(q);
	kmm_vmalloc_purge(true);
	char *r = kmm_vmalloc(6 * MiB, CALLER);
	cr_assert_not_null(r);
	kmm_vmalloc_zero(r, r, 6 * MiB);
	cr_assert(all_zero(r, 6 * MiB));
	kmm_vfree(r);
	CHECK_VMALLOC();
}

/* ---- vmallocinfo ---------------------------------------------------------------------- */

static char info_text[65536];

/* The vmallocinfo line of the area starting at p, or NULL. */
static const char *info_line(const void *p)
{
	struct kmm_buf b;
	kmm_buf_init(&b, info_text, sizeof info_text, -1);
	kmm_vmalloc_report_vmallocinfo(&b);
	cr_assert(!b.truncated);
	char key[32];
	snprintf(key, sizeof key, "0x%016lx-", (unsigned long)(uintptr_t)p);
	char *save = NULL;
	for (char *l = strtok_r(info_text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save))
		if (strncmp(l, key, strlen(key)) == 0)
			return l;
	return NULL;
}

BOTH_MODES(vmallocinfo, size_with_guard_and_pages)
{
	keep_lazy();
	char *p = kmm_vmalloc(8 * MiB, (const void *)&printf);
	cr_assert_not_null(p);
	const char *l = info_line(p);
	cr_assert_not_null(l, "no vmallocinfo line for %p", (void *)p);
	unsigned long start, end;
	size_t size, pages;
	long res;
	char caller[128];
	int n = sscanf(l, "0x%lx-0x%lx %zu %127s pages=%zu resident=%ld", &start, &end, &size, caller, &pages, &res);
	cr_assert_eq(n, 6, "line does not parse: %s", l);
	cr_assert_eq(start, (unsigned long)(uintptr_t)p);
	cr_assert_eq(end, (unsigned long)(uintptr_t)p + 8 * MiB + PG);
	cr_assert_eq(size, 8392704, "size with the guard page: %s", l);
	cr_assert_eq(size, 0x801000);
	cr_assert_eq(pages, 2048, "%s", l);
	cr_assert_eq(res, 0, "nothing touched yet: %s", l);
	cr_assert_not_null(strstr(l, "printf"), "the caller is symbolized: %s", l);
	cr_assert(strstr(l, " vmalloc") && !strstr(l, "lazy-freed"), "%s", l);
	for (int i = 0; i < 10; i++)
		p[i * PG * 3] = 1;
	l = info_line(p);
	cr_assert_not_null(strstr(l, " resident=10 "), "10 pages touched: %s", l);

	char *q = kmm_vmalloc(5000, CALLER);
	l = info_line(q);
	cr_assert_not_null(l);
	cr_assert_eq(sscanf(l, "0x%lx-0x%lx %zu %127s pages=%zu", &start, &end, &size, caller, &pages), 5, "%s", l);
	cr_assert_eq(size, 3 * PG, "two pages and the guard: %s", l);
	cr_assert_eq(pages, 2);

	kmm_vfree(p);
	l = info_line(p);
	cr_assert_not_null(l, "a lazily freed area is still listed");
	cr_assert_not_null(strstr(l, "lazy-freed"), "%s", l);
	kmm_vmalloc_purge(true);
	cr_assert_null(info_line(p), "purged areas are gone");
	kmm_vfree(q);
	CHECK_VMALLOC();
}

/* ---- populate ----------------------------------------------------------------------- */

BOTH_MODES(vmalloc, populate_option_prefaults)
{
	char *d = kmm_vmalloc(2 * MiB, CALLER);
	cr_assert_not_null(d);
	cr_assert_eq(resident_pages(d, 2 * MiB), 0, "by default pages are demand-faulted");
	kmm_vmalloc_params.populate = true;
	char *p = kmm_vmalloc(2 * MiB, CALLER);
	cr_assert_not_null(p);
	cr_assert_eq(resident_pages(p, 2 * MiB), 512, "populate: all pages resident right after vmalloc");
	cr_assert(all_zero(p, 2 * MiB));
	/* growth is populated too */
	char *q = kmm_vrealloc(p, 4 * MiB);
	cr_assert_not_null(q);
	cr_assert_eq(resident_pages(q, kmm_vmalloc_size(q)), kmm_vmalloc_size(q) / PG, "grown part populated");
	kmm_vmalloc_params.populate = false;
	kmm_vfree(q);
	kmm_vfree(d);
	CHECK_VMALLOC();
}

/* ---- fork from a multi-threaded process ---------------------------------------------- */

static int stop_threads;
static unsigned long thread_ops[3];
static int thread_bad;

static void *vm_thread(void *arg)
{
	int id = (int)(uintptr_t)arg;
	uint64_t rs = 1000 + (uint64_t)id;
	char *mine[4] = { 0 };
	size_t sz[4] = { 0 };
	while (!__atomic_load_n(&stop_threads, __ATOMIC_RELAXED)) {
		size_t i = rng_below(&rs, 4);
		if (mine[i] == NULL) {
			sz[i] = 1 + rng_below(&rs, (size_t)1 << (12 + rng_below(&rs, 10)));
			mine[i] = kmm_vmalloc(sz[i], NULL);
			if (mine[i] == NULL) {
				thread_bad = 1;
				break;
			}
			mine[i][0] = (char)id;
			mine[i][sz[i] - 1] = (char)id;
		} else if (rng_below(&rs, 4) == 0) {
			size_t nsz = 1 + rng_below(&rs, 2 * sz[i]);
			char *q = kmm_vrealloc(mine[i], nsz);
			if (q == NULL || q[0] != (char)id) {
				thread_bad = 2;
				break;
			}
			mine[i] = q;
			sz[i] = nsz;
			q[nsz - 1] = (char)id;
		} else {
			if (mine[i][0] != (char)id || mine[i][sz[i] - 1] != (char)id)
				thread_bad = 3;
			kmm_vfree(mine[i]);
			mine[i] = NULL;
		}
		thread_ops[id]++;
	}
	for (int i = 0; i < 4; i++)
		kmm_vfree(mine[i]);
	kmm_slab_thread_exit();
	return NULL;
}

static void fork_child_body(uint64_t seed)
{
	alarm(20);   /* a deadlock after fork fails the test instead of hanging it */
	uint64_t rs = seed;
	char *p[8];
	size_t size[8];
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 8; i++) {
			size[i] = 1 + rng_below(&rs, 3 * MiB);
			p[i] = kmm_vmalloc(size[i], NULL);
			if (p[i] == NULL)
				_exit(10);
			stamp(p[i], size[i], seed * 8 + (uint64_t)i);
		}
		for (int i = 0; i < 8; i++) {
			if (!stamps_ok(p[i], size[i], seed * 8 + (uint64_t)i))
				_exit(11);
			kmm_vfree(p[i]);
		}
		void *k = kmm_kmalloc(100);
		if (k == NULL)
			_exit(12);
		kmm_kfree(k);
	}
	kmm_vmalloc_purge(true);
	if (kmm_vmalloc_check(1) != 0)
		_exit(13);
	/* the parent's threads were anywhere at the fork: splitting blocks,
	 * moving or shrinking areas — the child's structures must be
	 * consistent all the same */
	if (kmm_buddy_check(1) != 0)
		_exit(14);
	if (kmm_slab_check(1) != 0)
		_exit(15);
	if (kmm_region_check(1) != 0)
		_exit(16);
	_exit(0);
}

BOTH_MODES(vmalloc_fork, fork_while_threads_vmalloc, .timeout = 60)
{
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, vm_thread, (void *)(uintptr_t)i), 0);
	usleep(20000);
	for (int k = 0; k < 40; k++) {
		fflush(NULL);
		pid_t pid = fork();
		cr_assert(pid >= 0);
		if (pid == 0)
			fork_child_body((uint64_t)k);
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "child %d: %s %d (exit 10-12: vmalloc/kmalloc failed or data lost, 13-16: the vmalloc/buddy/slab/region checker failed)", k,
			  WIFEXITED(status) ? "exit status" : "killed by signal",
			  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		/* the parent goes on after each fork */
		char *p = kmm_vmalloc(PG * (1 + (size_t)k), NULL);
		cr_assert_not_null(p);
		p[0] = 1;
		kmm_vfree(p);
		usleep(2000);
	}
	__atomic_store_n(&stop_threads, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(thread_bad, 0, "a thread saw a failure (%d)", thread_bad);
	for (int i = 0; i < 3; i++)
		cr_assert(thread_ops[i] > 10, "thread %d did %lu operations", i, thread_ops[i]);
	kmm_vmalloc_purge(true);
	CHECK_VMALLOC();
}

/*
 * test_vmalloc.c — the vmalloc-style region allocator of the kernel side
 * (src/kernel/vmalloc.c): lowest-match search against a linear scan after
 * random sequences, guard pages, alignment and contents, merging of freed
 * ranges, the lazy-free bound and reuse, vrealloc in place / moved /
 * shrunk, kmm_vmalloc_zero, the vmallocinfo report, the populate option,
 * and fork from a multi-threaded process — each in both ways of backing an
 * area (BOTH_MODES: frames moved in with mremap, and demand-paged areas),
 * some for frames only (frame counts), and the demand mode's own
 * behaviour: no frames, lazily freed areas of any size, the excess of a
 * reused area split off, freed neighbours merged, purge beyond the limit,
 * growth in place and over a lazily freed neighbour, moves (into a lazily
 * freed area too), shrinking, calloc (memset or MADV_DONTNEED), ENOMEM,
 * and both kinds of area side by side; the region registry checked
 * against the areas after each step.
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
	cr_assert_eq(kmm_vmalloc_size(q), 0, "the old place is no area any more");
	if (kmm_vmalloc_params.frames) {
		/* the old place is not mapped any more */
		int st = child_writes(q);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "the old place of a moved area still writable");
	} else {
		/* copied: the old place keeps its pages, lazily freed */
		cr_assert(stats().lazy_areas >= 1);
	}
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

Test(demand, double_vfree_of_a_merged_area_aborts, .signal = SIGABRT)
{
	demand_mode();
	keep_lazy();
	char *a = kmm_vmalloc(3 * PG, CALLER);
	char *b = kmm_vmalloc(3 * PG, CALLER);
	cr_assert_eq(b, a + 4 * PG);
	kmm_vfree(a);
	kmm_vfree(b);   /* merges with a */
	cr_assert_eq(stats().lazy_areas, 1);
	kmm_vfree(b);   /* "double free detected" (not "invalid pointer") */
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
	/* the old range is free again (demand: lazily freed, its pages kept):
	 * the next small area may take it */
	if (kmm_vmalloc_params.frames)
		cr_assert(kmm_vmalloc_lowest_match(PG, false) <= (uintptr_t)p);
	else
		cr_assert_eq(stats().lazy_bytes, MiB + PG, "the old range, lazily freed");
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

static const char *info_line(const void *p);

/* ---- demand-paged areas (vmalloc_frames=off) ------------------------------------------ */

/* The pattern fill(p, n, seed) wrote, checked from byte `off` of it on. */
static int verify_from(const char *p, size_t n, uint64_t seed, size_t off)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] != pattern_byte(seed, off + i))
			return 0;
	return 1;
}

/* Every busy and lazily freed area is a region of the registry, with its
 * pages (no guard page); single-threaded tests only. */
static void check_regions(const char *what)
{
	struct kmm_region_totals t;
	struct kmm_vmalloc_stats st = stats();
	kmm_region_totals(&t);
	cr_assert_eq(t.count[KMM_REGION_VMALLOC_AREA], st.busy_areas + st.lazy_areas,
		     "%s: %zu vmalloc regions, %zu busy + %zu lazy areas", what, t.count[KMM_REGION_VMALLOC_AREA],
		     st.busy_areas, st.lazy_areas);
	cr_assert_eq(t.bytes[KMM_REGION_VMALLOC_AREA], st.busy_bytes + st.lazy_bytes - st.lazy_areas * PG,
		     "%s: %zu bytes of vmalloc regions, %zu busy + %zu lazy (%zu areas)", what,
		     t.bytes[KMM_REGION_VMALLOC_AREA], st.busy_bytes, st.lazy_bytes, st.lazy_areas);
}

#define CHECK_DEMAND(what) do { \
	cr_assert_eq(kmm_vmalloc_check(1), 0, "%s: vmalloc invariants violated (see stderr)", what); \
	check_regions(what); \
} while (0)

Test(demand, a_new_area_has_no_frames_and_no_resident_page)
{
	demand_mode();
	struct kmm_vmalloc_stats st0 = stats();
	size_t free0 = kmm_zone.free_pages;
	char *p = kmm_vmalloc(MiB + 1, CALLER);
	cr_assert_not_null(p);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_eq(kmm_vmalloc_size(p), MiB + PG);
	cr_assert_eq(st1.frames_fresh + st1.frames_recycled, st0.frames_fresh + st0.frames_recycled, "no frame");
	cr_assert_eq(st1.runs_mapped, st0.runs_mapped, "no page table moved");
	cr_assert(kmm_zone.free_pages + 8 >= free0, "the buddy allocator gave no frames for it (%zu -> %zu)", free0,
		  kmm_zone.free_pages);
	cr_assert_eq(resident_pages(p, MiB + PG), 0, "demand-zero: nothing resident before a touch");
	kmm_vmalloc_zero(p, p, MiB + 1);
	cr_assert_eq(resident_pages(p, MiB + PG), 0, "calloc of a new area touches nothing");
	cr_assert(all_zero(p, MiB + PG));
	fill(p, MiB + PG, 1);
	cr_assert_eq(resident_pages(p, MiB + PG), 257);
	check_guard(p, "demand");
	CHECK_DEMAND("new area");
	kmm_vfree(p);
	CHECK_DEMAND("freed");
}

Test(demand, any_size_stays_lazily_freed_and_is_reused_as_it_is)
{
	demand_mode();
	/* automatic limit: 8 x 24 MiB, at most 64 MiB */
	char *p = kmm_vmalloc(24 * MiB, CALLER);
	cr_assert_not_null(p);
	fill(p, 24 * MiB, 2);
	kmm_vfree(p);
	struct kmm_vmalloc_stats st = stats();
	cr_assert_eq(st.lazy_areas, 1, "a 24 MiB area stays lazily freed (frames mode purges it at once)");
	cr_assert_eq(st.lazy_bytes, 24 * MiB + PG);
	cr_assert_eq(st.lazy_limit, 64 * MiB);
	cr_assert_eq(resident_pages(p, 24 * MiB), 6144, "its pages stay resident");
	CHECK_DEMAND("lazy");
	char *q = kmm_vmalloc(24 * MiB, CALLER);
	cr_assert_eq(q, p, "the same area back");
	cr_assert_eq(stats().reused, st.reused + 1);
	cr_assert(verify(q, 24 * MiB, 2), "as it was: no copy, no fault, no clearing");
	CHECK_DEMAND("reused");
	kmm_vfree(q);
}

Test(demand, the_lazy_limit_follows_the_live_big_blocks)
{
	demand_mode();
	/* 16 live areas of 16 MiB (256 MiB, never touched): freeing 6 of
	 * them keeps all 6 lazily (96 MiB, over the 64 MiB budget but under
	 * the 160 MiB still live); the 64 MiB budget alone kept 3 */
	enum { N = 16, FREED = 6 };
	char *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = kmm_vmalloc(16 * MiB, CALLER);
		cr_assert_not_null(p[i]);
	}
	for (int i = 0; i < FREED; i++)
		kmm_vfree(p[2 * i]);
	struct kmm_vmalloc_stats st = stats();
	cr_assert_eq(st.lazy_limit, (size_t)(N - FREED) * 16 * MiB, "limit %zu MiB", st.lazy_limit / MiB);
	cr_assert_eq(st.lazy_bytes, (size_t)FREED * (16 * MiB + PG), "lazy %zu bytes", st.lazy_bytes);
	CHECK_DEMAND("six lazily freed");
	/* as the program frees the rest, the limit falls back to the budget */
	for (int i = 0; i < N; i++)
		if (i % 2 != 0 || i >= 2 * FREED)
			kmm_vfree(p[i]);
	st = stats();
	cr_assert_eq(st.lazy_limit, 64 * MiB);
	cr_assert_leq(st.lazy_bytes, 64 * MiB, "lazy %zu MiB after everything was freed", st.lazy_bytes / MiB);
	CHECK_DEMAND("all freed");
}

Test(demand, reuse_splits_the_excess_off_as_a_lazy_area)
{
	demand_mode();
	keep_lazy();
	char *p = kmm_vmalloc(MiB, CALLER);
	char *blocker = kmm_vmalloc(PG, CALLER);
	cr_assert(p && blocker);
	fill(p, MiB, 3);
	kmm_vfree(p);
	struct kmm_vmalloc_stats st0 = stats();
	char *q = kmm_vmalloc(100, CALLER);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_eq(q, p, "the lazily freed area is reused");
	cr_assert_eq(kmm_vmalloc_size(q), PG, "the excess is not pinned as in use");
	cr_assert_eq(st1.split_areas, st0.split_areas + 1);
	cr_assert_eq(st1.lazy_areas, 1, "the excess is a lazily freed area of its own");
	cr_assert_eq(st1.lazy_bytes, 255 * PG, "254 pages and the old guard page");
	cr_assert_eq(st1.busy_bytes, st0.busy_bytes + PG);
	cr_assert(verify(q, PG, 3));
	check_guard(q, "the page at the cut is the new guard page");
	cr_assert_eq(resident_pages(p + 2 * PG, 254 * PG), 254, "the remainder keeps its pages");
	CHECK_DEMAND("split");
	char *r = kmm_vmalloc(254 * PG, CALLER);
	cr_assert_eq(r, p + 2 * PG, "the remainder serves the next request that fits");
	cr_assert(verify_from(r, 254 * PG, 3, 2 * PG), "with its pages as they were");
	check_guard(r, "remainder");
	CHECK_DEMAND("remainder reused");
	kmm_vfree(q);
	kmm_vfree(r);
	kmm_vfree(blocker);
	CHECK_DEMAND("all freed");
}

Test(demand, freed_neighbours_merge_into_one_lazy_area)
{
	demand_mode();
	keep_lazy();
	char *a = kmm_vmalloc(256 << 10, CALLER);
	char *b = kmm_vmalloc(256 << 10, CALLER);
	char *c = kmm_vmalloc(256 << 10, CALLER);
	char *blocker = kmm_vmalloc(PG, CALLER);
	cr_assert(a && b && c && blocker);
	cr_assert(b == a + (256 << 10) + PG && c == b + (256 << 10) + PG, "consecutive areas");
	fill(a, 256 << 10, 4);
	fill(b, 256 << 10, 5);
	fill(c, 256 << 10, 6);
	uint64_t merged0 = stats().merged_areas;
	kmm_vfree(a);
	kmm_vfree(c);
	cr_assert_eq(stats().lazy_areas, 2, "a and c are not neighbours");
	kmm_vfree(b);
	struct kmm_vmalloc_stats st = stats();
	cr_assert_eq(st.merged_areas, merged0 + 2, "b merged with a before it and c after it");
	cr_assert_eq(st.lazy_areas, 1);
	cr_assert_eq(st.lazy_bytes, 3 * ((256 << 10) + PG));
	CHECK_DEMAND("merged");
	/* the whole of it serves a request of that size: the old guard pages
	 * are pages of the area now */
	char *m = kmm_vmalloc(3 * (256 << 10) + 2 * PG, CALLER);
	cr_assert_eq(m, a, "the merged area is reused");
	cr_assert(verify(m, 256 << 10, 4) && verify(m + (256 << 10) + PG, 256 << 10, 5) &&
		  verify(m + 2 * ((256 << 10) + PG), 256 << 10, 6), "each part's pages as they were");
	memset(m + (256 << 10), 0x5a, PG);   /* a's old guard page */
	memset(m + 2 * (256 << 10) + PG, 0x5a, PG);   /* b's */
	check_guard(m, "merged");
	kmm_vmalloc_zero(m, m, kmm_vmalloc_size(m));
	cr_assert(all_zero(m, kmm_vmalloc_size(m)), "a reused merged area is cleared by calloc");
	CHECK_DEMAND("merged area reused");
	kmm_vfree(m);
	kmm_vfree(blocker);
}

Test(demand, the_oldest_are_purged_beyond_the_limit)
{
	demand_mode();
	kmm_vmalloc_params.lazy_max = 5 * MiB;
	char *p[3], *blocker[3];
	for (int i = 0; i < 3; i++) {
		p[i] = kmm_vmalloc(2 * MiB, CALLER);
		blocker[i] = kmm_vmalloc(PG, CALLER);   /* no merging */
		cr_assert(p[i] && blocker[i]);
		fill(p[i], 2 * MiB, 7);
	}
	uint64_t purged0 = stats().purged_areas;
	for (int i = 0; i < 3; i++)
		kmm_vfree(p[i]);
	struct kmm_vmalloc_stats st = stats();
	cr_assert_eq(st.purged_areas, purged0 + 1, "one area purged");
	cr_assert_eq(st.lazy_areas, 2);
	cr_assert(st.lazy_bytes <= 5 * MiB);
	cr_assert_null(info_line(p[0]), "the oldest went");
	int wst = child_writes(p[0]);
	cr_assert(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGSEGV, "a purged area's range is PROT_NONE again");
	cr_assert_eq(resident_pages(p[0], 2 * MiB), 0, "its pages were dropped");
	cr_assert_eq(resident_pages(p[2], 2 * MiB), 512, "the newest keeps its pages");
	CHECK_DEMAND("purged");
	/* an area bigger than the whole limit is purged when freed */
	char *big = kmm_vmalloc(6 * MiB, CALLER);
	cr_assert_not_null(big);
	kmm_vfree(big);
	cr_assert(stats().lazy_bytes <= 5 * MiB);
	kmm_vmalloc_purge(true);
	st = stats();
	cr_assert_eq(st.lazy_areas, 0);
	cr_assert_eq(st.lazy_bytes, 0);
	for (int i = 0; i < 3; i++)
		kmm_vfree(blocker[i]);
	kmm_vmalloc_purge(true);
	st = stats();
	cr_assert_eq(st.free_ranges, st.spaces, "every range back in the free tree, merged");
	cr_assert_eq(st.free_bytes, st.space_bytes);
	CHECK_DEMAND("all purged");
}

Test(demand, grows_in_place_with_its_pages)
{
	demand_mode();
	char *p = kmm_vmalloc(MiB, CALLER);
	cr_assert_not_null(p);
	fill(p, MiB, 8);
	struct kmm_vmalloc_stats st0 = stats();
	char *q = kmm_vrealloc(p, 2 * MiB);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_eq(q, p);
	cr_assert_eq(st1.grown_in_place, st0.grown_in_place + 1);
	size_t size = kmm_vmalloc_size(q);
	cr_assert(size >= 2 * MiB);
	cr_assert_eq(resident_pages(q, size), 256, "nothing copied, nothing touched beyond the old pages");
	cr_assert(verify(q, MiB, 8));
	cr_assert(all_zero(q + MiB, size - MiB), "the grown part is demand-zero (the old guard page too)");
	check_guard(q, "grown");
	CHECK_DEMAND("grown");
	kmm_vfree(q);
}

Test(demand, grows_over_the_lazy_area_that_follows)
{
	demand_mode();
	keep_lazy();
	char *p = kmm_vmalloc(MiB, CALLER);
	char *n = kmm_vmalloc(MiB, CALLER);
	char *blocker = kmm_vmalloc(PG, CALLER);
	cr_assert(p && n && blocker);
	cr_assert_eq(n, p + MiB + PG);
	fill(p, MiB, 9);
	fill(n, MiB, 10);
	kmm_vfree(n);
	struct kmm_vmalloc_stats st0 = stats();
	char *q = kmm_vrealloc(p, 3 * (MiB / 2));
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_eq(q, p, "grown in place over the lazily freed neighbour");
	cr_assert_eq(st1.grown_into_lazy, st0.grown_into_lazy + 1);
	cr_assert_eq(st1.moved, st0.moved);
	cr_assert(kmm_vmalloc_size(q) >= 3 * (MiB / 2));
	cr_assert(verify(q, MiB, 9), "its own pages");
	cr_assert(verify_from(q + MiB + PG, kmm_vmalloc_size(q) - MiB - PG, 10, 0),
		  "the neighbour's pages, still resident, are its own now");
	/* 1.25 MiB reserve kept, the rest split off again */
	cr_assert_eq(kmm_vmalloc_size(q), 384 * PG, "the reserve (%zu)", kmm_vmalloc_size(q));
	cr_assert_eq(st1.lazy_areas, 1, "the excess stays lazily freed");
	check_guard(q, "grown into the neighbour");
	CHECK_DEMAND("grown into lazy");
	kmm_vfree(q);
	kmm_vfree(blocker);
}

Test(demand, moves_by_copying_when_blocked)
{
	demand_mode();
	keep_lazy();
	char *p = kmm_vmalloc(MiB, CALLER);
	char *blocker = kmm_vmalloc(PG, CALLER);
	cr_assert(p && blocker);
	fill(p, MiB, 11);
	struct kmm_vmalloc_stats st0 = stats();
	char *q = kmm_vrealloc(p, 3 * MiB);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_not_null(q);
	cr_assert_neq(q, p);
	cr_assert_eq(st1.moved, st0.moved + 1);
	cr_assert_eq(st1.moved_into_lazy, st0.moved_into_lazy, "no lazily freed area to move into");
	cr_assert(verify(q, MiB, 11), "copied");
	cr_assert_eq(resident_pages(q + MiB, kmm_vmalloc_size(q) - MiB), 0, "the new tail is demand-zero");
	cr_assert(all_zero(q + MiB, kmm_vmalloc_size(q) - MiB));
	cr_assert_eq(kmm_vmalloc_size(p), 0);
	cr_assert_eq(st1.lazy_areas, st0.lazy_areas + 1, "the old range is lazily freed");
	cr_assert_eq(st1.lazy_bytes, st0.lazy_bytes + MiB + PG);
	cr_assert_eq(resident_pages(p, MiB), 256, "with its pages resident");
	check_guard(q, "moved");
	CHECK_DEMAND("moved by copying");
	/* the next request of that size takes the old range as it is */
	char *r = kmm_vmalloc(MiB, CALLER);
	cr_assert_eq(r, p);
	cr_assert(verify(r, MiB, 11));
	kmm_vfree(r);
	kmm_vfree(q);
	kmm_vfree(blocker);
	CHECK_DEMAND("all freed");
}

Test(demand, big_areas_move_their_page_tables_when_blocked)
{
	demand_mode();
	kmm_vmalloc_params.move_copy_max = 0;   /* as an area above 64 MiB */
	kmm_vmalloc_params.lazy_max = 0;
	kmm_vmalloc_purge(true);
	char *p = kmm_vmalloc(MiB, CALLER);
	char *blocker = kmm_vmalloc(PG, CALLER);
	cr_assert(p && blocker);
	fill(p, MiB, 11);
	struct kmm_vmalloc_stats st0 = stats();
	char *q = kmm_vrealloc(p, 3 * MiB);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_not_null(q);
	cr_assert_neq(q, p);
	cr_assert_eq(st1.moved, st0.moved + 1);
	cr_assert_eq(st1.moved_into_lazy, st0.moved_into_lazy, "no lazily freed area to move into");
	cr_assert_eq(resident_pages(q, kmm_vmalloc_size(q)), 256, "the pages moved with their page tables");
	cr_assert(verify(q, MiB, 11));
	cr_assert(all_zero(q + MiB, kmm_vmalloc_size(q) - MiB));
	int wst = child_writes(p);
	cr_assert(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGSEGV, "the old range is PROT_NONE again");
	cr_assert_eq(kmm_vmalloc_size(p), 0);
	check_guard(q, "moved");
	CHECK_DEMAND("moved");
	kmm_vfree(q);
	kmm_vfree(blocker);
}

static void move_into_lazy(bool copy)
{
	demand_mode();
	keep_lazy();
	if (!copy)
		kmm_vmalloc_params.move_copy_max = 0;
	char *l = kmm_vmalloc(4 * MiB, CALLER);
	char *b1 = kmm_vmalloc(PG, CALLER);
	char *p = kmm_vmalloc(MiB, CALLER);
	char *b2 = kmm_vmalloc(PG, CALLER);
	cr_assert(l && b1 && p && b2);
	fill(l, 4 * MiB, 12);
	fill(p, MiB, 13);
	kmm_vfree(l);
	struct kmm_vmalloc_stats st0 = stats();
	char *q = kmm_vrealloc(p, 2 * MiB);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_eq(q, l, "moved into the lazily freed area");
	cr_assert_eq(st1.moved_into_lazy, st0.moved_into_lazy + 1);
	cr_assert(verify(q, MiB, 13), "the moved pages replace the area's first pages");
	size_t size = kmm_vmalloc_size(q);
	cr_assert(size >= 2 * MiB && size < 4 * MiB, "the excess beyond the reserve split off (%zu)", size);
	cr_assert(verify_from(q + MiB, size - MiB, 12, MiB), "the rest of the area's pages, still resident");
	cr_assert_eq(resident_pages(q, size), size / PG);
	if (copy) {
		cr_assert_eq(kmm_vmalloc_size(p), 0);
		cr_assert_eq(resident_pages(p, MiB), 256, "copied: the old range keeps its pages, lazily freed");
		cr_assert_eq(stats().lazy_bytes, st0.lazy_bytes - (4 * MiB + PG) + (4 * MiB - size) + (MiB + PG),
			     "the excess split off and the old range are lazily freed");
	} else {
		int wst = child_writes(p);
		cr_assert(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGSEGV, "page tables moved: the old range is PROT_NONE");
	}
	check_guard(q, "moved into a lazy area");
	CHECK_DEMAND("moved into lazy");
	kmm_vfree(q);
	kmm_vfree(b1);
	kmm_vfree(b2);
}

Test(demand, moves_into_a_lazy_area_that_fits) { move_into_lazy(true); }
Test(demand, big_areas_move_into_a_lazy_area_with_their_page_tables) { move_into_lazy(false); }

Test(demand, shrink_gives_the_tail_back)
{
	demand_mode();
	char *p = kmm_vmalloc(4 * MiB, CALLER);
	cr_assert_not_null(p);
	fill(p, 4 * MiB, 14);
	struct kmm_vmalloc_stats st0 = stats();
	char *q = kmm_vrealloc(p, MiB);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_eq(q, p);
	cr_assert_eq(kmm_vmalloc_size(q), MiB);
	cr_assert_eq(st1.busy_bytes, st0.busy_bytes - 3 * MiB);
	cr_assert_eq(resident_pages(p + MiB, 3 * MiB), 0, "the tail's pages are dropped");
	cr_assert(verify(q, MiB, 14));
	check_guard(q, "shrunk");
	CHECK_DEMAND("shrunk");
	char *r = kmm_vrealloc(q, 4 * MiB);
	cr_assert_eq(r, p, "grows back in place");
	cr_assert(verify(r, MiB, 14) && all_zero(r + MiB, 3 * MiB), "the regrown tail reads zero");
	kmm_vfree(r);
	CHECK_DEMAND("regrown");
}

Test(demand, calloc_of_a_reused_area)
{
	demand_mode();
	keep_lazy();
	/* below 8 MiB: memset */
	char *p = kmm_vmalloc(2 * MiB, CALLER);
	cr_assert_not_null(p);
	fill(p, 2 * MiB, 15);
	kmm_vfree(p);
	char *q = kmm_vmalloc(2 * MiB, CALLER);
	cr_assert_eq(q, p);
	uint64_t advised0 = stats().zero_advised;
	kmm_vmalloc_zero(q, q + 100, MiB);
	cr_assert(verify(q, 100, 15) && all_zero(q + 100, MiB) && verify_from(q + 100 + MiB, MiB - 100, 15, 100 + MiB),
		  "exactly the span cleared");
	kmm_vmalloc_zero(q, q, 2 * MiB);
	cr_assert(all_zero(q, 2 * MiB));
	cr_assert_eq(stats().zero_advised, advised0, "memset, no madvise");
	cr_assert_eq(resident_pages(q, 2 * MiB), 512);
	kmm_vfree(q);
	/* 8 MiB and more: MADV_DONTNEED of the whole pages, memset of the
	 * partial ones at both ends */
	char *b = kmm_vmalloc(12 * MiB, CALLER);
	cr_assert_not_null(b);
	fill(b, 12 * MiB, 16);
	kmm_vfree(b);
	char *c = kmm_vmalloc(12 * MiB, CALLER);
	cr_assert_eq(c, b);
	kmm_vmalloc_zero(c, c + 100, 10 * MiB);
	cr_assert_eq(stats().zero_advised, advised0 + 10 * MiB / PG - 1, "one madvise of the whole pages");
	cr_assert(verify(c, 100, 16), "bytes before the span untouched");
	cr_assert(all_zero(c + 100, 10 * MiB), "the span reads zero");
	cr_assert(verify_from(c + 100 + 10 * MiB, 2 * MiB - 100, 16, 100 + 10 * MiB), "bytes after it untouched");
	kmm_vfree(c);
	CHECK_DEMAND("calloc");
}

Test(demand, calloc_clears_only_the_reused_part_of_a_grown_area)
{
	demand_mode();
	keep_lazy();
	char *p = kmm_vmalloc(MiB, CALLER);
	cr_assert_not_null(p);
	fill(p, MiB, 17);
	kmm_vfree(p);
	/* the lazily freed area is followed by free space: it is taken and
	 * grown in place for the bigger request */
	char *q = kmm_vmalloc(4 * MiB, CALLER);
	cr_assert_eq(q, p, "the lazily freed area, grown in place");
	cr_assert_eq(kmm_vmalloc_size(q), 4 * MiB);
	kmm_vmalloc_zero(q, q, 4 * MiB);
	cr_assert(all_zero(q, MiB), "the reused part is cleared");
	cr_assert_eq(resident_pages(q + MiB, 3 * MiB), 0, "the grown part is demand-zero: not touched");
	cr_assert(all_zero(q, 4 * MiB));
	kmm_vfree(q);
	CHECK_DEMAND("grown and cleared");
}

Test(demand, a_bigger_request_moves_the_largest_lazy_area)
{
	demand_mode();
	keep_lazy();
	char *p = kmm_vmalloc(2 * MiB, CALLER);
	char *blocker = kmm_vmalloc(PG, CALLER);
	cr_assert(p && blocker);
	fill(p, 2 * MiB, 18);
	kmm_vfree(p);
	struct kmm_vmalloc_stats st0 = stats();
	char *q = kmm_vmalloc(6 * MiB, CALLER);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_not_null(q);
	cr_assert_eq(st1.reused, st0.reused + 1, "the lazily freed area is taken");
	cr_assert_eq(st1.moved, st0.moved + 1, "and moved to a range with room");
	cr_assert_eq(st1.lazy_areas, st0.lazy_areas - 1, "its old range is free, not lazily freed (nothing copied)");
	cr_assert_eq(kmm_vmalloc_size(q), 6 * MiB, "exactly the size asked for");
	cr_assert_eq(resident_pages(q, 6 * MiB), 512, "its resident pages came along");
	kmm_vmalloc_zero(q, q, 6 * MiB);
	cr_assert_eq(resident_pages(q + 2 * MiB, 4 * MiB), 0, "the new part untouched by calloc");
	cr_assert(all_zero(q, 6 * MiB));
	int wst = child_writes(p);
	cr_assert(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGSEGV, "the old range is PROT_NONE again");
	kmm_vfree(q);
	/* a lazily freed area of less than a quarter of the request stays */
	char *small = kmm_vmalloc(MiB, CALLER);
	char *blocker2 = kmm_vmalloc(PG, CALLER);
	cr_assert(small && blocker2);
	kmm_vmalloc_purge(true);
	kmm_vfree(small);
	st0 = stats();
	char *r = kmm_vmalloc(5 * MiB, CALLER);
	st1 = stats();
	cr_assert_not_null(r);
	cr_assert_eq(st1.reused, st0.reused, "a new area");
	cr_assert_eq(st1.lazy_areas, st0.lazy_areas, "the small lazily freed area stays for a request it fits");
	kmm_vfree(r);
	kmm_vfree(blocker);
	kmm_vfree(blocker2);
	CHECK_DEMAND("moved lazy area");
}

Test(demand, out_of_memory_is_enomem_and_leaks_nothing)
{
	demand_mode();
	FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
	int mode = -1;
	if (f != NULL) {
		if (fscanf(f, "%d", &mode) != 1)
			mode = -1;
		fclose(f);
	}
	if (mode == 1)
		cr_skip_test("overcommit_memory=1: the kernel grants any size");
	char *p = kmm_vmalloc(MiB, CALLER);
	cr_assert_not_null(p);
	fill(p, MiB, 19);
	struct kmm_vmalloc_stats st0 = stats();
	errno = 0;
	cr_assert_null(kmm_vmalloc((size_t)1 << 45, CALLER), "32 TiB: refused by the kernel's overcommit check");
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(kmm_vrealloc(p, (size_t)1 << 45));
	cr_assert_eq(errno, ENOMEM);
	struct kmm_vmalloc_stats st1 = stats();
	cr_assert_eq(st1.busy_areas, st0.busy_areas);
	cr_assert_eq(st1.busy_bytes, st0.busy_bytes);
	cr_assert_eq(st1.lazy_areas, st0.lazy_areas);
	cr_assert(verify(p, MiB, 19), "the area is untouched");
	cr_assert_eq(kmm_vmalloc_size(p), MiB);
	check_guard(p, "after a refused growth");
	CHECK_DEMAND("after ENOMEM");
	kmm_vfree(p);
	kmm_vmalloc_purge(true);
	st1 = stats();
	cr_assert_eq(st1.free_bytes, st1.space_bytes, "no range lost (a space may have been added)");
	CHECK_DEMAND("purged");
}

Test(demand, both_kinds_of_area_side_by_side)
{
	keep_lazy();
	frames_mode();
	char *f = kmm_vmalloc(MiB, CALLER);
	demand_mode();
	char *d = kmm_vmalloc(MiB, CALLER);
	cr_assert(f && d);
	fill(f, MiB, 20);
	fill(d, MiB, 21);
	kmm_vfree(f);
	kmm_vfree(d);
	cr_assert_eq(stats().lazy_areas, 2);
	char *d2 = kmm_vmalloc(MiB, CALLER);
	cr_assert_eq(d2, d, "demand mode reuses the demand-paged area");
	frames_mode();
	char *f2 = kmm_vmalloc(MiB, CALLER);
	cr_assert_eq(f2, f, "frames mode the frames area");
	cr_assert(verify(d2, MiB, 21) && verify(f2, MiB, 20));
	char *g = kmm_vrealloc(f2, 3 * MiB);
	demand_mode();
	char *h = kmm_vrealloc(d2, 3 * MiB);
	cr_assert(g && h && verify(g, MiB, 20) && verify(h, MiB, 21), "each grows its own way");
	CHECK_VMALLOC();
	kmm_vfree(g);
	kmm_vfree(h);
	kmm_vmalloc_purge(true);
	cr_assert_eq(stats().lazy_areas, 0);
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

/* (150 s: in an --enable-debug build on a busy 2-core machine the frames
 * variant alone took 46 s, and criterion runs the two variants side by
 * side; a deadlock still fails fast through the children's alarm(20)) */
BOTH_MODES(vmalloc_fork, fork_while_threads_vmalloc, .timeout = 150)
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

/* ---- failing half way ----------------------------------------------------------------
 *
 * Every OS call that may need memory fails in turn (os.h, fail=) while the
 * kernel side builds areas and its own metadata: vmap_area objects from
 * their slab cache, slab pages from the buddy allocator, buddy sections
 * and vmalloc space from the OS, frames for areas.  Each kmm_vmalloc,
 * kmm_vrealloc and kmm_kmalloc gives NULL (a refused vrealloc leaves its
 * area as it was) or a good block; the checkers stay clean at each step;
 * once everything is freed, purged and trimmed, no area, object or page
 * is left over.  Each round wants more metadata than the last (more
 * areas), so that its failures land on metadata growth too. */
#include "os.h"

BOTH_MODES(failinject, every_os_call_fails_in_turn_and_nothing_is_left)
{
	static const size_t sizes[] = { 4096, 3 * 4096, 5000, 64 * 1024, 300 * 1024, 2 * MiB };
	enum { MAXN = 320 };
	static void *v[MAXN], *k[MAXN];
	static size_t vs[MAXN];
	struct kmm_vmalloc_stats st0, st;
	size_t nulls = 0, rounds = 0;

	kmm_vfree(kmm_vmalloc(4096, CALLER));   /* (set up) */
	kmm_kfree(kmm_kmalloc(64));
	kmm_vmalloc_purge(true);
	kmm_kernel_trim();
	kmm_vmalloc_stats(&st0);
	for (uint64_t at = 1; at <= 40; at++, rounds++) {
		size_t n = 8 * (size_t)at < MAXN ? 8 * (size_t)at : MAXN;
		kmm_os_fail_at(0, false);
		kmm_os_fail_at(kmm_os_fail_calls() + at, false);
		for (size_t i = 0; i < n; i++) {
			vs[i] = sizes[i % 6];
			v[i] = kmm_vmalloc(vs[i], CALLER);
			k[i] = kmm_kmalloc(8 + i % 500);
			nulls += (v[i] == NULL) + (k[i] == NULL);
			if (v[i] != NULL)
				memset(v[i], (int)(i & 0xff), vs[i]);
			if (k[i] != NULL)
				memset(k[i], 0x5a, 8);
		}
		for (size_t i = 0; i < n; i += 7) {
			if (v[i] == NULL)
				continue;
			void *r = kmm_vrealloc(v[i], vs[i] * 3);
			unsigned char *b = r != NULL ? r : v[i];
			cr_assert(b[0] == (i & 0xff) && b[vs[i] - 1] == (i & 0xff),
				  "round %llu: area %zu lost its contents (%s vrealloc)", (unsigned long long)at, i,
				  r != NULL ? "after a" : "after a refused");
			if (r != NULL) {
				v[i] = r;
				vs[i] *= 3;
			} else {
				nulls++;
			}
		}
		cr_assert_eq(kmm_kernel_check(1), 0, "round %llu: kernel-side invariants violated", (unsigned long long)at);
		for (size_t i = 0; i < n; i++) {
			kmm_vfree(v[i]);
			kmm_kfree(k[i]);
		}
		kmm_os_fail_at(0, false);
		kmm_vmalloc_purge(true);
		kmm_kernel_trim();
		kmm_vmalloc_stats(&st);
		cr_assert_eq(st.busy_areas, st0.busy_areas, "round %llu: %zu areas left", (unsigned long long)at,
			     st.busy_areas - st0.busy_areas);
		cr_assert_eq(st.busy_bytes, st0.busy_bytes);
		cr_assert_eq(st.lazy_areas, 0);
		CHECK_VMALLOC();
	}
	cr_assert_gt(nulls, rounds / 2, "only %zu refusals in %zu rounds: the failures did not land", nulls, rounds);
	cr_log_info("%zu refusals in %zu rounds", nulls, rounds);
	/* and it all works again */
	void *a = kmm_vmalloc(4 * MiB, CALLER);
	cr_assert_not_null(a);
	memset(a, 1, 4 * MiB);
	kmm_vfree(a);
	CHECK_VMALLOC();
}

/*
 * test_heap.c — the heap side through the prefixed API: break growth, the
 * tcache, every bin, consolidation, the mmap threshold, realloc, calloc,
 * memalign, trimming, segments, threads, fork and misuse.  Every test ends
 * with the invariant checkers (CHECK_HEAP).
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "heap/heap.h"
#include "kernel/slab.h"
#include "kernel/kernel.h"

/* These tests look at the ptmalloc side itself: chunks, bins, the tcache,
 * the break.  Small requests go there with front=tcache (profile=glibc's
 * front end); the slab front end has its own tests (test_uslab.c). */
__attribute__((constructor)) static void front_tcache(void)
{
	kmm_mallopt(KMM_M_FRONT, KMM_FRONT_TCACHE);
}

#define PAGE 4096ul

/* ---- break growth: the seed's experiment ---------------------------------- */

Test(brk, first_malloc_grows_break_by_0x21000)
{
	char *b0 = sbrk(0);
	cr_assert_eq((uintptr_t)b0 % PAGE, 0, "the break starts page aligned");
	char *p = kmm_malloc(16);
	char *b1 = sbrk(0);
	/* tcache (0x290) + top_pad (0x20000) + MINSIZE (0x20), page aligned */
	cr_assert_eq(b1 - b0, 0x21000, "first growth was %#lx", (long)(b1 - b0));
	/* the tcache is the first chunk, the user's block the second */
	cr_assert_eq(p, b0 + 0x290 + 0x10);
	cr_assert_eq(arena_stats()->brk_grows, 1);
	CHECK_HEAP();
}

Test(brk, growth_continues_in_top_pad_strides)
{
	char *b0 = sbrk(0);
	kmm_malloc(16);
	/* consume the top: 130 KiB in 1 KiB blocks */
	for (int i = 0; i < 130; i++)
		cr_assert_not_null(kmm_malloc(1000));
	char *b1 = sbrk(0);
	cr_assert_eq(arena_stats()->brk_grows, 1, "still the first growth");
	cr_assert_not_null(kmm_malloc(4000));  /* does not fit in the top any more */
	char *b2 = sbrk(0);
	cr_assert_eq(arena_stats()->brk_grows, 2);
	/* the second step: nb + top_pad + MINSIZE - old top, page aligned */
	cr_assert((size_t)(b2 - b1) >= 0x20000 && (size_t)(b2 - b1) <= 0x21000 + PAGE,
		  "second growth %#lx", (long)(b2 - b1));
	cr_assert(b1 > b0);
	CHECK_HEAP();
}

/* ---- the tcache ------------------------------------------------------------ */

Test(tcache, lifo_reuse_without_lock)
{
	void *p = kmm_malloc(40);
	kmm_free(p);
	uint64_t hits = kmm_self.c.tc_alloc_hits;
	void *q = kmm_malloc(40);
	cr_assert_eq(q, p);
	cr_assert_eq(kmm_self.c.tc_alloc_hits, hits + 1);
	kmm_free(q);
	CHECK_HEAP();
}

Test(tcache, holds_seven_then_fastbin)
{
	void *p[10];
	for (int i = 0; i < 10; i++)
		p[i] = kmm_malloc(40);            /* chunk 48 */
	kmm_malloc(16);                           /* guard against top */
	for (int i = 0; i < 10; i++)
		kmm_free(p[i]);
	struct kmm_tcache *tc = kmm_self.tcache;   /* the real one (tc: the fast paths') */
	cr_assert_eq(tc->counts[kmm_csize2tidx(48)], 7);
	cr_assert_eq(arena_stats()->frees_fastbin, 3);
	cr_assert_eq(kmm_mallinfo2().smblks, 3);
	CHECK_HEAP();

	/* 7 from the tcache, then the fastbin serves one and stashes two */
	for (int i = 0; i < 7; i++)
		kmm_malloc(40);
	uint64_t fills = arena_stats()->tcache_fills;
	kmm_malloc(40);
	cr_assert_eq(arena_stats()->served[KMM_PATH_FASTBIN], 1);
	cr_assert_eq(arena_stats()->tcache_fills, fills + 2);
	cr_assert_eq(tc->counts[kmm_csize2tidx(48)], 2);
	CHECK_HEAP();
}

Test(tcache, double_free_detected, .signal = SIGABRT)
{
	void *p = kmm_malloc(64);
	kmm_free(p);
	kmm_free(p);
}

Test(tcache, count_zero_turns_it_off)
{
	tcache_off();
	void *p = kmm_malloc(40);
	kmm_malloc(16);
	kmm_free(p);
	cr_assert_eq(arena_stats()->frees_fastbin, 1);
	cr_assert_eq(kmm_malloc(40), p);
	cr_assert_eq(arena_stats()->served[KMM_PATH_FASTBIN], 1);
	CHECK_HEAP();
}

/* ---- bins ------------------------------------------------------------------ */

Test(bins, fastbin_double_free_detected, .signal = SIGABRT)
{
	tcache_off();
	void *p = kmm_malloc(40);
	kmm_malloc(16);
	kmm_free(p);
	kmm_free(p);
}

Test(bins, normal_double_free_detected, .signal = SIGABRT)
{
	tcache_off();
	void *p = kmm_malloc(600);
	kmm_malloc(16);
	kmm_free(p);
	kmm_free(p);
}

Test(bins, unsorted_then_smallbin_fifo)
{
	tcache_off();
	void *a = kmm_malloc(200);   /* chunk 208: above max_fast */
	kmm_malloc(16);
	void *b = kmm_malloc(200);
	kmm_malloc(16);
	kmm_free(a);
	kmm_free(b);
	cr_assert_eq(arena_stats()->frees_unsorted, 2);
	/* a different size sorts both into small bin 13 and takes the top */
	kmm_malloc(300);
	cr_assert_eq(arena_stats()->sorted, 2);
	mchunk bin = bin_at(&kmm_main_arena, smallbin_index(208));
	cr_assert_neq(bin->fd, bin, "small bin 13 holds the chunks");
	CHECK_HEAP();
	/* FIFO: the first freed comes back first */
	cr_assert_eq(kmm_malloc(200), a);
	cr_assert_eq(arena_stats()->served[KMM_PATH_SMALLBIN], 1);
	cr_assert_eq(kmm_malloc(200), b);
	CHECK_HEAP();
}

Test(bins, exact_fit_from_unsorted)
{
	tcache_off();
	void *a = kmm_malloc(3000);
	kmm_malloc(16);
	kmm_free(a);
	cr_assert_eq(kmm_malloc(3000), a);
	cr_assert_eq(arena_stats()->served[KMM_PATH_UNSORTED], 1);
	CHECK_HEAP();
}

Test(bins, neighbours_coalesce)
{
	tcache_off();
	char *a = kmm_malloc(500);   /* chunk 512 */
	char *b = kmm_malloc(500);
	kmm_malloc(16);
	cr_assert_eq(b - a, 512);
	kmm_free(a);
	kmm_free(b);
	cr_assert(arena_stats()->merges >= 1);
	mchunk u = unsorted_bin(&kmm_main_arena);
	cr_assert_eq(u->fd, chunk_of(a), "the merged chunk starts at a");
	cr_assert_eq(chunksize(u->fd), 1024);
	cr_assert_eq(u->fd->fd, u, "exactly one chunk");
	CHECK_HEAP();
	/* 1008 bytes come from it, via its large bin and the binmap */
	cr_assert_eq(kmm_malloc(1000), a);
	CHECK_HEAP();
}

Test(bins, free_next_to_top_merges_into_top)
{
	tcache_off();
	kmm_malloc(16);
	size_t top0 = top_size(&kmm_main_arena);
	void *p = kmm_malloc(5000);
	kmm_free(p);
	cr_assert_eq(top_size(&kmm_main_arena), top0);
	cr_assert_eq(arena_stats()->frees_top, 1);
	CHECK_HEAP();
}

Test(bins, large_bins_sorted_best_fit_and_binmap)
{
	tcache_off();
	size_t req[] = { 2000, 2100, 2050, 2010 };   /* chunks 2016 2112 2064 2032 */
	void *p[4];
	for (int i = 0; i < 4; i++) {
		p[i] = kmm_malloc(req[i]);
		kmm_malloc(16);
	}
	void *e = kmm_malloc(500);
	kmm_malloc(16);
	for (int i = 0; i < 4; i++)
		kmm_free(p[i]);
	kmm_free(e);
	/* the exact fit freed last: the four older chunks are sorted on the
	 * way to it, into large bins 79 (2016, 2032), 80 and 81 */
	cr_assert_eq(kmm_malloc(500), e);
	cr_assert_eq(arena_stats()->sorted, 4);
	mchunk b79 = bin_at(&kmm_main_arena, 79);
	cr_assert_eq(chunksize(b79->fd), 2032, "largest first");
	cr_assert_eq(chunksize(b79->bk), 2016, "smallest last");
	cr_assert(bin_marked(&kmm_main_arena, 79) && bin_marked(&kmm_main_arena, 80) &&
		  bin_marked(&kmm_main_arena, 81));
	CHECK_HEAP();

	/* exact size in bin 79 */
	cr_assert_eq(kmm_malloc(2000), p[0]);
	cr_assert_eq(arena_stats()->served[KMM_PATH_LARGEBIN], 1);
	/* best fit for a 2032-byte chunk */
	cr_assert_eq(kmm_malloc(2012), p[3]);
	cr_assert_eq(arena_stats()->served[KMM_PATH_LARGEBIN], 2);
	/* bin 79 is empty now: the binmap finds bin 80 (2064) and splits it */
	char *q = kmm_malloc(1990);
	cr_assert_eq(q, p[2]);
	cr_assert_eq(arena_stats()->served[KMM_PATH_BINMAP], 1);
	CHECK_HEAP();
}

Test(bins, small_request_splits_the_next_nonempty_bin)
{
	tcache_off();
	void *a = kmm_malloc(2000);
	kmm_malloc(16);
	void *e = kmm_malloc(500);
	kmm_malloc(16);
	kmm_free(a);
	kmm_free(e);
	cr_assert_eq(kmm_malloc(500), e);     /* sorts a into large bin 79 */
	/* no 48-byte chunk anywhere: the binmap finds bin 79 and splits a;
	 * the remainder becomes the "last remainder" */
	cr_assert_eq(kmm_malloc(40), a);
	cr_assert_eq(arena_stats()->served[KMM_PATH_BINMAP], 1);
	cr_assert_eq(kmm_main_arena.last_remainder, chunk_at(chunk_of(a), 48));
	/* the next small request comes from that remainder (locality) */
	cr_assert_eq(kmm_malloc(40), (char *)a + 48);
	cr_assert_eq(arena_stats()->served[KMM_PATH_REMAINDER], 1);
	CHECK_HEAP();
}

Test(bins, many_equal_sizes_keep_the_skip_list)
{
	tcache_off();
	void *p[60];
	for (int i = 0; i < 60; i++) {
		p[i] = kmm_malloc(1500 + (size_t)(i % 5) * 16);
		kmm_malloc(16);
	}
	for (int i = 0; i < 60; i += 2)
		kmm_free(p[i]);
	kmm_malloc(16);
	CHECK_HEAP();
	/* take them out in an order that unlinks run leaders */
	for (int i = 0; i < 60; i += 4)
		cr_assert_not_null(kmm_malloc(1500 + (size_t)(i % 5) * 16));
	CHECK_HEAP();
	for (int i = 1; i < 60; i += 2)
		kmm_free(p[i]);
	CHECK_HEAP();
}

Test(bins, consolidate_on_large_request)
{
	tcache_off();
	void *p[8];
	for (int i = 0; i < 8; i++)
		p[i] = kmm_malloc(100);       /* fast chunks, adjacent */
	kmm_malloc(16);
	for (int i = 0; i < 8; i++)
		kmm_free(p[i]);
	cr_assert_eq(kmm_main_arena.have_fastchunks, 1);
	kmm_malloc(2000);                 /* large: consolidates first */
	cr_assert_eq(kmm_main_arena.have_fastchunks, 0);
	cr_assert(arena_stats()->consolidations >= 1);
	CHECK_HEAP();
	/* the eight 112-byte chunks became one 896-byte chunk */
	cr_assert_eq(kmm_malloc(880), p[0]);
	CHECK_HEAP();
}

/* ---- the mmap threshold ----------------------------------------------------- */

Test(mmap, request_above_threshold_gets_its_own_vmalloc_area)
{
	char *p = kmm_malloc(200 * 1024);
	cr_assert(is_big(p));
	cr_assert_eq((uintptr_t)p % PAGE, 0, "the block is the area: no header in front");
	size_t expect = KMM_ALIGN_UP(200 * 1024, PAGE);
	cr_assert_eq(kmm_vmalloc_size(p), expect);
	cr_assert_eq(kmm_malloc_usable_size(p), expect);
	memset(p, 1, kmm_malloc_usable_size(p));
	cr_assert_eq(kmm_big_stats.n_mmaps, 1);
	cr_assert_eq(kmm_big_stats.mmapped_mem, expect);
	CHECK_HEAP();
}

Test(mmap, eight_mib_is_2048_pages_plus_a_guard_page)
{
	/* the seed's example: vmalloc(8 MiB) shows size 0x801000 */
	char *p = kmm_malloc(8 << 20);
	cr_assert(is_big(p));
	cr_assert_eq(kmm_vmalloc_size(p), (size_t)8 << 20, "2048 pages, no more");
	char *q = kmm_malloc(8 << 20);
	cr_assert_geq((uintptr_t)q, (uintptr_t)p + (8 << 20) + PAGE, "a guard page between areas");
	kmm_free(q);
	kmm_free(p);
	CHECK_HEAP();
}

Test(mmap, page_aligned_heap_chunks_are_not_big_blocks)
{
	/* memalign in the heap can return page aligned chunks: free must tell
	 * them from big blocks by address, not by alignment alone */
	kmm_malloc(16);
	for (int i = 0; i < 8; i++) {
		char *p = kmm_memalign(PAGE, 100);
		cr_assert_eq((uintptr_t)p % PAGE, 0);
		cr_assert(in_heap(p) && !is_big(p));
		cr_assert_eq(kmm_malloc_usable_size(p), chunksize(chunk_of(p)) - 8);
		char *q = kmm_realloc(p, 50);
		cr_assert_eq(q, p);
		kmm_free(q);
	}
	CHECK_HEAP();
}

Test(mmap, freed_big_block_is_cached_and_reused)
{
	/* kmm's default: the area stays mapped (lazily freed) and the next
	 * block of that size takes it back: no new area, no threshold change */
	char *p = kmm_malloc(200 * 1024);
	memset(p, 7, 200 * 1024);
	kmm_free(p);
	cr_assert_eq(kmm_params.mmap_threshold, 128 * 1024);
	struct kmm_vmalloc_stats before, after;
	kmm_vmalloc_stats(&before);
	cr_assert_eq(before.lazy_areas, 1);
	char *q = kmm_malloc(200 * 1024);
	kmm_vmalloc_stats(&after);
	cr_assert_eq(q, p, "the lazily freed area came back");
	cr_assert(is_big(q));
	cr_assert_eq(after.reused, before.reused + 1);
	cr_assert_eq(after.lazy_areas, 0);
	CHECK_HEAP();
}

Test(mmap, glibc_rule_raises_the_threshold_after_free)
{
	cr_assert_eq(kmm_mallopt(KMM_M_THRESHOLD_RULE, KMM_THRESHOLD_RULE_GLIBC), 1);
	char *p = kmm_malloc(200 * 1024);
	/* what glibc's mapped chunk would measure: header + data in pages */
	size_t size = KMM_ALIGN_UP(200 * 1024 + 16, PAGE);
	cr_assert_eq(kmm_params.mmap_threshold, 128 * 1024);
	kmm_free(p);
	cr_assert_eq(kmm_params.mmap_threshold, size, "raised to the freed chunk's size");
	cr_assert_eq(kmm_params.trim_threshold, 2 * size);
	cr_assert_eq(kmm_big_stats.threshold_raises, 1);
	/* the same request now comes from the heap */
	char *q = kmm_malloc(200 * 1024);
	cr_assert(!is_big(q));
	cr_assert(in_heap(q));
	CHECK_HEAP();
}

Test(mmap, threshold_capped_at_32_mib)
{
	cr_assert_eq(kmm_mallopt(KMM_M_THRESHOLD_RULE, KMM_THRESHOLD_RULE_GLIBC), 1);
	char *p = kmm_malloc(40 << 20);
	cr_assert(is_big(p));
	kmm_free(p);
	cr_assert_eq(kmm_params.mmap_threshold, 128 * 1024, "above 32 MiB: unchanged");
	CHECK_HEAP();
}

Test(mmap, mallopt_fixes_the_threshold)
{
	cr_assert_eq(kmm_mallopt(M_MMAP_THRESHOLD, 128 * 1024), 1);
	char *p = kmm_malloc(300 * 1024);
	cr_assert(is_big(p));
	kmm_free(p);
	cr_assert_eq(kmm_params.mmap_threshold, 128 * 1024);
	cr_assert_eq(kmm_mallopt(M_MMAP_THRESHOLD, 64 << 20), 0, "above the 32 MiB maximum");
	CHECK_HEAP();
}

Test(mmap, top_serves_big_request_when_it_fits)
{
	/* glibc's rule, which kmm keeps: the mmap threshold only matters when
	 * the top chunk cannot serve the request */
	kmm_malloc(16);
	cr_assert_eq(top_size(&kmm_main_arena), 0x21000 - 0x290 - 0x20);
	char *p = kmm_malloc(132000);   /* above 128 KiB, but the top has room */
	cr_assert(!is_big(p));
	cr_assert(in_heap(p));
	cr_assert_eq(kmm_big_stats.maps, 0);
	char *q = kmm_malloc(132000);   /* now it does not fit: own mapping */
	cr_assert(is_big(q));
	CHECK_HEAP();
}

Test(mmap, mmap_max_zero_uses_the_heap)
{
	cr_assert_eq(kmm_mallopt(M_MMAP_MAX, 0), 1);
	char *p = kmm_malloc(1 << 20);
	cr_assert(!is_big(p));
	cr_assert(in_heap(p));
	cr_assert(kmm_big_stats.refused_max >= 1);
	CHECK_HEAP();
}

Test(mmap, realloc_uses_mremap)
{
	char *p = kmm_malloc(300 * 1024);
	fill(p, 300 * 1024, 7);
	char *q = kmm_realloc(p, 3 << 20);
	cr_assert_not_null(q);
	cr_assert(is_big(q));
	cr_assert(verify(q, 300 * 1024, 7), "contents kept");
	cr_assert_eq(kmm_big_stats.remaps, 1);
	memset(q, 3, 3 << 20);
	char *r = kmm_realloc(q, 200 * 1024);
	cr_assert(is_big(r));
	cr_assert(kmm_malloc_usable_size(r) < (size_t)(3 << 20));
	cr_assert_eq(r[200 * 1024 - 1], 3);
	cr_assert_eq(kmm_big_stats.remaps, 2);
	kmm_free(r);
	CHECK_HEAP();
}

/* ---- trimming ------------------------------------------------------------- */

Test(trim, break_shrinks_after_freeing_the_top)
{
	void *p[20];
	kmm_params_set(KMM_P_TRIM_RULE, KMM_TRIM_GLIBC);
	kmm_malloc(16);
	char *b0 = sbrk(0);
	for (int i = 0; i < 20; i++)
		p[i] = kmm_malloc(100 * 1024);   /* below the threshold: heap */
	char *peak = sbrk(0);
	cr_assert((size_t)(peak - b0) >= 20 * 100 * 1024);
	for (int i = 19; i >= 0; i--)
		kmm_free(p[i]);
	char *after = sbrk(0);
	cr_assert(after < peak, "break lowered");
	cr_assert(arena_stats()->brk_trims >= 1);
	/* what is left of the top: at most top_pad + MINSIZE + a page */
	cr_assert(top_size(&kmm_main_arena) <= 128 * 1024 + 32 + PAGE,
		  "top %zu", top_size(&kmm_main_arena));
	CHECK_HEAP();
}

/* trim_rule=decay (trim.c): a free keeps what the period reached */
Test(trim, decay_keeps_what_the_last_period_reached)
{
	void *p[20];
	cr_assert_eq(kmm_params.trim_rule, KMM_TRIM_DECAY, "kmm's default");
	kmm_malloc(16);
	for (int round = 0; round < 3; round++) {
		char *before = sbrk(0);
		for (int i = 0; i < 20; i++)
			p[i] = kmm_malloc(100 * 1024);
		char *peak = sbrk(0);
		if (round > 0)
			cr_assert_eq(peak, before, "round %d: the kept top served the batch", round);
		for (int i = 19; i >= 0; i--)
			kmm_free(p[i]);
		cr_assert_eq((char *)sbrk(0), peak, "round %d: the break stays", round);
		cr_assert_eq(arena_stats()->brk_trims, 0);
		CHECK_HEAP();
	}
	/* a period that reaches only 100 KiB into the top: the rest goes */
	char *peak = sbrk(0);
	kmm_free(kmm_malloc(100 * 1024));
	cr_assert((char *)sbrk(0) < peak, "break lowered");
	cr_assert_eq(arena_stats()->brk_trims, 1);
	cr_assert(top_size(&kmm_main_arena) <= 100 * 1024 + 128 * 1024 + 32 + 2 * PAGE,
		  "top %zu", top_size(&kmm_main_arena));
	CHECK_HEAP();
}

static void *alloc_in_own_arena(void *arg)
{
	void *p = kmm_malloc(100 * 1024);
	*(struct kmm_arena **)arg = kmm_self.arena;
	kmm_free(p);
	return NULL;
}

Test(trim, decay_an_arena_that_grows_trims_idle_ones)
{
	void *p[20];
	kmm_malloc(16);
	for (int i = 0; i < 20; i++)
		p[i] = kmm_malloc(100 * 1024);
	char *peak = sbrk(0);
	for (int i = 19; i >= 0; i--)
		kmm_free(p[i]);
	cr_assert_eq((char *)sbrk(0), peak, "kept for reuse");
	struct kmm_arena *other = NULL;
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, alloc_in_own_arena, &other), 0);
	pthread_join(th, NULL);
	cr_assert_neq(other, &kmm_main_arena);
	cr_assert((char *)sbrk(0) < peak, "the idle main arena's top went back when another arena grew");
	cr_assert(top_size(&kmm_main_arena) <= 128 * 1024 + 32 + PAGE, "top %zu",
		  top_size(&kmm_main_arena));
	CHECK_HEAP();
}

Test(trim, malloc_trim_returns_pages_inside_free_chunks)
{
	tcache_off();
	char *a = kmm_malloc(64 * 1024);
	kmm_malloc(16);          /* keeps a away from the top */
	memset(a, 1, 64 * 1024);
	kmm_free(a);
	cr_assert_eq(kmm_malloc_trim(0), 1);
	cr_assert(arena_stats()->madvised_bytes >= 14 * PAGE);
	/* the pages read back as zero, the chunk header survived */
	cr_assert_eq(a[32 * 1024], 0);
	CHECK_HEAP();
	cr_assert_eq(kmm_malloc(64 * 1024), a);
	CHECK_HEAP();
}

/* Found by the fuzzer (tests/fuzz/): a free chunk in a large bin whose
 * first 32 bytes end on a page boundary had its skip links (bytes 32-47)
 * zeroed by malloc_trim's madvise. */
Test(trim, keeps_the_skip_links_of_a_large_free_chunk)
{
	tcache_off();
	char *first = kmm_malloc(100);
	uintptr_t next = (uintptr_t)chunk_of(first) + chunksize(chunk_of(first));
	/* a filler chunk, so that the large chunk starts 32 bytes before a
	 * page boundary */
	size_t fill = (PAGE - 32 - next % PAGE) % PAGE;
	if (fill < 32)
		fill += PAGE;
	char *filler = kmm_malloc(fill - 8);
	cr_assert_eq((uintptr_t)chunk_of(filler), next);
	char *large = kmm_malloc(20000);
	cr_assert_eq(((uintptr_t)chunk_of(large) + 32) % PAGE, 0);
	kmm_malloc(100);                 /* keeps it away from the top */
	kmm_free(large);
	kmm_free(kmm_malloc(30000));     /* sorts it into its large bin */
	CHECK_HEAP();
	cr_assert_eq(kmm_malloc_trim(0), 1);
	CHECK_HEAP();
	cr_assert_eq(kmm_malloc(20000), large);
	CHECK_HEAP();
}

Test(trim, mallopt_trim_threshold_minus_one_never_trims)
{
	cr_assert_eq(kmm_mallopt(M_TRIM_THRESHOLD, -1), 1);
	void *p[10];
	kmm_malloc(16);
	for (int i = 0; i < 10; i++)
		p[i] = kmm_malloc(100 * 1024);
	for (int i = 9; i >= 0; i--)
		kmm_free(p[i]);
	cr_assert_eq(arena_stats()->brk_trims, 0);
	CHECK_HEAP();
}

/* realloc of a block freed already: glibc does not look (and reads past
 * its heap when the block went into the top); kmm aborts */
Test(realloc, of_a_block_merged_into_the_top_aborts, .signal = SIGABRT)
{
	char *p = kmm_malloc(100000);
	kmm_free(p);
	kmm_realloc(p, 200000);
}

Test(realloc, of_a_freed_block_in_a_bin_aborts, .signal = SIGABRT)
{
	char *p = kmm_malloc(100000);
	char *guard = kmm_malloc(100000);   /* p does not merge into the top */
	kmm_free(p);
	kmm_realloc(p, 200000);
	kmm_free(guard);
}

/* ---- calloc --------------------------------------------------------------- */

Test(calloc, clears_reused_memory)
{
	/* glibc's calloc does not take from the tcache: eight blocks freed,
	 * seven go to it, the eighth to the bins or the top, where calloc
	 * finds it (dirty) */
	char *b[8];
	for (int i = 0; i < 8; i++) {
		b[i] = kmm_malloc(1000);
		memset(b[i], 0xAA, kmm_malloc_usable_size(b[i]));
	}
	for (int i = 0; i < 8; i++)
		kmm_free(b[i]);
	char *q = kmm_calloc(1, 1000);
	for (int i = 0; i < 7; i++)
		cr_assert_neq(q, b[i], "not from the tcache");
	cr_assert(all_zero(q, kmm_malloc_usable_size(q)));

	char *r = kmm_malloc(100000);
	memset(r, 0xBB, kmm_malloc_usable_size(r));
	kmm_free(r);                      /* back into the top */
	char *s = kmm_calloc(1, 100000);
	cr_assert_eq(s, r, "from the (dirty) top");
	cr_assert(all_zero(s, kmm_malloc_usable_size(s)));
	CHECK_HEAP();
}

static size_t resident_pages(void *p, size_t len)
{
	unsigned char vec[4096];
	uintptr_t lo = KMM_ALIGN_UP((uintptr_t)p, PAGE);
	uintptr_t hi = KMM_ALIGN_DOWN((uintptr_t)p + len, PAGE);
	size_t n = (hi - lo) / PAGE, res = 0;
	cr_assert(n <= sizeof vec);
	cr_assert_eq(mincore((void *)lo, hi - lo, vec), 0);
	for (size_t i = 0; i < n; i++)
		res += vec[i] & 1;
	return res;
}

Test(calloc, does_not_touch_memory_fresh_from_brk)
{
	cr_assert_eq(kmm_mallopt(M_MMAP_THRESHOLD, 16 << 20), 1);
	kmm_malloc(16);
	char *p = kmm_calloc(1, 4 << 20);     /* grows the break by 4 MiB */
	cr_assert(in_heap(p));
	cr_assert(!is_big(p));
	size_t res = resident_pages(p, 4 << 20);
	cr_assert(res <= 2, "%zu of 1024 pages were touched", res);
	cr_assert(all_zero(p, 4 << 20));
	CHECK_HEAP();
}

Test(calloc, does_not_touch_fresh_mappings)
{
	char *p = kmm_calloc(256, 4096);
	cr_assert(is_big(p));
	cr_assert(resident_pages(p, 1 << 20) <= 1);
	cr_assert(all_zero(p, 1 << 20));
	CHECK_HEAP();
}

Test(calloc, overflow_is_enomem)
{
	errno = 0;
	cr_assert_null(kmm_calloc(SIZE_MAX / 2, 3));
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(kmm_calloc((size_t)1 << 32, (size_t)1 << 32));
	cr_assert_eq(errno, ENOMEM);
	cr_assert_not_null(kmm_calloc(0, 0));
	CHECK_HEAP();
}

/* ---- realloc -------------------------------------------------------------- */

Test(realloc, grows_into_the_top_in_place)
{
	kmm_malloc(16);
	char *p = kmm_malloc(2000);
	fill(p, 2000, 1);
	char *q = kmm_realloc(p, 50000);
	cr_assert_eq(q, p);
	cr_assert(verify(q, 2000, 1));
	CHECK_HEAP();
}

Test(realloc, grows_into_a_free_neighbour)
{
	tcache_off();
	char *p = kmm_malloc(2000);
	char *n = kmm_malloc(3000);
	kmm_malloc(16);
	fill(p, 2000, 2);
	kmm_free(n);
	char *q = kmm_realloc(p, 4500);
	cr_assert_eq(q, p);
	cr_assert(verify(q, 2000, 2));
	CHECK_HEAP();
}

Test(realloc, moves_and_copies_when_boxed_in)
{
	char *p = kmm_malloc(2000);
	kmm_malloc(16);
	fill(p, 2000, 3);
	char *q = kmm_realloc(p, 8000);
	cr_assert_neq(q, p);
	cr_assert(verify(q, 2000, 3));
	CHECK_HEAP();
}

Test(realloc, shrinks_in_place)
{
	tcache_off();
	char *p = kmm_malloc(8000);
	kmm_malloc(16);
	fill(p, 100, 4);
	char *q = kmm_realloc(p, 100);
	cr_assert_eq(q, p);
	cr_assert_eq(kmm_malloc_usable_size(q), request2size(100) - 8);
	cr_assert(verify(q, 100, 4));
	CHECK_HEAP();
}

Test(realloc, null_and_zero)
{
	char *p = kmm_realloc(NULL, 100);
	cr_assert_not_null(p);
	errno = 0;
	cr_assert_null(kmm_realloc(p, 0), "realloc(p, 0) frees");
	errno = 0;
	cr_assert_null(kmm_realloc(kmm_malloc(10), SIZE_MAX));
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(kmm_reallocarray(NULL, SIZE_MAX / 2, 4));
	cr_assert_eq(errno, ENOMEM);
	cr_assert_not_null(kmm_reallocarray(NULL, 100, 4));
	CHECK_HEAP();
}

Test(realloc, invalid_pointer_aborts, .signal = SIGABRT)
{
	char buf[64] __attribute__((aligned(16)));
	memset(buf, 0, sizeof buf);
	kmm_malloc(1);
	kmm_realloc(buf + 16, 100);
}

/* ---- memalign and friends ------------------------------------------------- */

Test(memalign, every_alignment_and_size)
{
	void *keep[200];
	int k = 0;
	for (size_t al = 32; al <= 65536; al <<= 1) {
		for (size_t n = 1; n < 5000; n = n * 3 + 1) {
			char *p = kmm_memalign(al, n);
			cr_assert_not_null(p);
			cr_assert_eq((uintptr_t)p % al, 0, "align %zu size %zu", al, n);
			size_t u = kmm_malloc_usable_size(p);
			cr_assert(u >= n);
			memset(p, 0x5A, u);
			if (k < 200 && (n & 1))
				keep[k++] = p;
			else
				kmm_free(p);
		}
	}
	CHECK_HEAP();
	for (int i = 0; i < k; i++)
		kmm_free(keep[i]);
	CHECK_HEAP();
}

Test(memalign, big_alignment_of_mapped_chunks)
{
	char *p = kmm_memalign(1 << 20, 1 << 20);
	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p % (1 << 20), 0);
	memset(p, 1, 1 << 20);
	kmm_free(p);
	cr_assert_eq(kmm_big_stats.n_mmaps, 0);
	CHECK_HEAP();
}

Test(memalign, bad_alignments)
{
	void *p = (void *)1;
	cr_assert_eq(kmm_posix_memalign(&p, 3, 8), EINVAL);
	cr_assert_eq(kmm_posix_memalign(&p, 24, 8), EINVAL);
	cr_assert_eq(kmm_posix_memalign(&p, 0, 8), EINVAL);
	cr_assert_eq(kmm_posix_memalign(&p, 4, 8), EINVAL, "not a multiple of sizeof(void *)");
	cr_assert_eq(p, (void *)1, "untouched on error");
	cr_assert_eq(kmm_posix_memalign(&p, 64, 8), 0);
	cr_assert_eq((uintptr_t)p % 64, 0);
	errno = 0;
	cr_assert_null(kmm_aligned_alloc(3, 8));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(kmm_aligned_alloc(0, 8));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(kmm_memalign(SIZE_MAX / 2 + 2, 8));
	cr_assert_eq(errno, EINVAL);
	/* glibc's memalign rounds a non-power-of-two alignment up */
	char *q = kmm_memalign(48, 100);
	cr_assert_eq((uintptr_t)q % 64, 0);
	errno = 0;
	cr_assert_eq(kmm_posix_memalign(&p, 64, SIZE_MAX), ENOMEM);
	cr_assert_eq(errno, ENOMEM, "errno too, as glibc's");
	/* alignments above the largest request, up to 2^63 (glibc's
	 * tst-malloc-too-large): ENOMEM, no wrap-around in the size check */
	for (size_t al = (size_t)PTRDIFF_MAX / 2 + 1; al != 0; al <<= 1)
		for (size_t k = 0; k < 3; k++) {
			size_t n = k == 0 ? 1 : k == 1 ? al : SIZE_MAX - al;
			errno = 0;
			cr_assert_null(kmm_memalign(al, n), "memalign(%#zx, %#zx)", al, n);
			cr_assert_eq(errno, ENOMEM);
			cr_assert_null(kmm_aligned_alloc(al, n));
			cr_assert_eq(kmm_posix_memalign(&p, al, n), ENOMEM);
		}
	CHECK_HEAP();
}

Test(memalign, valloc_and_pvalloc)
{
	char *v = kmm_valloc(10);
	cr_assert_eq((uintptr_t)v % PAGE, 0);
	char *w = kmm_pvalloc(10);
	cr_assert_eq((uintptr_t)w % PAGE, 0);
	cr_assert(kmm_malloc_usable_size(w) >= PAGE, "pvalloc rounds the size to a page");
	errno = 0;
	cr_assert_null(kmm_pvalloc(SIZE_MAX - 10));
	cr_assert_eq(errno, ENOMEM);
	CHECK_HEAP();
}

/* ---- sizes and errors ----------------------------------------------------- */

Test(sizes, usable_size_matches_chunk_arithmetic)
{
	cr_assert_eq(kmm_mallopt(KMM_M_ZERO_GUARD, 0), 1);   /* malloc(0) too */
	for (size_t n = 0; n < 2100; n++) {
		char *p = kmm_malloc(n);
		cr_assert_not_null(p);
		cr_assert_eq((uintptr_t)p % 16, 0);
		cr_assert_eq(kmm_malloc_usable_size(p), request2size(n) - 8, "size %zu", n);
		memset(p, 0x11, kmm_malloc_usable_size(p));
		if (n % 3)
			kmm_free(p);
	}
	cr_assert_eq(kmm_malloc_usable_size(NULL), 0);
	CHECK_HEAP();
}

Test(sizes, impossible_requests_fail_with_enomem)
{
	size_t bad[] = { SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX - 16 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		cr_assert_null(kmm_malloc(bad[i]));
		cr_assert_eq(errno, ENOMEM);
	}
	/* a merely huge request fails at the OS, still ENOMEM */
	errno = 0;
	cr_assert_null(kmm_malloc((size_t)1 << 46));
	cr_assert_eq(errno, ENOMEM);
	CHECK_HEAP();
}

Test(misuse, free_of_stack_pointer_aborts, .signal = SIGABRT)
{
	char buf[128] __attribute__((aligned(16)));
	memset(buf, 0, sizeof buf);
	kmm_malloc(1);
	kmm_free(buf + 32);
}

Test(misuse, free_of_interior_pointer_aborts, .signal = SIGABRT)
{
	tcache_off();
	char *p = kmm_malloc(4000);
	kmm_malloc(16);
	kmm_free(p + 64);
}

Test(misuse, free_of_misaligned_pointer_aborts, .signal = SIGABRT)
{
	char *p = kmm_malloc(100);
	kmm_free(p + 1);
}

Test(misuse, free_of_never_allocated_pointer_aborts, .signal = SIGABRT)
{
	static char global[256] __attribute__((aligned(16)));
	kmm_malloc(1);
	kmm_free(global + 64);
}

Test(misuse, free_of_fake_mmapped_chunk_aborts, .signal = SIGABRT)
{
	/* glibc's M bit means nothing to kmm: a "mapped chunk" outside the
	 * heap and vmalloc is just a foreign pointer */
	char *m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mchunk c = (mchunk)(m + 16);
	c->prev_size = 0;
	c->head = (2 * PAGE) | KMM_IS_MMAPPED;
	kmm_free(chunk2mem(c));
}

Test(misuse, free_inside_a_big_block_aborts, .signal = SIGABRT)
{
	char *p = kmm_malloc(1 << 20);
	kmm_free(p + PAGE);
}

Test(misuse, double_free_of_a_big_block_aborts, .signal = SIGABRT)
{
	char *p = kmm_malloc(1 << 20);
	kmm_free(p);
	kmm_free(p);
}

Test(misuse, realloc_of_a_freed_big_block_aborts, .signal = SIGABRT)
{
	char *p = kmm_malloc(1 << 20);
	kmm_free(p);
	kmm_realloc(p, 2 << 20);
}

/* ---- perturb ---------------------------------------------------------------- */

Test(perturb, fills_allocated_and_freed_memory)
{
	cr_assert_eq(kmm_mallopt(M_PERTURB, 0xAB), 1);
	tcache_off();
	unsigned char *p = kmm_malloc(500);
	kmm_malloc(16);
	cr_assert_eq(p[0], 0xAB ^ 0xFF);
	cr_assert_eq(p[499], 0xAB ^ 0xFF);
	kmm_free(p);
	cr_assert_eq(p[300], 0xAB, "freed memory carries the perturb byte");
	unsigned char *z = kmm_calloc(1, 500);
	cr_assert(all_zero(z, 500), "calloc still zeroes");
	CHECK_HEAP();
}

/* ---- non-contiguous heaps --------------------------------------------------- */

Test(segments, foreign_sbrk_starts_a_new_segment)
{
	kmm_malloc(16);
	for (int i = 0; i < 100; i++)
		kmm_malloc(1000);
	char *foreign = sbrk(3 * PAGE + 8);     /* someone else moves the break */
	cr_assert_neq(foreign, (char *)-1);
	memset(foreign, 0xEE, 3 * PAGE + 8);
	void *p[100];
	for (int i = 0; i < 100; i++) {
		p[i] = kmm_malloc(1000);
		memset(p[i], i, 1000);
	}
	cr_assert_eq(arena_stats()->segments, 1);
	cr_assert(arena_stats()->foreign_bytes >= 3 * PAGE);
	cr_assert_eq(((unsigned char *)foreign)[3 * PAGE + 7], 0xEE, "foreign memory untouched");
	CHECK_HEAP();
	for (int i = 0; i < 100; i++)
		kmm_free(p[i]);
	CHECK_HEAP();
}

/* Found by the fuzzer (tests/fuzz/): after a foreign sbrk, closing the old
 * segment frees its top; with a small trim threshold that free trimmed
 * the new top sysmalloc had just grown, and the request failed. */
Test(segments, foreign_sbrk_with_a_small_trim_threshold)
{
	tcache_off();
	cr_assert_eq(kmm_mallopt(M_MMAP_THRESHOLD, 32 << 20), 1);   /* the heap serves 1 MiB */
	cr_assert_eq(kmm_mallopt(M_TRIM_THRESHOLD, 4096), 1);
	kmm_malloc(1000);
	cr_assert_geq(chunksize(kmm_main_arena.top), 64 << 10, "an old top worth trimming");
	char *foreign = sbrk(200 << 10);        /* someone else moves the break */
	cr_assert_neq(foreign, (char *)-1);
	void *p = kmm_malloc(1 << 20);
	cr_assert_not_null(p, "malloc(1 MiB) after the foreign sbrk: %s", strerror(errno));
	cr_assert_eq(arena_stats()->segments, 1);
	memset(p, 1, 1 << 20);
	CHECK_HEAP();
	kmm_free(p);
	CHECK_HEAP();
}

Test(segments, brk_failure_falls_back_to_mmap)
{
	kmm_malloc(16);
	/* block the break: map something right where it would grow */
	char *brk_end = sbrk(0);
	void *blocker = mmap(brk_end, 64 * PAGE, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	cr_assert_eq(blocker, (void *)brk_end, "could not place the blocker");
	void *p[400];
	for (int i = 0; i < 400; i++) {
		p[i] = kmm_malloc(1000);
		cr_assert_not_null(p[i]);
		memset(p[i], i, 1000);
	}
	cr_assert(arena_stats()->morecore_maps >= 1);
	cr_assert(!arena_contiguous(&kmm_main_arena));
	CHECK_HEAP();
	for (int i = 0; i < 400; i += 2)
		kmm_free(p[i]);
	CHECK_HEAP();
}

/* Once brk failed, the main heap's span reaches from the brk heap to the
 * mappings that continue it, and encloses kmm's own sections.  A free of a
 * slab object there, with a word in front of it that passes for a small
 * chunk's header, must still be refused: neither cached by the inline free
 * nor taken for a chunk by the slow path.  The child process shows the
 * message; then the test process itself must abort. */
Test(segments, free_of_kmm_metadata_inside_a_non_contiguous_span_aborts, .signal = SIGABRT)
{
	kmm_malloc(16);
	char *brk_end = sbrk(0);
	void *blocker = mmap(brk_end, 64 * PAGE, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	cr_assert_eq(blocker, (void *)brk_end, "could not place the blocker");
	char *m1 = kmm_kmalloc(64), *m2 = kmm_kmalloc(64);     /* kmm's metadata */
	cr_assert_eq(m2, m1 + 64, "two neighbours in a kmalloc-64 slab");
	for (int i = 0; i < 100 && !arena_spans(&kmm_main_arena, m2); i++)
		cr_assert_not_null(kmm_malloc(100000));
	cr_assert(!arena_contiguous(&kmm_main_arena));
	cr_assert(arena_spans(&kmm_main_arena, m2), "the main heap's span encloses a section");
	/* m1's last word: the header of an 80-byte in-use chunk */
	((size_t *)m2)[-1] = 80 | KMM_PREV_INUSE;

	char want[128], got[256];
	snprintf(want, sizeof want, "kmm: free(): invalid pointer %p (not a block kmm handed out)\n", (void *)m2);
	int fd[2];
	cr_assert_eq(pipe(fd), 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 2);
		kmm_free(m2);
		_exit(kmm_malloc(72) == m2 ? 3 : 0);
	}
	close(fd[1]);
	ssize_t n = read(fd[0], got, sizeof got - 1);
	got[n > 0 ? n : 0] = '\0';
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %#x (exit 3: malloc handed out kmm's object), "
		  "stderr: %s", (unsigned)st, got);
	cr_assert_str_eq(got, want);
	kmm_free(m2);
}

/* ---- reports ---------------------------------------------------------------- */

Test(reports, mallinfo2_balances)
{
	void *p[50];
	for (int i = 0; i < 50; i++)
		p[i] = kmm_malloc((size_t)i * 100);
	for (int i = 0; i < 50; i += 3)
		kmm_free(p[i]);
	struct mallinfo2 mi = kmm_mallinfo2();
	cr_assert_eq(mi.arena, kmm_main_arena.system_mem);
	cr_assert_eq(mi.uordblks + mi.fordblks, mi.arena);
	cr_assert_eq(mi.keepcost, top_size(&kmm_main_arena));
	cr_assert(mi.ordblks >= 1);
	char *big = kmm_malloc(1 << 20);
	mi = kmm_mallinfo2();
	cr_assert_eq(mi.hblks, 1);
	cr_assert(mi.hblkhd >= 1 << 20);
	kmm_free(big);
	CHECK_HEAP();
}

/* The layer samples of the trace log (heap.h, kmm_heap_layers): each
 * layer holds what the frees put there, and with mallinfo2 they balance. */
Test(reports, layers_count_each_layer)
{
	void *p[40], *guard[40];
	for (int i = 0; i < 40; i++) {
		p[i] = kmm_malloc(1000);      /* chunks of 1008 bytes */
		guard[i] = kmm_malloc(24);    /* keeps them apart */
	}
	void *f[12];
	for (int i = 0; i < 12; i++)
		f[i] = kmm_malloc(40);        /* fastbin-sized chunks of 48 bytes */
	kmm_malloc(24);
	struct kmm_heap_layers l0;
	kmm_heap_layers(&l0);
	for (int i = 0; i < 20; i++)
		kmm_free(p[i]);               /* 7 to the tcache, 13 to the unsorted bin */
	for (int i = 0; i < 12; i++)
		kmm_free(f[i]);               /* 7 to the tcache, 5 to a fastbin */
	struct kmm_heap_layers l;
	kmm_heap_layers(&l);
	cr_assert_eq(l.arenas, 1);
	cr_assert_eq(l.system, kmm_main_arena.system_mem);
	cr_assert_eq(l.tcache_n - l0.tcache_n, 14, "tcache: %zu chunks (%zu before)", l.tcache_n, l0.tcache_n);
	cr_assert_eq(l.tcache_bytes - l0.tcache_bytes, 7 * 1008 + 7 * 48);
	cr_assert_eq(l.fast_n - l0.fast_n, 5);
	cr_assert_eq(l.fast_bytes - l0.fast_bytes, 5 * 48);
	cr_assert_eq(l.bin_n[0] - l0.bin_n[0], 13, "unsorted: %zu chunks", l.bin_n[0]);
	cr_assert_eq(l.bin_bytes[0] - l0.bin_bytes[0], 13 * 1008);
	cr_assert_eq(l.top_n, 1);
	cr_assert_eq(l.top_bytes, top_size(&kmm_main_arena));
	cr_assert_eq(l.remote_n, 0);
	/* mallinfo2's free bytes are the fastbins', the bins' and the top's */
	struct mallinfo2 mi = kmm_mallinfo2();
	cr_assert_eq(mi.fordblks, l.fast_bytes + l.bin_bytes[0] + l.bin_bytes[1] + l.bin_bytes[2] + l.top_bytes);
	/* sorted: a request the unsorted bin cannot serve exactly moves its
	 * chunks to their small bin */
	void *x = kmm_malloc(3000);
	kmm_heap_layers(&l);
	cr_assert_eq(l.bin_n[0], 0);
	cr_assert(l.bin_n[1] >= 13, "small bins: %zu chunks", l.bin_n[1]);
	kmm_free(x);
	(void)guard;
	CHECK_HEAP();
}

/* Other threads' tcaches count while they live, and not after they exit;
 * reading them while threads come and go is safe (the list lock). */
static pthread_barrier_t layers_bar;

static void *layers_filler(void *arg)
{
	(void)arg;
	void *p[7];
	for (int i = 0; i < 7; i++)
		p[i] = kmm_malloc(1000);
	for (int i = 0; i < 7; i++)
		kmm_free(p[i]);
	pthread_barrier_wait(&layers_bar);   /* filled */
	pthread_barrier_wait(&layers_bar);   /* counted */
	return NULL;
}

static void *layers_churn(void *arg)
{
	(void)arg;
	for (int i = 0; i < 50; i++)
		kmm_free(kmm_malloc((size_t)(i * 40 + 16)));
	return NULL;
}

Test(reports, layers_count_other_threads_tcaches)
{
	struct kmm_heap_layers l0, l;
	kmm_free(kmm_malloc(16));   /* this thread's tcache exists */
	kmm_heap_layers(&l0);
	pthread_t t[4];
	pthread_barrier_init(&layers_bar, NULL, 5);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, layers_filler, NULL), 0);
	pthread_barrier_wait(&layers_bar);
	kmm_heap_layers(&l);
	cr_assert_eq(l.tcache_n - l0.tcache_n, 28, "tcaches: %zu chunks (%zu before)", l.tcache_n, l0.tcache_n);
	cr_assert_eq(l.tcache_bytes - l0.tcache_bytes, 28 * 1008);
	pthread_barrier_wait(&layers_bar);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&layers_bar);
	kmm_heap_layers(&l);
	cr_assert_eq(l.tcache_n, l0.tcache_n, "the exited threads' tcaches went back to the arenas");
	/* threads start and exit while this one reads */
	pthread_t c[64];
	for (int i = 0; i < 64; i++)
		cr_assert_eq(pthread_create(&c[i], NULL, layers_churn, NULL), 0);
	for (int k = 0; k < 200; k++)
		kmm_heap_layers(&l);
	for (int i = 0; i < 64; i++)
		pthread_join(c[i], NULL);
	CHECK_HEAP();
}

Test(reports, malloc_info_xml_like_glibc)
{
	char *buf = NULL;
	size_t len = 0;
	tcache_off();
	void *a = kmm_malloc(100), *b = kmm_malloc(3000);
	kmm_malloc(16);
	kmm_free(a);
	kmm_free(b);
	FILE *f = open_memstream(&buf, &len);
	cr_assert_eq(kmm_malloc_info(0, f), 0);
	fclose(f);
	cr_assert(strncmp(buf, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n", 42) == 0, "%s", buf);
	cr_assert(strstr(buf, "  <size from=\"97\" to=\"112\" total=\"112\" count=\"1\"/>\n") != NULL, "%s", buf);
	cr_assert(strstr(buf, "  <unsorted from=\"3009\" to=\"3009\" total=\"3009\" count=\"1\"/>\n") != NULL, "%s", buf);
	cr_assert(strstr(buf, "<total type=\"fast\" count=\"1\" size=\"112\"/>") != NULL);
	cr_assert(strstr(buf, "<total type=\"mmap\" count=\"0\" size=\"0\"/>") != NULL);
	cr_assert(strstr(buf, "</malloc>\n") != NULL);
	free(buf);
	errno = 0;
	cr_assert_eq(kmm_malloc_info(1, stdout), -1);
	cr_assert_eq(errno, EINVAL);
	CHECK_HEAP();
}

static char *read_all(int fd)
{
	static char out[65536];
	size_t n = 0;
	ssize_t r;
	while ((r = read(fd, out + n, sizeof out - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	return out;
}

Test(reports, report_sections)
{
	char path[] = "/tmp/kmm-report-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	unlink(path);
	kmm_free(kmm_malloc(100));
	kmm_free(kmm_malloc(1 << 20));
	cr_assert_eq(kmm_report(fd, "summary,params"), 0);
	lseek(fd, 0, SEEK_SET);
	char *s = read_all(fd);
	cr_assert(strstr(s, "break growth       1 call, 132 KiB") != NULL, "%s", s);
	cr_assert(strstr(s, "vmalloc 1 (1 MiB)") != NULL, "%s", s);
	cr_assert(strstr(s, "tcache (7 per bin") != NULL, "%s", s);
	cr_assert(strstr(s, "allocations served by") != NULL);
	cr_assert(strstr(s, "mmap_threshold        131072 (automatic)") != NULL, "%s", s);
	cr_assert(strstr(s, "threshold_rule        cache") != NULL, "%s", s);
	errno = 0;
	cr_assert_eq(kmm_report(fd, "summary,nonsense"), -1);
	cr_assert_eq(errno, EINVAL);
	close(fd);
	CHECK_HEAP();
}

Test(reports, stats_get_counts)
{
	struct kmm_stats st;
	void *p = kmm_malloc(100);
	kmm_free(p);
	kmm_malloc(100);
	void *m = kmm_malloc(1 << 20);
	kmm_free(m);
	cr_assert_eq(kmm_stats_get(&st), 0);
	cr_assert_eq(st.brk_grows, 1);
	cr_assert_eq(st.brk_grow_bytes, 0x21000);
	cr_assert_eq(st.mmaps, 1);
	cr_assert_eq(st.munmaps, 1);
	cr_assert_eq(st.tcache_hits, 1);
	cr_assert_eq(st.served[KMM_SERVED_TCACHE], 1);
	cr_assert_eq(st.served[KMM_SERVED_MMAP], 1);
	cr_assert_eq(st.mmap_threshold, 128 * 1024, "kmm keeps the threshold (threshold_rule=cache)");
	cr_assert_eq(st.heap_system_bytes, 0x21000);
	cr_assert_str_eq(kmm_version(), "0.1.0");
	CHECK_HEAP();
}

/* ---- threads and fork -------------------------------------------------------- */

#define NTHREADS 4
#define SLOTS 512
static void *volatile shared[NTHREADS][SLOTS];

static void *churn(void *arg)
{
	int me = (int)(intptr_t)arg;
	unsigned s = (unsigned)me * 7919u + 1;
	for (int i = 0; i < 20000; i++) {
		s = s * 1103515245u + 12345u;
		int t = (int)((s >> 8) % NTHREADS), k = (int)((s >> 16) % SLOTS);
		/* take a block from any thread's table, free it, put a new one */
		void *old = __atomic_exchange_n(&shared[t][k], NULL, __ATOMIC_ACQ_REL);
		if (old != NULL) {
			size_t n = *(size_t *)old;
			if (!verify((char *)old + sizeof(size_t), n, (unsigned)n))
				return (void *)1;
			kmm_free(old);
		}
		size_t n = (s >> 4) % (i % 50 == 0 ? 200000 : 600);
		char *p = kmm_malloc(n + sizeof(size_t));
		if (p == NULL)
			return (void *)2;
		*(size_t *)p = n;
		fill(p + sizeof(size_t), n, (unsigned)n);
		old = __atomic_exchange_n(&shared[me][k], p, __ATOMIC_ACQ_REL);
		if (old != NULL)
			kmm_free(old);
	}
	return NULL;
}

static size_t heap_headers(void)
{
	struct kmm_stats st;
	kmm_stats_get(&st);
	return st.heap_headers;
}

Test(threads, cross_thread_frees_and_exit_flush)
{
	pthread_t th[NTHREADS];
	kmm_malloc(1);
	size_t in_use0 = kmm_mallinfo2().uordblks - heap_headers();
	for (int i = 0; i < NTHREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, churn, (void *)(intptr_t)i), 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *r;
		pthread_join(th[i], &r);
		cr_assert_null(r, "thread %d saw corrupted memory (%p)", i, r);
	}
	cr_assert_eq(kmm_threads_live, 1, "exited threads left the list");
	struct kmm_thread_counters tc;
	kmm_thread_counters_total(&tc);
	cr_assert(tc.tc_alloc_hits > 0 && tc.mallocs_slow > 0);
	CHECK_HEAP();
	/* with this thread's tcache off, the frees below reach the arena: in
	 * use is then exactly what it was before the threads (apart from the
	 * headers of the heaps of the arenas the threads made), so every
	 * exited thread's tcache (entries and the tcache itself) went back */
	tcache_off();
	for (int t = 0; t < NTHREADS; t++)
		for (int k = 0; k < SLOTS; k++)
			kmm_free(shared[t][k]);
	kmm_malloc_trim(0);   /* and drains the remote frees */
	size_t in_use1 = kmm_mallinfo2().uordblks - heap_headers();
	cr_assert_eq(in_use1, in_use0, "in use %zu, before the threads %zu", in_use1, in_use0);
	CHECK_HEAP();
}

static pthread_key_t late_key;
static void late_destructor(void *arg)
{
	/* runs after kmm's own key destructor: the thread is "dead" to kmm,
	 * so these go straight to the arena */
	kmm_free(arg);
	void *p = kmm_malloc(100);
	memset(p, 1, 100);
	kmm_free(p);
}

static void *with_late_free(void *arg)
{
	(void)arg;
	kmm_free(kmm_malloc(10));            /* creates this thread's tcache */
	pthread_setspecific(late_key, kmm_malloc(200));
	return NULL;
}

Test(threads, frees_after_thread_teardown_go_to_the_arena)
{
	kmm_malloc(1);
	cr_assert_eq(pthread_key_create(&late_key, late_destructor), 0);
	for (int i = 0; i < 20; i++) {
		pthread_t t;
		pthread_create(&t, NULL, with_late_free, NULL);
		pthread_join(t, NULL);
	}
	cr_assert_eq(kmm_threads_live, 1);
	CHECK_HEAP();
}

static volatile int stop_churn;
static void *background(void *arg)
{
	(void)arg;
	void *keep[64] = { 0 };
	unsigned s = 1;
	while (!stop_churn) {
		s = s * 1103515245u + 12345u;
		int k = (int)((s >> 16) % 64);
		kmm_free(keep[k]);
		keep[k] = kmm_malloc((s >> 4) % 3000);
	}
	for (int k = 0; k < 64; k++)
		kmm_free(keep[k]);
	return NULL;
}

/* kmm's fork handlers are registered by the library constructor (init.c),
 * which also runs in this test binary. */
Test(fork, children_allocate_while_threads_churn)
{
	pthread_t th[3];
	kmm_malloc(1);
	stop_churn = 0;
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, background, NULL);
	for (int i = 0; i < 100; i++) {
		pid_t pid = fork();
		cr_assert(pid >= 0);
		if (pid == 0) {
			void *p[100];
			for (int j = 0; j < 100; j++) {
				p[j] = kmm_malloc((size_t)j * 37);
				memset(p[j], j, (size_t)j * 37);
			}
			for (int j = 0; j < 100; j++)
				kmm_free(p[j]);
			_exit(kmm_check(1) == 0 ? 0 : 3);
		}
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: status %#x", i, st);
	}
	stop_churn = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECK_HEAP();
}

/* A fork from a signal handler that interrupted kmm (util/lock.h, "BUSY";
 * simulated: the test marks its thread busy) takes no lock, and the child
 * uses the rescue heap (heap/rescue.h): mappings of its own, inherited
 * blocks left alone but readable, realloc of one a copy, no statistics. */
#include "heap/rescue.h"

static int rescue_child(char *inherited)
{
	if (!kmm_rescued())
		return 10;
	char *p = kmm_malloc(100);
	char *z = kmm_calloc(1000, 8);
	char *al = kmm_memalign(8192, 100);
	if (!p || !z || !al || ((uintptr_t)al & 8191) || kmm_malloc_usable_size(p) < 100)
		return 11;
	for (int i = 0; i < 8000; i++)
		if (z[i])
			return 12;
	memset(p, 1, 100);
	/* an inherited block: realloc copies it, free leaves it readable */
	char *r = kmm_realloc(inherited, 100000);
	if (!r || r == inherited || memcmp(r, "inherited", 10) != 0)
		return 13;
	if (kmm_malloc_usable_size(inherited) < 10)
		return 14;
	kmm_free(inherited);
	if (memcmp(inherited, "inherited", 10) != 0)
		return 15;
	p = kmm_realloc(p, 5000);
	if (!p || p[99] != 1)
		return 16;
	struct kmm_rescue_stats st;
	kmm_rescue_stats(&st);
	if (st.maps != 5 || st.unmaps != 1 || st.copied != 1 || st.dropped != 1)
		return 17;
	kmm_free(p);
	kmm_free(z);
	kmm_free(al);
	kmm_free(r);
	kmm_rescue_stats(&st);
	if (st.unmaps != 5)
		return 18;
	struct mallinfo2 mi = kmm_mallinfo2();
	if (mi.arena != 0 || kmm_report(1, "summary") != -1 || errno != EAGAIN)
		return 19;
	return 0;
}

Test(fork, from_a_busy_thread_the_child_rescues)
{
	char *inherited = kmm_malloc(10);
	memcpy(inherited, "inherited", 10);
	pthread_t th;
	stop_churn = 0;
	pthread_create(&th, NULL, background, NULL);
	kmm_busy++;   /* as a signal handler that interrupted kmm sees it */
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(rescue_child(inherited));
	kmm_busy--;
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	cr_assert(!kmm_rescued(), "the parent goes on with its heap");
	stop_churn = 1;
	pthread_join(th, NULL);
	kmm_free(inherited);
	CHECK_HEAP();
}

/* Another thread holds a lock past the deadline while a fork of a busy
 * thread waits (a thread whose signal handler waits to fork behind this
 * fork, simulated by holding the thread list lock for a second and saying
 * so): the prepare handler gives up after 100 ms, releases what it took,
 * and the child rescues. */
static void *hold_threads_lock(void *arg)
{
	kmm_lock(&kmm_threads_lock);
	kmm_fork_busy_wait(true);
	__atomic_store_n((int *)arg, 1, __ATOMIC_RELEASE);
	usleep(1000000);
	kmm_fork_busy_wait(false);
	kmm_unlock(&kmm_threads_lock);
	return NULL;
}

/* A lock merely held long (its holder preempted on a loaded machine): the
 * fork waits for it, however long, and the child keeps its heap. */
static void *hold_threads_lock_briefly(void *arg)
{
	kmm_lock(&kmm_threads_lock);
	__atomic_store_n((int *)arg, 1, __ATOMIC_RELEASE);
	usleep(400000);
	kmm_unlock(&kmm_threads_lock);
	return NULL;
}

/* Start `holder` in thread *th, wait until it holds kmm_threads_lock, then
 * fork: the child exits with child(inherited); *ms is how long fork took. */
static pid_t fork_while_held(void *(*holder)(void *), pthread_t *th, int (*child)(char *),
			     char *inherited, double *ms)
{
	int held = 0;
	pthread_create(th, NULL, holder, &held);
	while (!__atomic_load_n(&held, __ATOMIC_ACQUIRE))
		usleep(1000);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(child(inherited));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	return pid;
}

static int checked_child(char *unused)
{
	(void)unused;
	return kmm_rescued() ? 1 : kmm_check(1) == 0 ? 0 : 2;
}

Test(fork, waits_for_a_lock_held_long_without_a_busy_fork)
{
	pthread_t th;
	double ms;
	pid_t pid = fork_while_held(hold_threads_lock_briefly, &th, checked_child, NULL, &ms);
	cr_assert(ms >= 300, "fork took %.0f ms: it did not wait for the lock (held 400 ms)", ms);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x (1: rescued)", st);
	pthread_join(th, NULL);
	CHECK_HEAP();
}

Test(fork, gives_up_on_a_lock_held_too_long)
{
	char *inherited = kmm_malloc(10);
	memcpy(inherited, "inherited", 10);
	pthread_t th;
	double ms;
	pid_t pid = fork_while_held(hold_threads_lock, &th, rescue_child, inherited, &ms);
	cr_assert(ms >= 90 && ms < 900, "fork took %.0f ms (the deadline is 100 ms)", ms);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	/* every lock the prepare handler took was given back: the parent
	 * allocates, and its locks are free once the holder lets go */
	void *p = kmm_malloc(300000);
	cr_assert_not_null(p);
	kmm_free(p);
	pthread_join(th, NULL);
	cr_assert(!kmm_lock_is_held(&kmm_threads_lock));
	cr_assert_eq(kmm_busy, 0u);
	kmm_free(inherited);
	CHECK_HEAP();
}

/* --- heaps of further arenas (arena_heap.c) --------------------------------- */

#include "heap/arena_heap.h"
#include "heap/arenas.h"

struct heap_probe {
	struct kmm_arena *arena;
	uint64_t heaps_new, heaps_deleted, shrinks;
	size_t system_full, system_after;
	unsigned segments_full, segments_after;
	int bad;
};

static unsigned count_segments(struct kmm_arena *a)
{
	unsigned n = 0;
	for (struct kmm_segment *s = a->seg_first; s != NULL; s = s->next)
		n++;
	return n;
}

/* 80 MiB of 4000-byte blocks: more than one 64 MiB heap.  Then all freed
 * (tcache off, so every free reaches the arena). */
static void *fill_two_heaps(void *arg)
{
	struct heap_probe *pr = arg;
	enum { N = 80 * 1024 * 1024 / 4000 };
	static char *blk[N];
	for (int i = 0; i < N; i++) {
		blk[i] = kmm_malloc(4000);
		if (blk[i] == NULL) {
			pr->bad = 1;
			return NULL;
		}
		memset(blk[i], i & 0xff, 64);
	}
	struct kmm_arena *a = kmm_self.arena;
	pr->arena = a;
	pr->system_full = a->system_mem;
	pr->segments_full = count_segments(a);
	pr->heaps_new = a->st.heaps_new;
	for (int i = 0; i < N; i++) {
		if ((unsigned char)blk[i][63] != (unsigned char)(i & 0xff))
			pr->bad = 2;
		kmm_free(blk[i]);
	}
	pr->system_after = a->system_mem;
	pr->segments_after = count_segments(a);
	pr->heaps_deleted = a->st.heaps_deleted;
	pr->shrinks = a->st.heap_shrinks;
	return NULL;
}

Test(arenas, a_thread_gets_heaps_that_grow_and_go_back)
{
	struct heap_probe pr = { 0 };
	pthread_t th;
	kmm_params_set(KMM_P_TRIM_RULE, KMM_TRIM_GLIBC);   /* trimmed at once */
	kmm_free(kmm_malloc(1));   /* this thread: the main arena */
	tcache_off();
	cr_assert_eq(pthread_create(&th, NULL, fill_two_heaps, &pr), 0);
	pthread_join(th, NULL);
	cr_assert_eq(pr.bad, 0, "allocation failed or contents lost (%d)", pr.bad);
	cr_assert_neq(pr.arena, &kmm_main_arena, "a second thread got the main arena");
	cr_assert(pr.segments_full >= 2 && pr.heaps_new >= 2,
		  "80 MiB in one arena: %u heaps (%llu made)", pr.segments_full,
		  (unsigned long long)pr.heaps_new);
	cr_assert(pr.system_full >= 80u * 1024 * 1024, "system bytes %zu", pr.system_full);
	/* every chunk free again: the later heaps are unmapped, the first one
	 * shrunk to about top_pad */
	cr_assert_eq(pr.segments_after, 1, "%u heaps left after freeing everything", pr.segments_after);
	cr_assert_eq(pr.heaps_deleted, pr.heaps_new - 1);
	cr_assert(pr.system_after <= 512 * 1024, "system bytes %zu after freeing everything",
		  pr.system_after);
	/* the arena is free for the next thread, and its heap is still ours */
	cr_assert_eq(pr.arena->attached_threads, 0);
	cr_assert(kmm_heap_registered(pr.arena->seg_first->mem));
	CHECK_HEAP();
}

static void *report_arena(void *arg)
{
	kmm_free(kmm_malloc(100));
	*(struct kmm_arena **)arg = kmm_self.arena;
	return NULL;
}

Test(arenas, exited_threads_arena_is_reused)
{
	struct kmm_arena *first = NULL, *second = NULL;
	pthread_t th;
	kmm_free(kmm_malloc(1));
	pthread_create(&th, NULL, report_arena, &first);
	pthread_join(th, NULL);
	size_t n = kmm_narenas;
	for (int i = 0; i < 50; i++) {
		pthread_create(&th, NULL, report_arena, &second);
		pthread_join(th, NULL);
		cr_assert_eq(second, first, "round %d: a new thread got arena %d, not the free one %d", i,
			     second->index, first->index);
	}
	cr_assert_eq(kmm_narenas, n, "arenas made for threads that ran one after another");
	CHECK_HEAP();
}

static void *remote_free_all(void *arg)
{
	void **v = arg;
	for (int i = 0; i < 1000; i++)
		kmm_free(v[i]);
	return NULL;
}

Test(arenas, frees_from_another_thread_go_to_the_remote_list)
{
	static void *v[1000];
	pthread_t th;
	kmm_free(kmm_malloc(1));
	tcache_off();
	for (int i = 0; i < 1000; i++)
		v[i] = kmm_malloc(200);
	struct kmm_stats st0, st1;
	kmm_stats_get(&st0);
	/* the other thread is attached to another arena: no lock of ours */
	pthread_create(&th, NULL, remote_free_all, v);
	pthread_join(th, NULL);
	kmm_stats_get(&st1);
	cr_assert_eq(st1.remote_frees - st0.remote_frees, 1000);
	cr_assert_eq(kmm_check(1), 0);
	/* the next malloc of this thread drains them: in use back */
	void *p = kmm_malloc(200);
	cr_assert_null(kmm_main_arena.remote_head);
	kmm_free(p);
	CHECK_HEAP();
}

struct mover {
	pthread_barrier_t ready, go;
	struct kmm_arena *before, *after;
	void *p;
};

static void *move_on(void *arg)
{
	struct mover *m = arg;
	kmm_free(kmm_malloc(5000));
	m->before = kmm_self.arena;
	pthread_barrier_wait(&m->ready);   /* main takes our arena's lock */
	pthread_barrier_wait(&m->go);
	m->p = kmm_malloc(5000);           /* beyond the tcache: needs the lock */
	m->after = kmm_self.arena;
	return NULL;
}

static void *hold_arena_thread(void *arg)
{
	pthread_barrier_t *b = arg;
	kmm_free(kmm_malloc(5000));
	pthread_barrier_wait(b);   /* attached; stays alive until told */
	pthread_barrier_wait(b);
	return NULL;
}

Test(arenas, a_thread_moves_on_when_its_shared_arena_is_busy)
{
	struct mover m = { 0 };
	pthread_barrier_t hold;
	pthread_t th1, th2;
	kmm_free(kmm_malloc(1));
	cr_assert_eq(kmm_mallopt(M_ARENA_MAX, 2), 1);
	/* thread 1 makes the second (last) arena; the mover then shares one */
	pthread_barrier_init(&hold, NULL, 2);
	pthread_create(&th1, NULL, hold_arena_thread, &hold);
	pthread_barrier_wait(&hold);
	pthread_barrier_init(&m.ready, NULL, 2);
	pthread_barrier_init(&m.go, NULL, 2);
	pthread_create(&th2, NULL, move_on, &m);
	pthread_barrier_wait(&m.ready);
	struct kmm_arena *a = m.before;
	cr_assert(a->attached_threads >= 2, "arena %d has %zu threads", a->index, a->attached_threads);
	uint64_t busy0 = a->contended;
	kmm_lock(&a->lock);
	pthread_barrier_wait(&m.go);
	pthread_join(th2, NULL);
	kmm_unlock(&a->lock);
	cr_assert_not_null(m.p);
	cr_assert_neq(m.after, a, "the thread waited for its busy arena instead of moving on");
	cr_assert_eq(a->contended, busy0 + 1);
	kmm_free(m.p);
	pthread_barrier_wait(&hold);
	pthread_join(th1, NULL);
	CHECK_HEAP();
}

/* ---- the heap's memory in the region registry (the kernel side's VMAs) ---- */

#include "kernel/region.h"
#include "util/format.h"

Test(regions, heap_regions_appear)
{
	static char text[1 << 18];
	void *small = kmm_malloc(100);
	void *big = kmm_malloc(4 << 20);
	cr_assert(small && big);
	struct kmm_region_totals t;
	kmm_region_totals(&t);
	cr_assert_eq(t.count[KMM_REGION_BRK_HEAP] + t.count[KMM_REGION_HEAP_SEGMENT], 1,
		     "the main arena's heap is registered");
	cr_assert(t.count[KMM_REGION_VMALLOC_AREA] >= 1, "a big malloc is a vmalloc area");
	struct kmm_buf b;
	kmm_buf_init(&b, text, sizeof text, -1);
	kmm_region_report_maps(&b);
	cr_assert(!b.truncated, "maps report truncated");
	cr_assert(strstr(text, " brk heap ") || strstr(text, " heap segment "), "%s", text);
	cr_assert_not_null(strstr(text, " vmalloc area "), "%s", text);
	kmm_free(big);
	kmm_free(small);
	cr_assert_eq(kmm_region_check(1), 0, "region invariants violated (see stderr)");
	CHECK_HEAP();
}

/* ---- zero-size blocks (heap/zero.h) ------------------------------------------- */

#include "heap/zero.h"

/* Does touching p fault?  (In a child: it would kill us.) */
static int touch_faults(volatile char *p, int write)
{
	pid_t pid = fork();
	if (pid == 0) {
		/* (criterion's own handler would report the child's crash as
		 * the test's) */
		signal(SIGSEGV, SIG_DFL);
		if (write)
			*p = 1;
		else
			(void)*p;
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
}

Test(zero, malloc_0_is_a_unique_no_access_address)
{
	char *a = kmm_malloc(0), *b = kmm_malloc(0), *c = kmm_calloc(0, 8), *d = kmm_calloc(8, 0);
	char *e = kmm_realloc(NULL, 0), *f = kmm_memalign(16, 0), *g = NULL;
	cr_assert_eq(kmm_posix_memalign((void **)&g, 8, 0), 0);
	char *all[] = { a, b, c, d, e, f, g };
	for (size_t i = 0; i < 7; i++) {
		cr_assert(kmm_zero_owns(all[i]), "block %zu (%p) is not a zero-size block", i, (void *)all[i]);
		cr_assert_eq((uintptr_t)all[i] % 16, 0);
		cr_assert_eq(kmm_malloc_usable_size(all[i]), 0);
		for (size_t j = 0; j < i; j++)
			cr_assert_neq(all[i], all[j], "two live zero-size blocks at one address");
	}
	cr_assert_eq(kmm_zero_count(), 7);
	cr_assert(touch_faults(a, 0), "reading a zero-size block did not fault");
	cr_assert(touch_faults(b, 1), "writing a zero-size block did not fault");
	CHECK_HEAP();
	for (size_t i = 0; i < 7; i++)
		kmm_free(all[i]);
	cr_assert_eq(kmm_zero_count(), 0);
	/* a bigger alignment than a slot's: an ordinary block */
	void *h = kmm_memalign(64, 0);
	cr_assert(!kmm_zero_owns(h) && (uintptr_t)h % 64 == 0);
	kmm_free(h);
	CHECK_HEAP();
}

Test(zero, realloc_moves_it_and_a_freed_one_is_not_handed_out_again_soon)
{
	char *z = kmm_malloc(0);
	char *p = kmm_realloc(z, 100);
	cr_assert(p != NULL && !kmm_zero_owns(p));
	memset(p, 7, 100);
	cr_assert_eq(kmm_zero_count(), 0, "the zero-size block was freed by the move");
	char *q = kmm_malloc(0);
	cr_assert_neq(q, z, "a freed zero-size block's address came back at once");
	cr_assert_null(kmm_realloc(q, 0), "realloc(p, 0) frees");
	cr_assert_eq(kmm_zero_count(), 0);
	kmm_free(p);
	CHECK_HEAP();
}

Test(zero, double_free_aborts, .signal = SIGABRT)
{
	void *z = kmm_malloc(0);
	kmm_free(z);
	kmm_free(z);
}

Test(zero, realloc_of_a_freed_one_aborts, .signal = SIGABRT)
{
	void *z = kmm_malloc(0);
	kmm_free(z);
	kmm_realloc(z, 10);
}

Test(zero, a_pointer_inside_the_range_aborts, .signal = SIGABRT)
{
	char *z = kmm_malloc(0);
	kmm_free(z + 8);
}

Test(zero, off_gives_ordinary_blocks)
{
	cr_assert_eq(kmm_mallopt(KMM_M_ZERO_GUARD, 0), 1);
	char *p = kmm_malloc(0);
	cr_assert(!kmm_zero_owns(p));
	cr_assert_geq(kmm_malloc_usable_size(p), 16);
	memset(p, 1, 16);
	cr_assert_eq(kmm_mallopt(KMM_M_ZERO_GUARD, 1), 1);
	char *q = kmm_malloc(0);
	cr_assert(kmm_zero_owns(q));
	kmm_free(p);   /* each told by its address */
	kmm_free(q);
	cr_assert_eq(kmm_mallopt(KMM_M_ZERO_GUARD, 2), 0, "a bad value is refused");
	CHECK_HEAP();
}

Test(zero, a_full_range_falls_back_to_ordinary_blocks)
{
	static void *z[KMM_ZERO_SLOTS];
	for (size_t i = 0; i < KMM_ZERO_SLOTS; i++) {
		z[i] = kmm_malloc(0);
		cr_assert(kmm_zero_owns(z[i]), "block %zu", i);
	}
	cr_assert_eq(kmm_zero_count(), KMM_ZERO_SLOTS);
	void *extra = kmm_malloc(0);
	cr_assert(extra != NULL && !kmm_zero_owns(extra), "the range is full: an ordinary block");
	memset(extra, 3, 16);
	kmm_free(z[12345]);
	void *again = kmm_malloc(0);
	cr_assert_eq(again, z[12345], "the one free slot is found");
	z[12345] = again;
	CHECK_HEAP();
	for (size_t i = 0; i < KMM_ZERO_SLOTS; i++)
		kmm_free(z[i]);
	kmm_free(extra);
	cr_assert_eq(kmm_zero_count(), 0);
	CHECK_HEAP();
}

/* ---- redzones and the quarantine (src/harden.h) --------------------------------- */

#include "harden.h"
#include "heap/heap.h"

/* What profile=hardened sets of them: each test is a process of its own. */
static void hardened(size_t quarantine)
{
	kmm_free(kmm_malloc(1));   /* (set up) */
	cr_assert(kmm_params_set(KMM_P_FRONT, KMM_FRONT_TCACHE_));
	cr_assert(kmm_params_set(KMM_P_GUARD, 4096));
	cr_assert(kmm_params_set(KMM_P_REDZONE, 1));
	cr_assert(kmm_params_set(KMM_P_QUARANTINE, (long long)quarantine));
	kmm_heap_observe(0);
}

Test(harden, usable_size_is_the_request_and_realloc_keeps_contents)
{
	hardened(1 << 20);
	char *p = kmm_malloc(10);
	cr_assert_eq(kmm_malloc_usable_size(p), 10);
	memset(p, 0x5a, 10);
	char *q = kmm_realloc(p, 300);
	cr_assert_eq(kmm_malloc_usable_size(q), 300);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(q[i], 0x5a);
	memset(q, 1, 300);
	q = kmm_realloc(q, 200);   /* in place: the redzone moves down */
	cr_assert_eq(kmm_malloc_usable_size(q), 200);
	char *c = kmm_calloc(3, 7);
	cr_assert_eq(kmm_malloc_usable_size(c), 21);
	char *m = kmm_memalign(64, 40);
	cr_assert(m != NULL && (uintptr_t)m % 64 == 0 && kmm_malloc_usable_size(m) == 40);
	kmm_free(q);
	kmm_free(c);
	kmm_free(m);
	CHECK_HEAP();
}

Test(harden, every_size_near_the_guard_size_and_the_threshold_frees_clean)
{
	hardened(1 << 20);
	static const size_t sizes[] = { 4000, 4040, 4047, 4048, 4050, 4095, 4096, 4097, 130000, 131072, 200000 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char *p = kmm_malloc(sizes[i]);
		cr_assert_not_null(p);
		cr_assert_geq(kmm_malloc_usable_size(p), sizes[i]);
		memset(p, 7, sizes[i]);
		p = kmm_realloc(p, sizes[i] + 100);
		kmm_free(p);
	}
	/* the same without guard pages: big blocks from the threshold on,
	 * heap chunks below it, each freed clean */
	cr_assert(kmm_params_set(KMM_P_GUARD, 0));
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char *p = kmm_malloc(sizes[i]);
		memset(p, 7, sizes[i]);
		kmm_free(p);
	}
	CHECK_HEAP();
}

Test(harden, one_byte_past_the_end_aborts_at_free, .signal = SIGABRT)
{
	hardened(1 << 20);
	char *p = kmm_malloc(8);
	p[8] ^= 'A';
	kmm_free(p);
}

Test(harden, forty_bytes_past_the_end_aborts_at_free, .signal = SIGABRT)
{
	hardened(0);
	char *p = kmm_malloc(24);
	p[24 + 39] = 0;
	kmm_free(p);
}

Test(harden, an_overflow_aborts_at_realloc, .signal = SIGABRT)
{
	hardened(0);
	char *p = kmm_malloc(100);
	memset(p, 0, 101);
	kmm_realloc(p, 1000);
}

Test(harden, a_freed_block_waits_zeroed_and_its_address_is_not_reused)
{
	hardened(1 << 20);
	char *p = kmm_malloc(100);
	memset(p, 0x41, 100);
	kmm_free(p);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(p[i], 0, "byte %d of a freed block is 0x%02x", i, p[i]);
	char *q = kmm_malloc(100);
	cr_assert_neq(q, p, "the freed block came back at once");
	kmm_free(q);
	CHECK_HEAP();
}

Test(harden, a_write_after_free_aborts_when_the_block_leaves, .signal = SIGABRT)
{
	hardened(4096);
	char *p = kmm_malloc(100);
	kmm_free(p);
	p[50] = 1;
	for (int i = 0; i < 100; i++)   /* push it out */
		kmm_free(kmm_malloc(200));
}

Test(harden, the_checker_sees_a_write_into_a_waiting_block)
{
	hardened(1 << 20);
	char *p = kmm_malloc(100);
	kmm_free(p);
	cr_assert_eq(kmm_harden_check(0), 0);
	p[3] = 1;
	cr_assert_eq(kmm_harden_check(0), 1);
	p[3] = 0;
}

Test(harden, double_free_of_a_waiting_block_aborts, .signal = SIGABRT)
{
	hardened(1 << 20);
	char *p = kmm_malloc(100);
	kmm_free(p);
	kmm_free(p);
}

Test(harden, realloc_of_a_waiting_block_aborts, .signal = SIGABRT)
{
	hardened(1 << 20);
	char *p = kmm_malloc(100);
	kmm_free(p);
	kmm_realloc(p, 10);
}

Test(harden, a_freed_big_block_faults_and_its_double_free_aborts, .signal = SIGABRT)
{
	hardened(1 << 20);
	char *b = kmm_malloc(100000);
	cr_assert(kmm_big_owns(b));
	memset(b, 1, 100000);
	kmm_free(b);
	cr_assert(touch_faults(b, 1), "writing a freed big block did not fault");
	cr_assert(touch_faults(b + 50000, 0), "reading a freed big block did not fault");
	cr_assert_eq(kmm_check(1), 0);
	kmm_free(b);
}

Test(harden, big_blocks_come_back_accessible_after_the_quarantine)
{
	hardened(256 << 10);
	for (int i = 0; i < 50; i++) {
		char *b = kmm_malloc(100000);
		cr_assert_not_null(b);
		memset(b, i, 100000);
		kmm_free(b);
	}
	CHECK_HEAP();
}

Test(harden, small_big_blocks_wait_zeroed_and_the_set_follows_the_ring)
{
	hardened(1 << 20);   /* about 80 of them wait: the rest go through */
	char *last = NULL;
	for (int i = 0; i < 400; i++) {
		size_t n = 8192 + (size_t)(i % 3) * 4096;
		char *b = kmm_malloc(n);
		cr_assert(kmm_big_owns(b));
		memset(b, 0x33, n);
		/* (a reused area may be bigger than asked: from 64 KiB on it
		 * waits with no access instead) */
		size_t usable = kmm_malloc_usable_size(b);
		kmm_free(b);
		if (usable < 64 * 1024)
			for (size_t k = 0; k < n; k += 512)
				cr_assert_eq(b[k], 0, "a waiting big block below 64 KiB reads as zeroes");
		else
			cr_assert(touch_faults(b, 0), "a waiting big block of 64 KiB or more is no-access");
		last = b;
		if (i % 50 == 0)
			cr_assert_eq(kmm_harden_check(1), 0, "round %d", i);
	}
	CHECK_HEAP();
	(void)last;
}

Test(harden, double_free_of_a_waiting_small_big_block_aborts, .signal = SIGABRT)
{
	hardened(1 << 20);
	for (int i = 0; i < 100; i++)
		kmm_free(kmm_malloc(8192));
	char *b = kmm_malloc(8192);
	kmm_free(b);
	kmm_free(b);
}

/*
 * test_buddy.c — the buddy page allocator of the kernel side
 * (src/kernel/page_alloc.c): random split/merge sequences against an
 * address-range model, the reports (buddyinfo, pagetypeinfo), split pages
 * and page ranges, watermarks and releasing memory to the OS, frame <->
 * address translation, memory hotplug of a second section.
 *
 * criterion runs every Test() in a fresh process, so each test starts with
 * an empty zone (nothing in the test binary allocates from the kernel side
 * before the test body runs).  Every test ends with kmm_buddy_check(1) and
 * kmm_kernel_check(1) (the kernel side's checkers) returning 0.  Random tests print their seed in every failure
 * message.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kernel/kernel.h"
#include "kernel/page_alloc.h"
#include "kernel/region.h"
#include "util/format.h"
#include "ktest.h"


#define CHECK_BUDDY() do { \
	cr_assert_eq(kmm_buddy_check(1), 0, "buddy invariants violated (see stderr)"); \
	cr_assert_eq(kmm_kernel_check(1), 0, "kernel-side invariants violated (see stderr)"); \
} while (0)

/* ---- helpers ---------------------------------------------------------------- */

/* Parse what kmm_buddy_report_buddyinfo writes: "Node 0, zone   Normal "
 * and KMM_MAX_ORDER counts.  Returns 1 on success. */
static int read_buddyinfo(size_t nr[KMM_MAX_ORDER])
{
	char text[512];
	struct kmm_buf b;
	const char *prefix = "Node 0, zone   Normal ";

	kmm_buf_init(&b, text, sizeof text, -1);
	kmm_buddy_report_buddyinfo(&b);
	if (b.truncated || strncmp(text, prefix, strlen(prefix)) != 0)
		return 0;
	char *p = text + strlen(prefix), *end;
	for (unsigned o = 0; o < KMM_MAX_ORDER; o++) {
		nr[o] = strtoull(p, &end, 10);
		if (end == p)
			return 0;
		p = end;
	}
	return *p == '\n' && p[1] == '\0';
}

static void tiling_counts(size_t from, size_t nr[KMM_MAX_ORDER]);

/* buddyinfo must agree with the zone: sum of nr_free << order is the free
 * page count, and every order's count is the free area's plus the blocks
 * not onlined yet (each section's frames from its deferred frontier, as
 * maximal aligned blocks). */
static void check_buddyinfo(const char *when, uint64_t seed)
{
	size_t nr[KMM_MAX_ORDER], pages = 0, deferred[KMM_MAX_ORDER] = { 0 };

	cr_assert(read_buddyinfo(nr), "buddyinfo does not parse (%s, seed %llu)", when,
		  (unsigned long long)seed);
	for (struct kmm_mem_section *s = kmm_zone.sections; s != NULL; s = s->next)
		tiling_counts(s->deferred, deferred);
	for (unsigned o = 0; o < KMM_MAX_ORDER; o++) {
		size_t want = kmm_zone.free_area[o].nr_free + deferred[o];
		cr_assert_eq(nr[o], want, "buddyinfo order %u: %zu, free_area says %zu (%s, seed %llu)", o,
			     nr[o], want, when, (unsigned long long)seed);
		pages += nr[o] << o;
	}
	cr_assert_eq(pages, kmm_zone.free_pages, "buddyinfo totals %zu pages, zone free_pages %zu (%s, seed %llu)",
		     pages, kmm_zone.free_pages, when, (unsigned long long)seed);
}

/* Adds to nr[] the maximal aligned blocks that tile a section's frames
 * from `from` to its end. */
static void tiling_counts(size_t from, size_t nr[KMM_MAX_ORDER])
{
	for (size_t i = from; i < KMM_SECTION_PAGES;) {
		unsigned order = KMM_MAX_ORDER - 1;
		while ((i & (((size_t)1 << order) - 1)) != 0 || i + ((size_t)1 << order) > KMM_SECTION_PAGES)
			order--;
		nr[order]++;
		i += (size_t)1 << order;
	}
}

/* The free blocks of a section nothing is allocated from: its frames after
 * the reserved ones as maximal aligned blocks (what a full merge gives). */
static void pristine_counts(size_t reserved, size_t nr[KMM_MAX_ORDER])
{
	memset(nr, 0, KMM_MAX_ORDER * sizeof nr[0]);
	tiling_counts(reserved, nr);
}

/* Everything was freed: every section is back to its pristine tiling
 * (order-10 blocks but for the head of the section). */
static void check_all_merged(uint64_t seed)
{
	size_t want[KMM_MAX_ORDER], got[KMM_MAX_ORDER];

	cr_assert_not_null(kmm_zone.sections);
	pristine_counts(kmm_zone.sections->reserved_pages, want);
	cr_assert(read_buddyinfo(got));
	cr_assert_eq(kmm_zone.free_pages, kmm_zone.managed_pages,
		     "all freed but free %zu of %zu managed pages (seed %llu)", kmm_zone.free_pages,
		     kmm_zone.managed_pages, (unsigned long long)seed);
	for (unsigned o = 0; o < KMM_MAX_ORDER; o++)
		cr_assert_eq(got[o], want[o] * kmm_zone.nr_sections,
			     "all freed: order %u has %zu free blocks, expected %zu x %zu sections (seed %llu)", o,
			     got[o], want[o], kmm_zone.nr_sections, (unsigned long long)seed);
	for (struct kmm_mem_section *s = kmm_zone.sections; s != NULL; s = s->next)
		cr_assert_eq(s->free_pages, KMM_SECTION_PAGES - s->reserved_pages, "section %u not all free (seed %llu)",
			     s->index, (unsigned long long)seed);
}

static size_t resident_pages(const void *addr, size_t len)
{
	size_t n = (len + PG - 1) / PG, count = 0;
	unsigned char *vec = malloc(n);

	cr_assert_not_null(vec);
	cr_assert_eq(mincore((void *)addr, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		count += vec[i] & 1;
	free(vec);
	return count;
}

/* ---- random split/merge ----------------------------------------------------- */

struct blk {
	struct kmm_page *page;
	uintptr_t start, end;
	unsigned order;
	uint64_t tag;
};

static void put_tags(struct blk *b)
{
	*(volatile uint64_t *)b->start = b->tag;
	*(volatile uint64_t *)(b->end - sizeof(uint64_t)) = ~b->tag;
}

static void random_run(uint64_t seed, unsigned ops)
{
	enum { MAX_LIVE = 192 };
	struct blk live[MAX_LIVE];
	size_t nlive = 0;
	uint64_t rs = seed;
	uint64_t frees0 = kmm_zone.st.frees;
	uint64_t allocs0 = 0, allocs = 0;

	for (unsigned o = 0; o < KMM_MAX_ORDER; o++)
		allocs0 += kmm_zone.st.allocs[o];

	for (unsigned op = 0; op < ops; op++) {
		bool do_alloc = nlive == 0 || (nlive < MAX_LIVE && rng_below(&rs, 100) < 55);
		if (do_alloc) {
			/* orders 0..10, small ones more often */
			unsigned order = rng_below(&rs, 3) == 0 ? (unsigned)rng_below(&rs, KMM_MAX_ORDER)
							       : (unsigned)rng_below(&rs, 6);
			unsigned gfp = (rng_below(&rs, 2) ? KMM_GFP_USER : KMM_GFP_KERNEL) |
				       (rng_below(&rs, 2) ? KMM_GFP_COMP : 0);
			struct kmm_page *page = kmm_alloc_pages(order, gfp, KMM_OWNER_PAGES);
			cr_assert_not_null(page, "alloc_pages(order %u) failed at op %u (seed %llu)", order, op,
					   (unsigned long long)seed);
			allocs++;
			struct blk b = { page, (uintptr_t)kmm_page_address(page), 0, order, rng_next(&rs) };
			size_t size = PG << order;
			b.end = b.start + size;
			uintptr_t base = b.start & ~((uintptr_t)KMM_SECTION_SIZE - 1);
			cr_assert_eq((b.start - base) % size, 0, "order-%u block at %#lx not aligned in its section (seed %llu)",
				     order, (unsigned long)b.start, (unsigned long long)seed);
			cr_assert(b.end <= base + KMM_SECTION_SIZE, "block leaves its section (seed %llu)",
				  (unsigned long long)seed);
			cr_assert((page->flags & KMM_PG_HEAD) && page->order == order && page->owner == KMM_OWNER_PAGES,
				  "head page flags %#x order %u owner %u, want order %u (seed %llu)", page->flags,
				  page->order, page->owner, order, (unsigned long long)seed);
			cr_assert_eq(kmm_virt_to_page((void *)b.start), page, "virt_to_page(page_address) (seed %llu)",
				     (unsigned long long)seed);
			if ((gfp & KMM_GFP_COMP) && order > 0)
				cr_assert_eq(kmm_virt_to_head_page((void *)(b.end - 1)), page,
					     "compound tail's head (seed %llu)", (unsigned long long)seed);
			const struct kmm_mem_section *sec = (const struct kmm_mem_section *)base;
			cr_assert(b.start >= base + sec->reserved_pages * PG,
				  "block %#lx inside the reserved head of its section (seed %llu)",
				  (unsigned long)b.start, (unsigned long long)seed);
			for (size_t i = 0; i < nlive; i++)
				cr_assert(b.end <= live[i].start || live[i].end <= b.start,
					  "op %u: block [%#lx,%#lx) order %u overlaps live [%#lx,%#lx) order %u (seed %llu)",
					  op, (unsigned long)b.start, (unsigned long)b.end, order,
					  (unsigned long)live[i].start, (unsigned long)live[i].end, live[i].order,
					  (unsigned long long)seed);
			put_tags(&b);
			live[nlive++] = b;
		} else {
			size_t i = rng_below(&rs, nlive);
			struct blk b = live[i];
			cr_assert_eq(*(volatile uint64_t *)b.start, b.tag, "block %#lx: head tag clobbered (seed %llu)",
				     (unsigned long)b.start, (unsigned long long)seed);
			cr_assert_eq(*(volatile uint64_t *)(b.end - sizeof(uint64_t)), ~b.tag,
				     "block %#lx: tail tag clobbered (seed %llu)", (unsigned long)b.start,
				     (unsigned long long)seed);
			kmm_free_pages(b.page, b.order);
			live[i] = live[--nlive];
		}
		if (op % 500 == 499) {
			cr_assert_eq(kmm_buddy_check(1), 0, "buddy check failed at op %u (seed %llu)", op,
				     (unsigned long long)seed);
			check_buddyinfo("random run", seed);
		}
	}
	/* free everything, in random order */
	while (nlive > 0) {
		size_t i = rng_below(&rs, nlive);
		cr_assert_eq(*(volatile uint64_t *)live[i].start, live[i].tag, "tag clobbered (seed %llu)",
			     (unsigned long long)seed);
		kmm_free_pages(live[i].page, live[i].order);
		live[i] = live[--nlive];
	}
	uint64_t allocs1 = 0;
	for (unsigned o = 0; o < KMM_MAX_ORDER; o++)
		allocs1 += kmm_zone.st.allocs[o];
	cr_assert_eq(allocs1 - allocs0, allocs, "allocation counter (seed %llu)", (unsigned long long)seed);
	cr_assert_eq(kmm_zone.st.frees - frees0, allocs, "free counter (seed %llu)", (unsigned long long)seed);
	cr_assert(kmm_zone.st.splits > 0 && kmm_zone.st.merges > 0, "splits %llu merges %llu (seed %llu)",
		  (unsigned long long)kmm_zone.st.splits, (unsigned long long)kmm_zone.st.merges,
		  (unsigned long long)seed);
	cr_assert_eq(kmm_buddy_check(1), 0, "buddy check after freeing all (seed %llu)", (unsigned long long)seed);
	check_buddyinfo("all freed", seed);
	check_all_merged(seed);
}

Test(buddy_random, seed_1) { random_run(1, 10000); CHECK_BUDDY(); }
Test(buddy_random, seed_2) { random_run(2, 10000); CHECK_BUDDY(); }
Test(buddy_random, seed_0xdeadbeef) { random_run(0xdeadbeef, 10000); CHECK_BUDDY(); }
Test(buddy_random, seed_42_twice)
{
	/* a second run on a zone that has been split and merged already */
	random_run(42, 4000);
	random_run(4242, 4000);
	CHECK_BUDDY();
}

/* ---- single operations --------------------------------------------------------- */

Test(buddy, first_allocation_adds_a_section)
{
	cr_assert_eq(kmm_zone.nr_sections, 0, "the zone starts empty in a fresh test process");
	struct kmm_page *p = kmm_alloc_pages(0, KMM_GFP_KERNEL, KMM_OWNER_PAGES);
	cr_assert_not_null(p);
	cr_assert_eq(kmm_zone.nr_sections, 1);
	cr_assert_eq(kmm_zone.st.sections_added, 1);
	struct kmm_mem_section *s = kmm_zone.sections;
	cr_assert_eq((uintptr_t)s->base % KMM_SECTION_SIZE, 0, "sections are aligned to their size");
	/* header + mem_map: 64-byte descriptors for 16384 frames */
	cr_assert_eq(sizeof(struct kmm_page), 64);
	cr_assert_eq(s->reserved_pages, 257);
	cr_assert_eq(kmm_zone.managed_pages, KMM_SECTION_PAGES - 257);
	cr_assert_eq(kmm_zone.free_pages, kmm_zone.managed_pages - 1);
	cr_assert_eq(kmm_page_pfn(p), (uintptr_t)kmm_page_address(p) >> KMM_PAGE_SHIFT);
	kmm_free_pages(p, 0);
	check_buddyinfo("one page freed", 0);
	check_all_merged(0);
	CHECK_BUDDY();
}

Test(buddy, buddies_split_and_merge)
{
	/* an order-10 block split down to order 0 leaves one free block of
	 * each order 0..9 inside it; freeing the page merges all of them back */
	struct kmm_page *first = kmm_alloc_pages(0, KMM_GFP_KERNEL, KMM_OWNER_PAGES);
	cr_assert_not_null(first);
	kmm_free_pages(first, 0);

	/* take every free block below order 10 first, so that the next
	 * allocation must split an order-10 block.  In this one fresh
	 * section those are the blocks between the reserved frames and the
	 * first 4 MiB boundary, on the free lists or not onlined yet, in
	 * increasing order: 257 (order 0), 258 (1), ... 384 (7) in pageblock
	 * 0, which holds mem_map (unmovable), then 512 (9), movable. */
	struct kmm_page *small[64];
	size_t nsmall = 0;
	for (unsigned o = 0; o < KMM_MAX_ORDER - 1; o++)
		for (;;) {
			size_t nr[KMM_MAX_ORDER];
			cr_assert(read_buddyinfo(nr));
			if (nr[o] == 0)
				break;
			cr_assert(nsmall < 64);
			unsigned gfp = o < KMM_PAGEBLOCK_ORDER ? KMM_GFP_KERNEL : KMM_GFP_USER;
			small[nsmall] = kmm_alloc_pages(o, gfp, KMM_OWNER_PAGES);
			cr_assert_not_null(small[nsmall]);
			cr_assert_eq(small[nsmall]->order, o);
			nsmall++;
		}
	size_t mid[KMM_MAX_ORDER];
	cr_assert(read_buddyinfo(mid));
	for (unsigned o = 0; o < KMM_MAX_ORDER - 1; o++)
		cr_assert_eq(mid[o], 0);
	uint64_t splits = kmm_zone.st.splits, merges = kmm_zone.st.merges;

	struct kmm_page *p = kmm_alloc_pages(0, KMM_GFP_USER, KMM_OWNER_PAGES);
	cr_assert_not_null(p);
	cr_assert_eq(kmm_zone.st.splits - splits, 10, "order 10 -> 0 is ten splits");
	size_t after[KMM_MAX_ORDER];
	cr_assert(read_buddyinfo(after));
	for (unsigned o = 0; o < KMM_MAX_ORDER - 1; o++)
		cr_assert_eq(after[o], 1, "order %u: one free half after the split", o);
	cr_assert_eq(after[10], mid[10] - 1);
	/* the buddy of p at order k is p ^ (1 << k): all free, of order k */
	struct kmm_mem_section *s = (struct kmm_mem_section *)((uintptr_t)p & ~((uintptr_t)KMM_SECTION_SIZE - 1));
	size_t idx = (size_t)(p - s->mem_map);
	cr_assert_eq(idx % 1024, 0, "the order-0 page is the head of the split block");
	for (unsigned k = 0; k < 10; k++) {
		struct kmm_page *b = &s->mem_map[idx ^ ((size_t)1 << k)];
		cr_assert(b->flags & KMM_PG_BUDDY, "buddy at order %u is free", k);
		cr_assert_eq(b->order, k);
	}
	cr_assert_eq(kmm_buddy_check(1), 0);
	kmm_free_pages(p, 0);
	cr_assert_eq(kmm_zone.st.merges - merges, 10, "freeing merges ten times back to order 10");
	cr_assert(read_buddyinfo(after));
	cr_assert_arr_eq(after, mid, sizeof mid);
	while (nsmall > 0) {
		nsmall--;
		kmm_free_pages(small[nsmall], small[nsmall]->order);
	}
	check_all_merged(0);
	CHECK_BUDDY();
}

Test(buddy, order_too_big_fails)
{
	errno = 0;
	cr_assert_null(kmm_alloc_pages(KMM_MAX_ORDER, KMM_GFP_KERNEL, KMM_OWNER_PAGES));
	cr_assert_eq(errno, ENOMEM);
	CHECK_BUDDY();
}

Test(buddy, virt_to_page_round_trip)
{
	struct kmm_page *p = kmm_alloc_pages(4, KMM_GFP_KERNEL | KMM_GFP_COMP, KMM_OWNER_PAGES);
	cr_assert_not_null(p);
	char *a = kmm_page_address(p);
	for (size_t i = 0; i < 16; i++) {
		cr_assert_eq(kmm_page_address(p + i), a + i * PG, "page_address of frame %zu", i);
		cr_assert_eq(kmm_virt_to_page(a + i * PG), p + i);
		cr_assert_eq(kmm_virt_to_page(a + i * PG + 123), p + i, "any address inside the frame");
		cr_assert_eq(kmm_virt_to_page(a + i * PG + PG - 1), p + i);
		cr_assert_eq(kmm_virt_to_head_page(a + i * PG + 7), p, "tail %zu -> head", i);
		cr_assert_eq(kmm_page_pfn(p + i), ((uintptr_t)a >> KMM_PAGE_SHIFT) + i);
	}
	/* every frame of the section, reserved ones included */
	struct kmm_mem_section *s = kmm_zone.sections;
	for (size_t i = 0; i < KMM_SECTION_PAGES; i += 97) {
		struct kmm_page *f = &s->mem_map[i];
		cr_assert_eq(kmm_virt_to_page(kmm_page_address(f)), f, "frame %zu", i);
	}
	cr_assert_eq(kmm_virt_to_page(s->base), &s->mem_map[0]);
	cr_assert_eq(kmm_virt_to_page(s->base + KMM_SECTION_SIZE - 1), &s->mem_map[KMM_SECTION_PAGES - 1]);
	/* addresses outside every section */
	int local;
	void *heap = malloc(16);
	cr_assert_null(kmm_virt_to_page(&local));
	cr_assert_null(kmm_virt_to_page(heap));
	cr_assert_null(kmm_virt_to_page(NULL));
	cr_assert_null(kmm_virt_to_page(s->base + KMM_SECTION_SIZE));
	cr_assert_null(kmm_virt_to_page(s->base - 1));
	cr_assert_null(kmm_virt_to_head_page(&local));
	free(heap);
	kmm_free_pages(p, 4);
	CHECK_BUDDY();
}

Test(buddy, second_section_added_when_full)
{
	struct kmm_page *blocks[40];
	size_t n = 0;
	/* the first section has 15 order-10 blocks; the 16th needs another */
	while (kmm_zone.nr_sections < 2) {
		cr_assert(n < 40);
		blocks[n] = kmm_alloc_pages(10, KMM_GFP_KERNEL, KMM_OWNER_PAGES);
		cr_assert_not_null(blocks[n]);
		n++;
	}
	cr_assert_eq(n, 16, "the 16th order-10 block comes from a second section (took %zu)", n);
	cr_assert_eq(kmm_zone.st.sections_added, 2);
	struct kmm_mem_section *s2 = kmm_zone.sections, *s1 = s2->next;
	cr_assert_not_null(s1);
	cr_assert_eq(s1->next, NULL);
	cr_assert_neq(s1->base, s2->base);
	cr_assert_eq((uintptr_t)s2->base % KMM_SECTION_SIZE, 0);
	cr_assert_eq(s2->index, 1);
	cr_assert_eq(kmm_zone.managed_pages, 2 * (KMM_SECTION_PAGES - 257));
	char *last = kmm_page_address(blocks[n - 1]);
	cr_assert(last >= s2->base && last < s2->base + KMM_SECTION_SIZE, "the last block is in the new section");
	for (size_t i = 0; i + 1 < n; i++) {
		char *a = kmm_page_address(blocks[i]);
		cr_assert(a >= s1->base && a < s1->base + KMM_SECTION_SIZE, "block %zu in the first section", i);
	}
	cr_assert_eq(kmm_virt_to_page(last), blocks[n - 1]);
	cr_assert_eq(kmm_virt_to_page(kmm_page_address(blocks[0])), blocks[0]);
	/* both sections are in the region registry */
	struct kmm_region_totals t;
	kmm_region_totals(&t);
	cr_assert_eq(t.count[KMM_REGION_SECTION], 2);
	cr_assert_eq(t.bytes[KMM_REGION_SECTION], 2 * KMM_SECTION_SIZE);
	check_buddyinfo("two sections", 0);
	cr_assert_eq(kmm_buddy_check(1), 0);
	while (n > 0)
		kmm_free_pages(blocks[--n], 10);
	check_all_merged(0);
	cr_assert_eq(kmm_zone.nr_sections, 2, "sections are never removed");
	CHECK_BUDDY();
}

Test(buddy, min_watermark_keeps_a_reserve_from_user_allocations)
{
	/* min = all but 400 pages of a section: user allocations add a section
	 * rather than go below it, kernel ones may use the reserve */
	size_t managed = KMM_SECTION_PAGES - 257;
	kmm_buddy_set_watermarks(managed - 400, 0, 4096);
	struct kmm_page *u[8];
	for (int i = 0; i < 3; i++) {
		u[i] = kmm_alloc_pages(7, KMM_GFP_USER, KMM_OWNER_PAGES);   /* 128 pages each */
		cr_assert_not_null(u[i]);
	}
	cr_assert_eq(kmm_zone.nr_sections, 1, "384 pages fit above min");
	cr_assert_eq(kmm_zone.wmark_min, managed - 400, "fixed watermarks survive growth");
	size_t free_before = kmm_zone.free_pages;
	cr_assert_eq(free_before, managed - 384);
	/* a kernel allocation may go below min */
	struct kmm_page *k = kmm_alloc_pages(7, KMM_GFP_KERNEL, KMM_OWNER_PAGES);
	cr_assert_not_null(k);
	cr_assert_eq(kmm_zone.nr_sections, 1, "kernel allocations use the reserve");
	/* a user one does not: a second section */
	u[3] = kmm_alloc_pages(0, KMM_GFP_USER, KMM_OWNER_PAGES);
	cr_assert_not_null(u[3]);
	cr_assert_eq(kmm_zone.nr_sections, 2, "a user allocation below min adds a section");
	cr_assert_eq(kmm_zone.wmark_min, managed - 400);
	kmm_free_pages(u[3], 0);
	kmm_free_pages(k, 7);
	for (int i = 0; i < 3; i++)
		kmm_free_pages(u[i], 7);
	check_all_merged(0);
	CHECK_BUDDY();
}

/* ---- split pages and page ranges ------------------------------------------------ */

Test(buddy, split_page_and_free_page_range_with_resident_vector)
{
	struct kmm_page *p = kmm_alloc_pages(6, KMM_GFP_USER, KMM_OWNER_PAGES);   /* 64 pages */
	cr_assert_not_null(p);
	char *a = kmm_page_address(p);
	size_t free0 = kmm_zone.free_pages, dirty0 = kmm_zone.dirty_free_pages;
	kmm_split_page(p, 6, KMM_OWNER_VMALLOC);
	for (size_t i = 0; i < 64; i++) {
		cr_assert(p[i].flags & KMM_PG_HEAD, "frame %zu is an order-0 allocation", i);
		cr_assert_eq(p[i].order, 0);
		cr_assert_eq(p[i].owner, KMM_OWNER_VMALLOC);
		cr_assert_eq(kmm_virt_to_head_page(a + i * PG), p + i, "split pages are their own heads");
	}
	cr_assert_eq(kmm_buddy_check(1), 0, "64 order-0 allocations are accounted for");
	/* free a few alone (odd ones: no merging yet) */
	for (size_t i = 1; i < 8; i += 2)
		kmm_free_pages(p + i, 0);
	cr_assert_eq(kmm_zone.free_pages, free0 + 4);
	cr_assert_eq(kmm_buddy_check(1), 0);
	/* free 8..63 as a range, telling which pages are resident: touch 5 */
	unsigned char vec[56];
	memset(vec, 0, sizeof vec);
	for (size_t i = 8; i < 64; i += 11) {
		a[i * PG] = 1;
		vec[i - 8] = 1;
	}
	size_t nres = 0;
	for (size_t i = 0; i < 56; i++)
		nres += vec[i];
	cr_assert_eq(nres, 6);
	size_t dirty1 = kmm_zone.dirty_free_pages;
	cr_assert_eq(dirty1, dirty0 + 4, "pages freed alone count as resident");
	kmm_free_page_range(p + 8, 56, vec);
	cr_assert_eq(kmm_zone.free_pages, free0 + 60);
	cr_assert_eq(kmm_zone.dirty_free_pages, dirty1 + nres, "the range adds exactly its resident pages");
	cr_assert_eq(kmm_buddy_check(1), 0);
	/* the rest alone: merges back to the order-6 block and beyond */
	for (size_t i = 0; i < 8; i += 2)
		kmm_free_pages(p + i, 0);
	cr_assert_eq(kmm_zone.free_pages, free0 + 64);
	cr_assert(p->flags & KMM_PG_BUDDY, "the head is a free block head again");
	cr_assert(p->order >= 6, "the split block merged back (order %u)", p->order);
	check_buddyinfo("range freed", 0);
	check_all_merged(0);
	CHECK_BUDDY();
}

Test(buddy, free_page_range_without_vector_counts_all_resident)
{
	struct kmm_page *p = kmm_alloc_pages(8, KMM_GFP_KERNEL, KMM_OWNER_PAGES);   /* 256 pages */
	cr_assert_not_null(p);
	kmm_split_page(p, 8, KMM_OWNER_PAGES);
	size_t dirty0 = kmm_zone.dirty_free_pages, free0 = kmm_zone.free_pages;
	uint64_t frees0 = kmm_zone.st.frees;
	/* an unaligned range from the middle, then the two ends */
	kmm_free_page_range(p + 3, 250, NULL);
	cr_assert_eq(kmm_zone.free_pages, free0 + 250);
	cr_assert_eq(kmm_zone.dirty_free_pages, dirty0 + 250, "NULL: every page may be resident");
	cr_assert_eq(kmm_zone.st.frees, frees0 + 1, "one free operation");
	cr_assert_eq(kmm_buddy_check(1), 0);
	kmm_free_page_range(p, 3, NULL);
	kmm_free_page_range(p + 253, 3, NULL);
	cr_assert_eq(kmm_zone.free_pages, free0 + 256);
	cr_assert_eq(kmm_zone.dirty_free_pages, dirty0 + 256);
	cr_assert(p->flags & KMM_PG_BUDDY);
	cr_assert(p->order >= 8);
	check_buddyinfo("ranges freed", 0);
	check_all_merged(0);
	CHECK_BUDDY();
}

/* ---- pagetypeinfo ------------------------------------------------------------------ */

Test(buddy, pagetypeinfo_parses_and_agrees)
{
	struct kmm_page *k[10], *u[10];
	for (int i = 0; i < 10; i++) {
		k[i] = kmm_alloc_pages((unsigned)i % 4, KMM_GFP_KERNEL, KMM_OWNER_PAGES);
		u[i] = kmm_alloc_pages((unsigned)(i % 3) * 3, KMM_GFP_USER, KMM_OWNER_PAGES);
		cr_assert(k[i] && u[i]);
	}
	for (int i = 0; i < 10; i += 3) {
		kmm_free_pages(k[i], k[i]->order);
		kmm_free_pages(u[i], u[i]->order);
		k[i] = u[i] = NULL;
	}
	static char text[8192];
	struct kmm_buf b;
	kmm_buf_init(&b, text, sizeof text, -1);
	kmm_buddy_report_pagetypeinfo(&b);
	cr_assert(!b.truncated);

	size_t nr[KMM_MAX_ORDER];
	cr_assert(read_buddyinfo(nr));

	int pb_order = -1;
	size_t pb_pages = 0, count[KMM_MIGRATE_TYPES][KMM_MAX_ORDER], blocks[KMM_MIGRATE_TYPES];
	int types_seen = 0, blocks_seen = 0, header_seen = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char type[32];
		int off = 0;
		if (sscanf(line, "Page block order: %d", &pb_order) == 1)
			continue;
		if (sscanf(line, "Pages per block: %zu", &pb_pages) == 1)
			continue;
		if (strncmp(line, "Free pages count per migrate type at order", 42) == 0) {
			char *p = line + 42, *end;
			for (unsigned o = 0; o < KMM_MAX_ORDER; o++) {
				unsigned long v = strtoul(p, &end, 10);
				cr_assert(end != p && v == o, "order header column %u: %s", o, line);
				p = end;
			}
			header_seen = 1;
			continue;
		}
		if (sscanf(line, "Node %*d, zone Normal, type %31s %n", type, &off) == 1 && off > 0) {
			int t = strcmp(type, "Unmovable") == 0 ? KMM_MIGRATE_UNMOVABLE
				: strcmp(type, "Movable") == 0 ? KMM_MIGRATE_MOVABLE : -1;
			cr_assert(t >= 0, "unknown migrate type %s", type);
			char *p = line + off, *end;
			for (unsigned o = 0; o < KMM_MAX_ORDER; o++) {
				count[t][o] = strtoull(p, &end, 10);
				cr_assert(end != p, "type %s: order %u does not parse: %s", type, o, line);
				p = end;
			}
			types_seen |= 1 << t;
			continue;
		}
		if (strncmp(line, "Number of blocks type", 21) == 0) {
			cr_assert(strstr(line, "Unmovable") && strstr(line, "Movable"));
			blocks_seen = 1;
			continue;
		}
		if (blocks_seen == 1 && sscanf(line, "Node 0, zone Normal %zu %zu", &blocks[0], &blocks[1]) == 2) {
			blocks_seen = 2;
			continue;
		}
	}
	cr_assert_eq(pb_order, KMM_PAGEBLOCK_ORDER);
	cr_assert_eq(pb_pages, KMM_PAGEBLOCK_PAGES);
	cr_assert(header_seen, "order header line");
	cr_assert_eq(types_seen, 3, "a line per migrate type");
	cr_assert_eq(blocks_seen, 2, "pageblock counts line");
	for (unsigned o = 0; o < KMM_MAX_ORDER; o++)
		cr_assert_eq(count[0][o] + count[1][o], nr[o], "order %u: %zu + %zu by type, buddyinfo %zu", o,
			     count[0][o], count[1][o], nr[o]);
	cr_assert_eq(blocks[0] + blocks[1], kmm_zone.nr_sections * (KMM_SECTION_PAGES / KMM_PAGEBLOCK_PAGES));
	cr_assert(blocks[0] >= kmm_zone.nr_sections, "the pageblock holding mem_map is unmovable");
	cr_assert(blocks[1] >= 1);

	for (int i = 0; i < 10; i++) {
		if (k[i])
			kmm_free_pages(k[i], k[i]->order);
		if (u[i])
			kmm_free_pages(u[i], u[i]->order);
	}
	check_all_merged(0);
	CHECK_BUDDY();
}

Test(buddy, zoneinfo_report)
{
	struct kmm_page *p = kmm_alloc_pages(3, KMM_GFP_KERNEL, KMM_OWNER_PAGES);
	cr_assert_not_null(p);
	char text[2048];
	struct kmm_buf b;
	kmm_buf_init(&b, text, sizeof text, -1);
	kmm_buddy_report_zoneinfo(&b);
	cr_assert(!b.truncated);
	size_t nsec, mib, managed, nfree, resident;
	const char *l = strstr(text, "  sections ");
	cr_assert_not_null(l, "%s", text);
	cr_assert_eq(sscanf(l, "  sections %zu (%zu MiB each), managed %zu pages, free %zu, resident free %zu", &nsec,
			    &mib, &managed, &nfree, &resident), 5, "%s", l);
	cr_assert_eq(nsec, 1);
	cr_assert_eq(mib, 64);
	cr_assert_eq(managed, kmm_zone.managed_pages);
	cr_assert_eq(nfree, kmm_zone.free_pages);
	l = strstr(text, "frames by owner:");
	cr_assert_not_null(l);
	size_t owners[KMM_OWNER_NR];
	cr_assert_eq(sscanf(l, "frames by owner: free %zu reserved %zu slab %zu vmalloc %zu pages %zu", &owners[0],
			    &owners[1], &owners[2], &owners[3], &owners[4]), 5, "%s", l);
	cr_assert_eq(owners[KMM_OWNER_FREE], kmm_zone.free_pages);
	cr_assert_eq(owners[KMM_OWNER_RESERVED], 257);
	cr_assert_eq(owners[KMM_OWNER_PAGES], 8);
	kmm_free_pages(p, 3);
	CHECK_BUDDY();
}

/* ---- watermarks and releasing memory --------------------------------------------- */

Test(buddy, freeing_above_high_watermark_releases_down_to_low)
{
	enum { N = 16, ORDER = 7 };   /* 16 x 128 pages = 8 MiB */
	const size_t high = 512, low = 256;
	kmm_buddy_set_watermarks(0, low, high);
	cr_assert_eq(kmm_zone.wmark_high, high);
	cr_assert_eq(kmm_zone.wmark_low, low);
	cr_assert(kmm_zone.wmark_fixed);

	struct kmm_page *blk[N];
	for (int i = 0; i < N; i++) {
		blk[i] = kmm_alloc_pages(ORDER, KMM_GFP_USER, KMM_OWNER_PAGES);
		cr_assert_not_null(blk[i]);
		memset(kmm_page_address(blk[i]), 0xa5, PG << ORDER);   /* really resident */
	}
	cr_assert_eq(kmm_zone.dirty_free_pages, 0, "nothing freed yet: clean section");
	uint64_t released0 = kmm_zone.st.released_pages, rblocks0 = kmm_zone.st.released_blocks;
	int releases = 0;
	for (int i = 0; i < N; i++) {
		size_t before = kmm_zone.dirty_free_pages;
		uint64_t rel = kmm_zone.st.released_pages;
		kmm_free_pages(blk[i], ORDER);
		size_t after = kmm_zone.dirty_free_pages;
		if (before + (1u << ORDER) > high) {
			cr_assert(after <= low, "free %d: %zu resident free pages above high %zu, only down to %zu (low %zu)",
				  i, before + (1u << ORDER), high, after, low);
			cr_assert(kmm_zone.st.released_pages > rel, "free %d released nothing", i);
			releases++;
		} else {
			cr_assert_eq(after, before + (1u << ORDER), "free %d: below high nothing is released", i);
		}
		cr_assert(after <= high);
		cr_assert_eq(kmm_buddy_check(1), 0, "after free %d", i);
	}
	cr_assert(releases >= 3, "releases happened %d times", releases);
	cr_assert(kmm_zone.st.released_pages > released0);
	cr_assert(kmm_zone.st.released_blocks > rblocks0);
	/* the OS really has them back: resident pages of the freed blocks are
	 * at most what the zone still counts as resident */
	size_t res = 0;
	for (int i = 0; i < N; i++)
		res += resident_pages(kmm_page_address(blk[i]), PG << ORDER);
	cr_assert(res <= kmm_zone.dirty_free_pages, "%zu pages resident, zone counts %zu", res,
		  kmm_zone.dirty_free_pages);
	cr_assert(res < (size_t)N << ORDER);
	CHECK_BUDDY();
}

Test(buddy, cache_target_sets_automatic_watermarks)
{
	struct kmm_page *p = kmm_alloc_pages(0, KMM_GFP_KERNEL, KMM_OWNER_PAGES);
	cr_assert_not_null(p);
	cr_assert(!kmm_zone.wmark_fixed);
	cr_assert_eq(kmm_zone.wmark_high, 2048, "automatic high: 8 MiB");
	cr_assert_eq(kmm_zone.wmark_low, 1536, "low: three quarters of high");
	kmm_buddy_set_cache_target(8192);
	cr_assert_eq(kmm_zone.wmark_high, 8192);
	cr_assert_eq(kmm_zone.wmark_low, 6144);
	kmm_buddy_set_cache_target(100);
	cr_assert_eq(kmm_zone.wmark_high, 2048, "never below 8 MiB automatically");
	/* fixed watermarks ignore the cache target */
	kmm_buddy_set_watermarks(0, 100, 300);
	kmm_buddy_set_cache_target(8192);
	cr_assert_eq(kmm_zone.wmark_high, 300);
	cr_assert_eq(kmm_zone.wmark_low, 100);
	/* low above high: half of high */
	kmm_buddy_set_watermarks(0, 500, 300);
	cr_assert_eq(kmm_zone.wmark_low, 150);
	/* back to automatic, with the target set meanwhile */
	kmm_buddy_set_watermarks(0, 0, 0);
	cr_assert(!kmm_zone.wmark_fixed);
	cr_assert_eq(kmm_zone.wmark_high, 8192);
	cr_assert_eq(kmm_zone.wmark_low, 6144);
	kmm_free_pages(p, 0);
	CHECK_BUDDY();
}

Test(buddy, cache_target_releases_when_exceeded)
{
	/* automatic watermarks at 8 MiB: freeing 12 MiB of touched blocks
	 * releases down to 6 MiB */
	struct kmm_page *blk[3];
	for (int i = 0; i < 3; i++) {
		blk[i] = kmm_alloc_pages(10, KMM_GFP_USER, KMM_OWNER_PAGES);
		cr_assert_not_null(blk[i]);
		memset(kmm_page_address(blk[i]), 1, PG << 10);
	}
	kmm_free_pages(blk[0], 10);
	kmm_free_pages(blk[1], 10);
	cr_assert_eq(kmm_zone.dirty_free_pages, 2048);
	cr_assert_eq(kmm_zone.st.released_pages, 0, "at high, not above: nothing released");
	kmm_free_pages(blk[2], 10);
	cr_assert(kmm_zone.dirty_free_pages <= kmm_zone.wmark_low, "%zu resident free pages, low %zu",
		  kmm_zone.dirty_free_pages, kmm_zone.wmark_low);
	cr_assert(kmm_zone.st.released_pages >= 1024);
	CHECK_BUDDY();
}

/* free-list walk: resident pages of free blocks, by order */
static size_t resident_at_orders(unsigned lo, unsigned hi)
{
	size_t n = 0;
	for (unsigned o = lo; o <= hi; o++)
		for (unsigned t = 0; t < KMM_MIGRATE_TYPES; t++) {
			struct kmm_list *h = &kmm_zone.free_area[o].free_list[t];
			for (struct kmm_list *l = h->next; l != h; l = l->next)
				n += kmm_list_entry(l, struct kmm_page, lru)->resident;
		}
	return n;
}

Test(buddy, release_all)
{
	/* resident free blocks of many orders: free every other order-0 page
	 * of a split block (they cannot merge), and some bigger blocks */
	struct kmm_page *p = kmm_alloc_pages(5, KMM_GFP_USER, KMM_OWNER_PAGES);
	struct kmm_page *big[4];
	cr_assert_not_null(p);
	memset(kmm_page_address(p), 3, PG << 5);
	kmm_split_page(p, 5, KMM_OWNER_PAGES);
	for (int i = 0; i < 4; i++) {
		big[i] = kmm_alloc_pages((unsigned)(4 + 2 * i), KMM_GFP_USER, KMM_OWNER_PAGES);
		cr_assert_not_null(big[i]);
		memset(kmm_page_address(big[i]), 3, PG << (4 + 2 * i));
	}
	for (int i = 0; i < 32; i += 2)
		kmm_free_pages(p + i, 0);
	for (int i = 0; i < 4; i++)
		kmm_free_pages(big[i], big[i]->order);
	size_t dirty = kmm_zone.dirty_free_pages;
	size_t small = resident_at_orders(0, KMM_RELEASE_MIN_ORDER - 1);
	cr_assert_eq(small, 16, "16 lone order-0 pages");
	cr_assert(dirty > small);
	cr_assert_eq(kmm_zone.st.released_pages, 0, "below high: nothing released yet");

	size_t n = kmm_buddy_release_all(KMM_RELEASE_MIN_ORDER);
	cr_assert_eq(n, dirty - small, "released %zu of %zu resident (small blocks %zu)", n, dirty, small);
	cr_assert_eq(kmm_zone.dirty_free_pages, small);
	cr_assert_eq(resident_at_orders(KMM_RELEASE_MIN_ORDER, KMM_MAX_ORDER - 1), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(resident_pages(kmm_page_address(big[i]), PG << (4 + 2 * i)), 0,
			     "block %d given back to the OS", i);
	cr_assert_eq(kmm_buddy_check(1), 0);

	n = kmm_buddy_release_all(0);
	cr_assert_eq(n, small);
	cr_assert_eq(kmm_zone.dirty_free_pages, 0);
	cr_assert_eq(resident_pages(kmm_page_address(p), PG) + resident_pages(kmm_page_address(p + 2), PG), 0);
	cr_assert_eq(resident_pages(kmm_page_address(p + 1), PG), 1, "allocated pages keep their data");
	cr_assert_eq(*(char *)kmm_page_address(p + 1), 3);
	cr_assert_eq(kmm_buddy_release_all(0), 0, "nothing left to release");
	/* released blocks are clean: no PG_DIRTY on any free block */
	for (unsigned o = 0; o < KMM_MAX_ORDER; o++)
		for (unsigned t = 0; t < KMM_MIGRATE_TYPES; t++) {
			struct kmm_list *h = &kmm_zone.free_area[o].free_list[t];
			for (struct kmm_list *l = h->next; l != h; l = l->next)
				cr_assert_eq(kmm_list_entry(l, struct kmm_page, lru)->flags & KMM_PG_DIRTY, 0,
					     "order %u: a released block still dirty", o);
		}
	for (int i = 1; i < 32; i += 2)
		kmm_free_pages(p + i, 0);
	check_all_merged(0);
	CHECK_BUDDY();
}

Test(buddy, dirty_state_follows_blocks)
{
	/* a block from a fresh section is clean; freed and reallocated it is
	 * dirty (its contents survive); released it is clean and zero */
	struct kmm_page *p = kmm_alloc_pages(4, KMM_GFP_USER, KMM_OWNER_PAGES);
	cr_assert_not_null(p);
	cr_assert_eq(p->flags & KMM_PG_DIRTY, 0, "fresh frames are clean");
	char *a = kmm_page_address(p);
	memset(a, 0x5a, PG << 4);
	kmm_free_pages(p, 4);
	struct kmm_page *q = kmm_alloc_pages(4, KMM_GFP_USER, KMM_OWNER_PAGES);
	cr_assert_eq(q, p, "LIFO: the block just freed comes back");
	cr_assert(q->flags & KMM_PG_DIRTY, "a recycled block is dirty");
	cr_assert_eq(a[100], 0x5a);
	kmm_free_pages(q, 4);
	kmm_buddy_release_all(0);
	q = kmm_alloc_pages(4, KMM_GFP_USER, KMM_OWNER_PAGES);
	cr_assert_eq(q, p);
	cr_assert_eq(q->flags & KMM_PG_DIRTY, 0, "a released block is clean");
	for (size_t i = 0; i < (PG << 4); i += 512)
		cr_assert_eq(a[i], 0, "released memory reads as zero");
	kmm_free_pages(q, 4);
	CHECK_BUDDY();
}

Test(buddy, release_all_gives_back_every_resident_free_block)
{
	/* An order-10 block whose last page alone was touched is freed with
	 * an exact resident vector (1 resident page), then split by an order-9
	 * allocation: the free upper half holds the resident page.
	 * kmm_buddy_release_all(0) is documented to give back every resident
	 * free block, so afterwards no free frame may be resident. */
	struct kmm_page *o9 = kmm_alloc_pages(9, KMM_GFP_USER, KMM_OWNER_PAGES);   /* the lone order-9 block */
	cr_assert_not_null(o9);
	cr_assert_eq(kmm_zone.free_area[9].nr_free, 0);
	struct kmm_page *a = kmm_alloc_pages(10, KMM_GFP_USER, KMM_OWNER_PAGES);
	cr_assert_not_null(a);
	char *base = kmm_page_address(a);
	base[(PG << 10) - 1] = 1;
	kmm_split_page(a, 10, KMM_OWNER_PAGES);
	static unsigned char vec[1024];
	cr_assert_eq(mincore(base, PG << 10, vec), 0);
	kmm_free_page_range(a, 1024, vec);
	cr_assert_eq(kmm_zone.dirty_free_pages, 1);

	struct kmm_page *lo = kmm_alloc_pages(9, KMM_GFP_USER, KMM_OWNER_PAGES);
	cr_assert_eq(lo, a, "the block just freed (LIFO) is split");
	char *upper = base + (PG << 9);
	struct kmm_page *up = kmm_virt_to_page(upper);
	cr_assert(up->flags & KMM_PG_BUDDY, "the upper half is free");
	cr_assert_eq(resident_pages(upper, PG << 9), 1, "the touched page is in the free upper half");

	kmm_buddy_release_all(0);
	cr_assert_eq(resident_pages(upper, PG << 9), 0,
		     "after release_all(0) a free block still holds a resident page "
		     "(its resident estimate is %zu, flags %#x)", (size_t)up->resident, up->flags);
	kmm_free_pages(lo, 9);
	kmm_free_pages(o9, 9);
	CHECK_BUDDY();
}

/* ---- threads ---------------------------------------------------------------------- */

static int split_stop;
static unsigned long split_rounds[3];

/* What vmalloc does with its frames: allocate a block, split it into
 * order-0 allocations, later free them as a range. */
static void *split_thread(void *arg)
{
	int id = (int)(uintptr_t)arg;
	uint64_t rs = 77 + (uint64_t)id;
	while (!__atomic_load_n(&split_stop, __ATOMIC_RELAXED)) {
		unsigned order = 9 + (unsigned)rng_below(&rs, 2);
		struct kmm_page *p = kmm_alloc_pages(order, KMM_GFP_USER, KMM_OWNER_VMALLOC);
		if (p == NULL)
			break;
		kmm_split_page(p, order, KMM_OWNER_VMALLOC);
		kmm_free_page_range(p, (size_t)1 << order, NULL);
		split_rounds[id]++;
	}
	return NULL;
}

Test(buddy_threads, check_while_other_threads_split_pages, .timeout = 30)
{
	/* kmm_buddy_check holds the zone lock, so it must see a consistent
	 * mem_map whatever other threads do through the API */
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, split_thread, (void *)(uintptr_t)i), 0);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int bad = 0;
	unsigned long checks = 0;
	do {
		bad = kmm_buddy_check(1);
		checks++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (bad == 0 && (now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) < 3000000000L);
	__atomic_store_n(&split_stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(bad, 0,
		     "check %lu found %d violation(s) while other threads were inside kmm_split_page "
		     "(it rewrites the frames of an allocated block without the zone lock; see stderr)",
		     checks, bad);
	cr_assert(split_rounds[0] + split_rounds[1] + split_rounds[2] > 0);
	CHECK_BUDDY();
}

/* page_shuffle: free blocks go to the head or the tail of their list at
 * random.  64 pages freed and taken again: without shuffling the free
 * lists are LIFO and give them back in a fixed order, the reverse of the
 * frees; with it, not.  The allocator stays consistent either way. */
static void free_and_retake(struct kmm_page **p, size_t n, struct kmm_page **again)
{
	for (size_t i = 0; i < n; i++)
		kmm_free_pages(p[i], 0);
	for (size_t i = 0; i < n; i++) {
		again[i] = kmm_alloc_pages(0, KMM_GFP_KERNEL, KMM_OWNER_PAGES);
		cr_assert_not_null(again[i]);
	}
}

Test(buddy, page_shuffle_changes_the_order_not_the_invariants)
{
	enum { N = 64 };
	struct kmm_page *p[N], *again[N];
	/* a hole-riddled zone, so frees do not all merge back: take 2N,
	 * give back every other one and keep the rest */
	struct kmm_page *all[2 * N];
	for (size_t i = 0; i < 2 * N; i++)
		cr_assert_not_null(all[i] = kmm_alloc_pages(0, KMM_GFP_KERNEL, KMM_OWNER_PAGES));
	for (size_t i = 0; i < N; i++)
		p[i] = all[2 * i];
	free_and_retake(p, N, again);
	size_t reversed = 0;
	for (size_t i = 0; i < N; i++)
		reversed += again[i] == p[N - 1 - i];
	cr_assert_eq(reversed, N, "without page_shuffle the lists are LIFO");
	CHECK_BUDDY();

	cr_assert_eq(kmm_kernel_param_set(KMM_KP_PAGE_SHUFFLE, 1), 1);
	free_and_retake(again, N, p);
	reversed = 0;
	for (size_t i = 0; i < N; i++)
		reversed += p[i] == again[N - 1 - i];
	cr_assert(reversed < N / 2, "with page_shuffle %zu of %d pages came back in LIFO order", reversed, N);
	CHECK_BUDDY();
	kmm_kernel_param_set(KMM_KP_PAGE_SHUFFLE, 0);
	for (size_t i = 0; i < N; i++) {
		kmm_free_pages(p[i], 0);
		kmm_free_pages(all[2 * i + 1], 0);
	}
	CHECK_BUDDY();
}

Test(buddy, hot_request_takes_resident_memory_of_any_order)
{
	/* A clean order-4 block is on its list (split off by a first
	 * allocation), and a resident order-10 block was just freed.  A
	 * KMM_GFP_HOT order-4 request must split the resident block, however
	 * big, rather than take the clean one. */
	struct kmm_page *first = kmm_alloc_pages(4, KMM_GFP_USER, KMM_OWNER_PAGES);
	cr_assert_not_null(first);
	struct kmm_page *big = kmm_alloc_pages(10, KMM_GFP_USER, KMM_OWNER_PAGES);
	cr_assert_not_null(big);
	char *base = kmm_page_address(big);
	memset(base, 0x3c, PG << 10);
	kmm_free_pages(big, 10);
	cr_assert(kmm_zone.free_area[4].nr_free > 0, "a clean order-4 block is free");
	cr_assert(kmm_zone.dirty_free_pages >= 1024);

	struct kmm_page *hot = kmm_alloc_pages(4, KMM_GFP_USER | KMM_GFP_HOT, KMM_OWNER_PAGES);
	cr_assert_not_null(hot);
	char *h = kmm_page_address(hot);
	cr_assert(h >= base && h < base + (PG << 10), "the hot request took %p, outside the resident block %p",
		  (void *)h, (void *)base);
	cr_assert(hot->flags & KMM_PG_DIRTY, "it is marked dirty (recycled)");
	cr_assert_eq(resident_pages(h, PG << 4), 16, "and its pages are resident");

	kmm_free_pages(hot, 4);
	kmm_free_pages(first, 4);
	CHECK_BUDDY();
}

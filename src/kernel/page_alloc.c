/*
 * page_alloc.c — the buddy page allocator (see page_alloc.h for the model).
 *
 * THEORY
 *
 * Allocating 2^k frames: take a block from free_area[k] of the wanted
 * migrate type; if that list is empty, take the smallest larger block and
 * split it, putting the unused halves back on the lower lists ("expand"):
 *
 *     order 3 block:  [ a a a a | b b | c | d ]   want order 0
 *                      take a's half, then b's, then c's ... d is handed out
 *
 * Freeing: the freed block's buddy (pfn ^ (1 << order)) is checked; if it is
 * a free block of the same order the two merge into one of order + 1, and so
 * on up — so two buddies are never both free at the same order.
 *
 * A free block remembers whether it may hold resident pages (PG_DIRTY).
 * Blocks from a new section are clean (never touched); blocks freed by
 * users are dirty.  The zone counts dirty free pages and, above its high
 * watermark, madvises dirty blocks (largest first) until below the low one.
 *
 * LOCKING: everything under kmm_zone.lock, except the section list, which
 * only grows and is published with release stores.  Registering a new
 * section's region happens after the zone lock is dropped.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "page_alloc.h"
#include "region.h"
#include "../os.h"
#include "../util/format.h"

#define SECTION_MAGIC 0x6b6d6d53u   /* "kmmS" */

struct kmm_zone kmm_zone = { .lock = KMM_LOCK_INIT_RANK(KMM_RANK_ZONE) };

static const char *const migratetype_names[KMM_MIGRATE_TYPES] = { "Unmovable", "Movable" };
static const char *const owner_names[KMM_OWNER_NR] = { "free", "reserved", "slab", "vmalloc", "pages", "uslab" };

/* ---- sections and frames -------------------------------------------------- */

static size_t mem_map_offset(void)
{
	return KMM_MEM_MAP_OFFSET;
}

uintptr_t kmm_section_tab[KMM_SECTION_TAB];

static struct kmm_mem_section *section_at(uintptr_t addr)
{
	struct kmm_mem_section *s = kmm_section_fast(addr);
	if (KMM_LIKELY(s != NULL))
		return s;
	/* not in the table: no section, or one whose slot was taken */
	uintptr_t base = addr & ~((uintptr_t)KMM_SECTION_SIZE - 1);
	for (s = __atomic_load_n(&kmm_zone.sections, __ATOMIC_ACQUIRE); s != NULL; s = s->next)
		if ((uintptr_t)s->base == base)
			return s;
	return NULL;
}

/* A new section into the table (its slot if free), before it is published. */
static void section_tab_add(struct kmm_mem_section *s)
{
	uintptr_t *slot = &kmm_section_tab[((uintptr_t)s->base >> KMM_SECTION_SHIFT) % KMM_SECTION_TAB];
	if (*slot == 0)
		__atomic_store_n(slot, (uintptr_t)s->base | 1, __ATOMIC_RELEASE);
}

/* The section a descriptor belongs to: mem_map lives in its section. */
static inline struct kmm_mem_section *page_section(const struct kmm_page *page)
{
	return (struct kmm_mem_section *)((uintptr_t)page & ~((uintptr_t)KMM_SECTION_SIZE - 1));
}

static inline size_t page_index(const struct kmm_page *page)
{
	return (size_t)(page - page_section(page)->mem_map);
}

KMM_HOT void *kmm_page_address(const struct kmm_page *page)
{
	struct kmm_mem_section *s = page_section(page);
	return s->base + ((size_t)(page - s->mem_map) << KMM_PAGE_SHIFT);
}

KMM_HOT struct kmm_page *kmm_virt_to_page(const void *addr)
{
	struct kmm_mem_section *s = section_at((uintptr_t)addr);
	if (s == NULL)
		return NULL;
	return &s->mem_map[((uintptr_t)addr - (uintptr_t)s->base) >> KMM_PAGE_SHIFT];
}

KMM_HOT struct kmm_page *kmm_virt_to_head_page(const void *addr)
{
	struct kmm_page *p = kmm_virt_to_page(addr);
	if (p != NULL && (p->flags & KMM_PG_TAIL))
		p = p->head;
	return p;
}

bool kmm_page_reserved(const struct kmm_page *page)
{
	return page_index(page) < page_section(page)->reserved_pages;
}

static inline uint8_t *pageblock_type_slot(struct kmm_page *page)
{
	struct kmm_mem_section *s = page_section(page);
	return &s->pb_type[page_index(page) / KMM_PAGEBLOCK_PAGES];
}

static inline unsigned pageblock_type(struct kmm_page *page)
{
	return *pageblock_type_slot(page);
}

/* Reserve a new 64 MiB section from the OS and describe it.  No lock:
 * the section is private until section_online(). */
static struct kmm_mem_section *section_create(void)
{
	size_t sz = KMM_SECTION_SIZE;
	char *raw = kmm_os_map(2 * sz, MAP_NORESERVE);
	if (raw == NULL)
		return NULL;
	char *base = (char *)KMM_ALIGN_UP((uintptr_t)raw, sz);
	if (base > raw)
		kmm_os_unmap(raw, (size_t)(base - raw));
	if (raw + 2 * sz > base + sz)
		kmm_os_unmap(base + sz, (size_t)(raw + 2 * sz - (base + sz)));

	struct kmm_mem_section *s = (struct kmm_mem_section *)base;
	s->magic = SECTION_MAGIC;
	s->base = base;
	s->mem_map = (struct kmm_page *)(base + mem_map_offset());
	s->reserved_pages = KMM_ALIGN_UP(mem_map_offset() + KMM_SECTION_PAGES * sizeof(struct kmm_page),
					 KMM_PAGE_SIZE) >> KMM_PAGE_SHIFT;
	/* header and mem_map: reserved, like memblock's reservations at boot.
	 * Reserved by position (frames below reserved_pages), their
	 * descriptors never written: writing them would make the first 16 KiB
	 * of mem_map resident in every process for nothing.  They read as
	 * zeroes: no flag, so never a buddy to merge with. */
	/* pageblock types: the one holding mem_map is unmovable, the rest
	 * start movable (mem_map is zero, and 1 == movable must be written) */
	for (size_t pb = 0; pb < KMM_SECTION_PAGES; pb += KMM_PAGEBLOCK_PAGES)
		s->pb_type[pb / KMM_PAGEBLOCK_PAGES] =
			pb < s->reserved_pages ? KMM_MIGRATE_UNMOVABLE : KMM_MIGRATE_MOVABLE;
	return s;
}

/* page_shuffle=on (the kernel's page_alloc.shuffle): a block going onto a
 * free list goes to its head or its tail at random, as shuffle_pick_tail()
 * decides in Linux, so that the order in which frames are handed out says
 * little about where the next one lies.  A xorshift64 generator under the
 * zone lock, seeded from getrandom. */
bool kmm_page_shuffle;

static bool shuffle_pick_tail(struct kmm_zone *z)
{
	if (KMM_UNLIKELY(z->shuffle_rng == 0))
		z->shuffle_rng = kmm_os_random() | 1;
	z->shuffle_rng ^= z->shuffle_rng << 13;
	z->shuffle_rng ^= z->shuffle_rng >> 7;
	z->shuffle_rng ^= z->shuffle_rng << 17;
	return z->shuffle_rng & 1;
}

/* A free block: `dirty` says its contents may be non-zero (then an
 * allocation that needs zeroes must clear it), `resident` how many of its
 * pages may be resident (what the watermarks count and madvise releases). */
static KMM_HOT void add_to_free_list(struct kmm_zone *z, struct kmm_page *page, unsigned order, bool dirty,
			     size_t resident)
{
	unsigned mt = pageblock_type(page);
	page->flags = KMM_PG_BUDDY | (dirty ? KMM_PG_DIRTY : 0);
	page->order = (uint8_t)order;
	page->owner = KMM_OWNER_FREE;
	page->migratetype = (uint8_t)mt;
	page->head = NULL;
	page->resident = resident;
	if (KMM_UNLIKELY(kmm_page_shuffle) && shuffle_pick_tail(z))
		kmm_list_add_tail(&page->lru, &z->free_area[order].free_list[mt]);
	else
		kmm_list_add(&page->lru, &z->free_area[order].free_list[mt]);
	z->free_area[order].nr_free++;
	z->dirty_free_pages += resident;
}

static void del_from_free_list(struct kmm_zone *z, struct kmm_page *page, unsigned order)
{
	kmm_list_del(&page->lru);
	z->free_area[order].nr_free--;
	z->dirty_free_pages -= page->resident;
	/* no stale "free block" marks may survive inside allocated memory */
	page->flags &= ~(KMM_PG_BUDDY | KMM_PG_DIRTY);
}

/* Recompute automatic watermarks from the managed size. */
static void set_watermarks(struct kmm_zone *z)
{
	if (z->wmark_fixed)
		return;
	/* min: 1 MiB of reserve per section; high: what vmalloc's cache
	 * budget leaves for free resident frames, at least 8 MiB; low: three
	 * quarters of high */
	z->wmark_min = 256 * z->nr_sections;
	size_t want = z->cache_target + z->slab_target;
	z->wmark_high = want > 2048 ? want : 2048;
	z->wmark_low = z->wmark_high / 4 * 3;
}

#define MAX_BLOCK ((size_t)1 << (KMM_MAX_ORDER - 1))

/* The order of the block that onlining frame i of a section makes: the
 * largest aligned block that starts there and fits in the section.  From
 * the end of the reserved frames (257) that gives 257 (order 0), 258 (1),
 * 260 (2), ... 384 (7), 512 (9), then max-order blocks from 1024 on. */
static unsigned online_order(size_t i)
{
	unsigned order = KMM_MAX_ORDER - 1;
	while ((i & (((size_t)1 << order) - 1)) != 0 || i + ((size_t)1 << order) > KMM_SECTION_PAGES)
		order--;
	return order;
}

/* Hand a new section to the zone.  Its frames reach the free lists later,
 * one block at a time as the lists run dry (online_deferred), in the
 * order online_order() gives: the first small allocations then write only
 * the struct pages next to each other at the start of mem_map, instead of
 * ones spread over its first 36 KiB. */
static void section_online(struct kmm_zone *z, struct kmm_mem_section *s)
{
	s->deferred = s->reserved_pages;
	s->free_pages = KMM_SECTION_PAGES - s->reserved_pages;
	z->deferred_pages += KMM_SECTION_PAGES - s->deferred;
	s->index = (uint32_t)z->nr_sections;
	z->managed_pages += s->free_pages;
	z->free_pages += s->free_pages;
	z->nr_sections++;
	z->st.sections_added++;
	s->next = z->sections;
	section_tab_add(s);
	__atomic_store_n(&z->sections, s, __ATOMIC_RELEASE);
	set_watermarks(z);
}

/* Put the next deferred block of some section on the free lists.
 * Returns false if there is none.  Zone lock held. */
static KMM_HOT bool online_deferred(struct kmm_zone *z)
{
	kmm_lock_assert_held(&z->lock);
	if (z->deferred_pages == 0)
		return false;
	for (struct kmm_mem_section *s = z->sections; s != NULL; s = s->next) {
		if (s->deferred >= KMM_SECTION_PAGES)
			continue;
		unsigned order = online_order(s->deferred);
		add_to_free_list(z, &s->mem_map[s->deferred], order, false, 0);
		s->deferred += (size_t)1 << order;
		z->deferred_pages -= (size_t)1 << order;
		return true;
	}
	return false;
}

/* The blocks not onlined yet, per migrate type and order: the reports
 * count them as free, as the blocks onlining will make.  Zone lock held. */
static void count_deferred(const struct kmm_zone *z, size_t count[KMM_MIGRATE_TYPES][KMM_MAX_ORDER])
{
	kmm_lock_assert_held(&z->lock);
	for (const struct kmm_mem_section *s = z->sections; s != NULL; s = s->next)
		for (size_t i = s->deferred; i < KMM_SECTION_PAGES;) {
			unsigned order = online_order(i);
			count[s->pb_type[i / KMM_PAGEBLOCK_PAGES]][order]++;
			i += (size_t)1 << order;
		}
}

static void zone_init_once(struct kmm_zone *z)
{
	static bool done;
	if (done)
		return;
	for (unsigned o = 0; o < KMM_MAX_ORDER; o++)
		for (unsigned t = 0; t < KMM_MIGRATE_TYPES; t++)
			kmm_list_init(&z->free_area[o].free_list[t]);
	done = true;
}

/* Put new sections in the region registry (outside the zone lock; the
 * registry ignores a record registered already). */
static void register_sections(void)
{
	for (struct kmm_mem_section *s = __atomic_load_n(&kmm_zone.sections, __ATOMIC_ACQUIRE); s != NULL;
	     s = s->next)
		if (!__atomic_load_n(&s->region.registered, __ATOMIC_ACQUIRE))
			kmm_region_add(&s->region, KMM_REGION_SECTION, (uintptr_t)s->base,
				       (uintptr_t)s->base + KMM_SECTION_SIZE, KMM_PROT_R | KMM_PROT_W,
				       KMM_POPULATE_DEMAND);
}

/* ---- allocation ----------------------------------------------------------- */

/* Split a block of order `high` down to `low`, returning the unused halves
 * to the free lists; they keep the block's dirty state and a share of its
 * resident pages (an estimate: where in the block they are is not known). */
static void expand(struct kmm_zone *z, struct kmm_page *page, unsigned low, unsigned high, bool dirty,
		   size_t resident)
{
	size_t size = (size_t)1 << high;
	while (high > low) {
		high--;
		size >>= 1;
		size_t half = resident / 2;
		add_to_free_list(z, page + size, high, dirty, half);
		resident -= half;
		z->st.splits++;
	}
}

/* The order whose list head (the most recently freed block of that order)
 * holds the most resident pages for a piece of `order`, from `order` up to
 * the largest; -1 if none holds any.  For KMM_GFP_HOT.  Resident memory
 * comes first whatever the order: a clean frame costs the process a page
 * fault and grows its RSS, a resident one was paid for already.  (Looking
 * only two orders up, to keep big resident blocks whole for big areas, let
 * freed slabs merge out of reach: glibc-simple's peak RSS was 8.1 MiB
 * instead of 7.0, sh6bench's 27.7 instead of 25.4; the big-block
 * workloads did not change either way.) */
static int hottest_order(struct kmm_zone *z, unsigned order, unsigned mt)
{
	int best = -1;
	size_t best_res = 0;
	for (unsigned o = order; o < KMM_MAX_ORDER; o++) {
		struct kmm_list *l = &z->free_area[o].free_list[mt];
		if (kmm_list_empty(l))
			continue;
		struct kmm_page *page = kmm_list_entry(l->next, struct kmm_page, lru);
		/* what the piece split off for this request may get: the
		 * block's estimate, spread evenly over its halves */
		size_t res = page->resident >> (o - order);
		if (res > best_res) {
			best_res = res;
			best = (int)o;
		}
	}
	return best;
}

static KMM_HOT struct kmm_page *rmqueue_smallest(struct kmm_zone *z, unsigned order, unsigned mt, bool hot)
{
	int first = hot ? hottest_order(z, order, mt) : -1;
	for (unsigned o = first >= 0 ? (unsigned)first : order; o < KMM_MAX_ORDER; o++) {
		struct kmm_list *l = &z->free_area[o].free_list[mt];
		if (kmm_list_empty(l))
			continue;
		struct kmm_page *page = kmm_list_entry(l->next, struct kmm_page, lru);
		bool dirty = (page->flags & KMM_PG_DIRTY) != 0;
		size_t resident = page->resident;
		del_from_free_list(z, page, o);
		expand(z, page, order, o, dirty, resident);
		if (dirty)
			page->flags |= KMM_PG_DIRTY;   /* tells prep_new_page */
		return page;
	}
	return NULL;
}

/* Steal from the other migrate type, largest block first (the kernel's
 * fallback); a stolen block of a pageblock or more changes the type of the
 * pageblocks it covers. */
static KMM_HOT struct kmm_page *rmqueue_fallback(struct kmm_zone *z, unsigned order, unsigned mt)
{
	for (unsigned other = 0; other < KMM_MIGRATE_TYPES; other++) {
		if (other == mt)
			continue;
		for (int o = KMM_MAX_ORDER - 1; o >= (int)order; o--) {
			struct kmm_list *l = &z->free_area[o].free_list[other];
			if (kmm_list_empty(l))
				continue;
			struct kmm_page *page = kmm_list_entry(l->next, struct kmm_page, lru);
			bool dirty = (page->flags & KMM_PG_DIRTY) != 0;
			size_t resident = page->resident;
			del_from_free_list(z, page, (unsigned)o);
			z->st.steals++;
			if (o >= KMM_PAGEBLOCK_ORDER) {
				for (size_t i = 0; i < ((size_t)1 << o); i += KMM_PAGEBLOCK_PAGES)
					*pageblock_type_slot(&page[i]) = (uint8_t)mt;
				z->st.claims++;
			}
			/* the split-off halves go to the lists of their own
			 * (possibly just claimed) pageblocks */
			expand(z, page, order, (unsigned)o, dirty, resident);
			if (dirty)
				page->flags |= KMM_PG_DIRTY;
			return page;
		}
	}
	return NULL;
}

static void prep_new_page(struct kmm_page *page, unsigned order, unsigned gfp, enum kmm_page_owner owner,
			  bool dirty)
{
	page->flags = KMM_PG_HEAD | (dirty ? KMM_PG_DIRTY : 0);
	page->order = (uint8_t)order;
	page->owner = (uint8_t)owner;
	page->head = NULL;
	if (gfp & KMM_GFP_COMP) {
		for (size_t i = 1; i < ((size_t)1 << order); i++) {
			page[i].flags = KMM_PG_TAIL;
			page[i].head = page;
			page[i].owner = (uint8_t)owner;
		}
	}
}

KMM_HOT struct kmm_page *kmm_alloc_pages(unsigned order, unsigned gfp, enum kmm_page_owner owner)
{
	struct kmm_zone *z = &kmm_zone;
	unsigned mt = (gfp & KMM_GFP_USER) ? KMM_MIGRATE_MOVABLE : KMM_MIGRATE_UNMOVABLE;
	bool added = false;
	struct kmm_page *page = NULL;
	size_t need = (size_t)1 << order;

	if (order >= KMM_MAX_ORDER) {
		errno = ENOMEM;
		return NULL;
	}
	bool zl = kmm_lock_fork_aware(&z->lock);
	zone_init_once(z);
	for (;;) {
		bool below_min = (gfp & KMM_GFP_USER) && z->free_pages < need + z->wmark_min;
		if (!below_min) {
			page = rmqueue_smallest(z, order, mt, (gfp & KMM_GFP_HOT) != 0);
			if (page == NULL && online_deferred(z))
				continue;
			if (page == NULL)
				page = rmqueue_fallback(z, order, mt);
			if (page != NULL)
				break;
		}
		/* grow the zone by a section (memory hotplug) */
		kmm_unlock_if(&z->lock, zl);
		struct kmm_mem_section *s = section_create();
		zl = kmm_lock_fork_aware(&z->lock);
		if (s == NULL) {
			/* the OS said no: user allocations may still use the
			 * reserve rather than fail */
			while (online_deferred(z))
				;
			page = rmqueue_smallest(z, order, mt, (gfp & KMM_GFP_HOT) != 0);
			if (page == NULL)
				page = rmqueue_fallback(z, order, mt);
			if (page != NULL)
				break;
			z->st.failures++;
			kmm_unlock_if(&z->lock, zl);
			errno = ENOMEM;
			return NULL;
		}
		section_online(z, s);
		added = true;
	}
	prep_new_page(page, order, gfp, owner, (page->flags & KMM_PG_DIRTY) != 0);
	z->free_pages -= need;
	page_section(page)->free_pages -= need;
	z->st.allocs[order]++;
	kmm_unlock_if(&z->lock, zl);

	if (KMM_UNLIKELY(added))
		register_sections();
	return page;
}

/* ---- freeing -------------------------------------------------------------- */

/* Merge a free block with its free buddies and put the result on a list. */
static KMM_HOT void free_one_block(struct kmm_zone *z, struct kmm_page *page, unsigned order, bool dirty,
			   size_t resident)
{
	struct kmm_mem_section *s = page_section(page);
	size_t idx = page_index(page);

	while (order < KMM_MAX_ORDER - 1) {
		size_t bidx = idx ^ ((size_t)1 << order);
		if (bidx + ((size_t)1 << order) > KMM_SECTION_PAGES)
			break;
		struct kmm_page *buddy = &s->mem_map[bidx];
		if (!(buddy->flags & KMM_PG_BUDDY) || buddy->order != order)
			break;
		if (buddy->flags & KMM_PG_DIRTY)
			dirty = true;
		resident += buddy->resident;
		del_from_free_list(z, buddy, order);
		idx &= ~((size_t)1 << order);
		order++;
		z->st.merges++;
	}
	add_to_free_list(z, &s->mem_map[idx], order, dirty, resident);
}

/* madvise(DONTNEED) dirty free blocks, largest first and, within an
 * order, coldest first (free lists are LIFO: the head was freed last and is
 * what the next allocation takes), until the dirty free pages are down to
 * `target`.  Zone lock held. */
static size_t release_dirty(struct kmm_zone *z, size_t target, unsigned min_order)
{
	kmm_lock_assert_held(&z->lock);
	size_t released = 0;
	/* target 0 (release everything): every block that may hold resident
	 * pages, whatever its estimate says — a split gives each half half the
	 * estimate, not knowing which half holds the pages */
	bool all = target == 0;
	for (int o = KMM_MAX_ORDER - 1; o >= (int)min_order && (all || z->dirty_free_pages > target); o--) {
		for (unsigned t = 0; t < KMM_MIGRATE_TYPES; t++) {
			struct kmm_list *h = &z->free_area[o].free_list[t];
			for (struct kmm_list *l = h->prev; l != h && (all || z->dirty_free_pages > target); l = l->prev) {
				struct kmm_page *p = kmm_list_entry(l, struct kmm_page, lru);
				if (all ? !(p->flags & KMM_PG_DIRTY) : p->resident == 0)
					continue;
				size_t n = (size_t)1 << o;
				if (kmm_os_advise(kmm_page_address(p), n << KMM_PAGE_SHIFT, MADV_DONTNEED) != 0)
					continue;
				/* zero-filled and not resident any more */
				p->flags &= ~KMM_PG_DIRTY;
				z->dirty_free_pages -= p->resident;
				released += p->resident;
				z->st.released_pages += p->resident;
				z->st.released_blocks++;
				p->resident = 0;
			}
		}
	}
	return released;
}

static inline void after_free(struct kmm_zone *z)
{
	if (z->dirty_free_pages > z->wmark_high)
		release_dirty(z, z->wmark_low, KMM_RELEASE_MIN_ORDER);
}

static void clear_block(struct kmm_page *page, unsigned order)
{
	page->flags = 0;
	page->owner = KMM_OWNER_FREE;
	if (order > 0 && (page[1].flags & KMM_PG_TAIL))
		for (size_t i = 1; i < ((size_t)1 << order); i++) {
			page[i].flags = 0;
			page[i].head = NULL;
			page[i].owner = KMM_OWNER_FREE;
		}
}

KMM_HOT void kmm_free_pages(struct kmm_page *page, unsigned order)
{
	kmm_free_pages_resident(page, order, (size_t)1 << order);
}

KMM_HOT void kmm_free_pages_resident(struct kmm_page *page, unsigned order, size_t resident)
{
	struct kmm_zone *z = &kmm_zone;
	if (KMM_UNLIKELY(!(page->flags & KMM_PG_HEAD) || page->order != order))
		kmm_fatal("free_pages(): page %p is not an allocated block of order %u (flags %#x order %u)",
			  (void *)page, order, page->flags, page->order);
	bool zl = kmm_lock_fork_aware(&z->lock);
	clear_block(page, order);
	page_section(page)->free_pages += (size_t)1 << order;
	z->free_pages += (size_t)1 << order;
	z->st.frees++;
	if (resident > (size_t)1 << order)
		resident = (size_t)1 << order;
	free_one_block(z, page, order, true, resident);
	after_free(z);
	kmm_unlock_if(&z->lock, zl);
}

KMM_HOT void kmm_split_page(struct kmm_page *page, unsigned order, enum kmm_page_owner owner)
{
	/* under the zone lock: the checker walks mem_map holding it, and must
	 * not see a block half split */
	struct kmm_zone *z = &kmm_zone;
	bool zl = kmm_lock_fork_aware(&z->lock);
	uint32_t dirty = page->flags & KMM_PG_DIRTY;
	for (size_t i = 0; i < ((size_t)1 << order); i++) {
		page[i].flags = KMM_PG_HEAD | dirty;
		page[i].order = 0;
		page[i].owner = (uint8_t)owner;
		page[i].head = NULL;
	}
	kmm_unlock_if(&z->lock, zl);
}

KMM_HOT void kmm_free_page_range(struct kmm_page *first, size_t n, const unsigned char *resident)
{
	struct kmm_zone *z = &kmm_zone;
	struct kmm_mem_section *s = page_section(first);
	size_t idx = page_index(first), end = idx + n;

	if (KMM_UNLIKELY(end > KMM_SECTION_PAGES))
		kmm_fatal("free_page_range(): %zu pages from index %zu leave the section", n, idx);
	bool zl = kmm_lock_fork_aware(&z->lock);
	for (size_t i = idx; i < end; i++) {
		struct kmm_page *p = &s->mem_map[i];
		if (KMM_UNLIKELY(!(p->flags & KMM_PG_HEAD) || p->order != 0 || p->owner == KMM_OWNER_FREE))
			kmm_fatal("free_page_range(): frame %zu is not an order-0 allocation", i);
		p->flags = 0;
		p->owner = KMM_OWNER_FREE;
	}
	/* free as maximal aligned blocks */
	size_t first_idx = idx;
	while (idx < end) {
		unsigned order = KMM_MAX_ORDER - 1;
		while ((idx & (((size_t)1 << order) - 1)) != 0 || idx + ((size_t)1 << order) > end)
			order--;
		size_t bn = (size_t)1 << order, res = bn;
		if (resident != NULL) {
			res = 0;
			for (size_t i = 0; i < bn; i++)
				res += resident[idx - first_idx + i] & 1;
		}
		free_one_block(z, &s->mem_map[idx], order, true, res);
		idx += bn;
	}
	s->free_pages += n;
	z->free_pages += n;
	z->st.frees++;
	after_free(z);
	kmm_unlock_if(&z->lock, zl);
}

KMM_HOT void kmm_buddy_set_cache_target(size_t pages)
{
	struct kmm_zone *z = &kmm_zone;
	bool zl = kmm_lock_fork_aware(&z->lock);
	z->cache_target = pages;
	set_watermarks(z);
	after_free(z);   /* a lower mark applies at once */
	kmm_unlock_if(&z->lock, zl);
}

KMM_HOT void kmm_buddy_set_slab_target(size_t pages)
{
	struct kmm_zone *z = &kmm_zone;
	bool zl = kmm_lock_fork_aware(&z->lock);
	z->slab_target = pages;
	set_watermarks(z);
	after_free(z);
	kmm_unlock_if(&z->lock, zl);
}

size_t kmm_buddy_release_all(unsigned min_order)
{
	struct kmm_zone *z = &kmm_zone;
	kmm_lock(&z->lock);
	zone_init_once(z);
	size_t n = release_dirty(z, 0, min_order);
	kmm_unlock(&z->lock);
	return n;
}

void kmm_buddy_set_watermarks(size_t min_pages, size_t low_pages, size_t high_pages)
{
	struct kmm_zone *z = &kmm_zone;
	kmm_lock(&z->lock);
	if (high_pages == 0) {
		z->wmark_fixed = false;
		set_watermarks(z);
	} else {
		z->wmark_fixed = true;
		z->wmark_high = high_pages;
		z->wmark_low = low_pages != 0 && low_pages <= high_pages ? low_pages : high_pages / 2;
		if (min_pages != 0)
			z->wmark_min = min_pages;
	}
	kmm_unlock(&z->lock);
}

/* ---- reports -------------------------------------------------------------- */

KMM_COLD void kmm_buddy_free_blocks(size_t nr[KMM_MAX_ORDER])
{
	struct kmm_zone *z = &kmm_zone;
	kmm_lock(&z->lock);
	size_t deferred[KMM_MIGRATE_TYPES][KMM_MAX_ORDER] = { { 0 } };
	count_deferred(z, deferred);
	for (unsigned o = 0; o < KMM_MAX_ORDER; o++) {
		nr[o] = z->free_area[o].nr_free;
		for (unsigned t = 0; t < KMM_MIGRATE_TYPES; t++)
			nr[o] += deferred[t][o];
	}
	kmm_unlock(&z->lock);
}

KMM_COLD void kmm_buddy_report_buddyinfo(struct kmm_buf *b)
{
	size_t nr[KMM_MAX_ORDER];
	kmm_buddy_free_blocks(nr);
	kmm_buf_puts(b, "Node 0, zone   Normal ");
	for (unsigned o = 0; o < KMM_MAX_ORDER; o++)
		kmm_buf_printf(b, "%7zu", nr[o]);
	kmm_buf_putc(b, '\n');
}

KMM_COLD void kmm_buddy_report_pagetypeinfo(struct kmm_buf *b)
{
	struct kmm_zone *z = &kmm_zone;
	size_t count[KMM_MIGRATE_TYPES][KMM_MAX_ORDER];
	size_t blocks[KMM_MIGRATE_TYPES] = { 0 };

	kmm_lock(&z->lock);
	zone_init_once(z);
	for (unsigned t = 0; t < KMM_MIGRATE_TYPES; t++)
		for (unsigned o = 0; o < KMM_MAX_ORDER; o++) {
			size_t n = 0;
			struct kmm_list *h = &z->free_area[o].free_list[t];
			for (struct kmm_list *l = h->next; l != h; l = l->next)
				n++;
			count[t][o] = n;
		}
	count_deferred(z, count);
	for (struct kmm_mem_section *s = z->sections; s != NULL; s = s->next)
		for (size_t pb = 0; pb < KMM_SECTION_PAGES; pb += KMM_PAGEBLOCK_PAGES)
			blocks[s->pb_type[pb / KMM_PAGEBLOCK_PAGES]]++;
	kmm_unlock(&z->lock);

	kmm_buf_printf(b, "Page block order: %d\nPages per block:  %zu\n\n", KMM_PAGEBLOCK_ORDER,
		       KMM_PAGEBLOCK_PAGES);
	kmm_buf_printf(b, "%-43s", "Free pages count per migrate type at order");
	for (unsigned o = 0; o < KMM_MAX_ORDER; o++)
		kmm_buf_printf(b, "%6u ", o);
	kmm_buf_putc(b, '\n');
	for (unsigned t = 0; t < KMM_MIGRATE_TYPES; t++) {
		kmm_buf_printf(b, "Node    0, zone   Normal, type %12s ", migratetype_names[t]);
		for (unsigned o = 0; o < KMM_MAX_ORDER; o++)
			kmm_buf_printf(b, "%6zu ", count[t][o]);
		kmm_buf_putc(b, '\n');
	}
	kmm_buf_printf(b, "\n%-23s", "Number of blocks type");
	for (unsigned t = 0; t < KMM_MIGRATE_TYPES; t++)
		kmm_buf_printf(b, " %12s", migratetype_names[t]);
	kmm_buf_puts(b, "\nNode 0, zone   Normal ");
	for (unsigned t = 0; t < KMM_MIGRATE_TYPES; t++)
		kmm_buf_printf(b, " %12zu", blocks[t]);
	kmm_buf_putc(b, '\n');
}

KMM_COLD void kmm_buddy_report_zoneinfo(struct kmm_buf *b)
{
	struct kmm_zone *z = &kmm_zone;
	struct kmm_zone snap;
	size_t owners[KMM_OWNER_NR] = { 0 };

	kmm_lock(&z->lock);
	snap = *z;
	for (struct kmm_mem_section *s = z->sections; s != NULL; s = s->next) {
		owners[KMM_OWNER_FREE] += KMM_SECTION_PAGES - s->deferred;
		for (size_t i = 0; i < s->deferred;) {
			struct kmm_page *p = &s->mem_map[i];
			if (p->flags & (KMM_PG_BUDDY | KMM_PG_HEAD)) {
				owners[p->owner] += (size_t)1 << p->order;
				i += (size_t)1 << p->order;
			} else {
				if (i < s->reserved_pages)
					owners[KMM_OWNER_RESERVED]++;
				i++;
			}
		}
	}
	kmm_unlock(&z->lock);

	kmm_buf_printf(b, "Node 0, zone   Normal\n");
	kmm_buf_printf(b, "  sections %zu (%zu MiB each), managed %zu pages, free %zu, resident free %zu\n",
		       snap.nr_sections, KMM_SECTION_SIZE >> 20, snap.managed_pages, snap.free_pages,
		       snap.dirty_free_pages);
	kmm_buf_printf(b, "  watermarks min %zu low %zu high %zu (%s)\n", snap.wmark_min, snap.wmark_low,
		       snap.wmark_high, snap.wmark_fixed ? "set by option" : "automatic");
	kmm_buf_puts(b, "  frames by owner:");
	for (unsigned o = 0; o < KMM_OWNER_NR; o++)
		kmm_buf_printf(b, " %s %zu", owner_names[o], owners[o]);
	kmm_buf_putc(b, '\n');
	uint64_t allocs = 0;
	for (unsigned o = 0; o < KMM_MAX_ORDER; o++)
		allocs += snap.st.allocs[o];
	kmm_buf_printf(b, "  allocations %llu, frees %llu, splits %llu, merges %llu, steals %llu (pageblocks claimed %llu)\n",
		       (unsigned long long)allocs, (unsigned long long)snap.st.frees,
		       (unsigned long long)snap.st.splits, (unsigned long long)snap.st.merges,
		       (unsigned long long)snap.st.steals, (unsigned long long)snap.st.claims);
	kmm_buf_printf(b, "  given back to the OS: %llu blocks, %llu pages (madvise)\n",
		       (unsigned long long)snap.st.released_blocks, (unsigned long long)snap.st.released_pages);
}

/* ---- invariant checker ---------------------------------------------------- */

#define check_fail(verbose, errors, ...) kmm_check_fail(verbose, errors, "buddy", __VA_ARGS__)

KMM_COLD int kmm_buddy_check(int verbose)
{
	struct kmm_zone *z = &kmm_zone;
	int errors = 0;
	size_t free_total = 0, dirty_total = 0, managed = 0, nsec = 0, deferred_total = 0;
	size_t per_order[KMM_MAX_ORDER] = { 0 };

	kmm_lock(&z->lock);
	zone_init_once(z);
	for (struct kmm_mem_section *s = z->sections; s != NULL; s = s->next) {
		size_t sec_free = 0;
		nsec++;
		if (s->magic != SECTION_MAGIC || ((uintptr_t)s->base & (KMM_SECTION_SIZE - 1)) != 0)
			check_fail(verbose, &errors, "section %p: bad header", (void *)s);
		managed += KMM_SECTION_PAGES - s->reserved_pages;
		/* onlining goes block by block from the reserved frames: past
		 * the first max-order boundary the frontier sits on one */
		if (s->deferred < s->reserved_pages || s->deferred > KMM_SECTION_PAGES ||
		    (s->deferred > KMM_ALIGN_UP(s->reserved_pages, MAX_BLOCK) && (s->deferred & (MAX_BLOCK - 1)) != 0))
			check_fail(verbose, &errors, "section %u: deferred frontier %zu misplaced", s->index,
				   s->deferred);
		/* deferred frames: free, described by nothing yet */
		sec_free += KMM_SECTION_PAGES - s->deferred;
		deferred_total += KMM_SECTION_PAGES - s->deferred;
		for (size_t i = 0; i < s->deferred;) {
			struct kmm_page *p = &s->mem_map[i];
			if (i < s->reserved_pages) {
				if (p->flags != 0)
					check_fail(verbose, &errors, "reserved frame %zu of section %u has flags %#x",
						   i, s->index, p->flags);
				i++;
				continue;
			}
			if (p->flags & KMM_PG_BUDDY) {
				size_t n = (size_t)1 << p->order;
				if (p->order >= KMM_MAX_ORDER || (i & (n - 1)) != 0 || i + n > KMM_SECTION_PAGES) {
					check_fail(verbose, &errors, "free block at %zu has impossible order %u", i, p->order);
					break;
				}
				/* buddy pairs are never both free at the same order */
				size_t bi = i ^ n;
				if (p->order < KMM_MAX_ORDER - 1 && bi + n <= KMM_SECTION_PAGES &&
				    (s->mem_map[bi].flags & KMM_PG_BUDDY) && s->mem_map[bi].order == p->order)
					check_fail(verbose, &errors, "free block %zu and its buddy %zu (order %u) both free",
						   i, bi, p->order);
				for (size_t j = 1; j < n; j++)
					if (p[j].flags & (KMM_PG_BUDDY | KMM_PG_HEAD)) {
						check_fail(verbose, &errors, "frame %zu inside free block %zu is marked %#x",
							   i + j, i, p[j].flags);
						break;
					}
				per_order[p->order]++;
				sec_free += n;
				if (p->resident > n || (p->resident > 0 && !(p->flags & KMM_PG_DIRTY)))
					check_fail(verbose, &errors, "free block %zu: %zu resident of %zu pages, flags %#x",
						   i, (size_t)p->resident, n, p->flags);
				dirty_total += p->resident;
				i += n;
			} else if (p->flags & KMM_PG_HEAD) {
				size_t n = (size_t)1 << p->order;
				if (p->order >= KMM_MAX_ORDER || i + n > KMM_SECTION_PAGES || p->owner == KMM_OWNER_FREE) {
					check_fail(verbose, &errors, "allocated block at %zu: order %u owner %u", i,
						   p->order, p->owner);
					break;
				}
				for (size_t j = 1; j < n; j++)
					if (p[j].flags & (KMM_PG_BUDDY | KMM_PG_HEAD)) {
						check_fail(verbose, &errors, "frame %zu inside allocated block %zu is marked %#x",
							   i + j, i, p[j].flags);
						break;
					}
				i += n;
			} else {
				check_fail(verbose, &errors, "frame %zu of section %u is neither free nor allocated (%#x)",
					   i, s->index, p->flags);
				i++;
			}
		}
		if (sec_free != s->free_pages)
			check_fail(verbose, &errors, "section %u: %zu free frames found, counter says %zu", s->index,
				   sec_free, s->free_pages);
		free_total += sec_free;
	}
	for (unsigned o = 0; o < KMM_MAX_ORDER; o++) {
		size_t listed = 0;
		for (unsigned t = 0; t < KMM_MIGRATE_TYPES; t++) {
			struct kmm_list *h = &z->free_area[o].free_list[t];
			for (struct kmm_list *l = h->next; l != h; l = l->next) {
				struct kmm_page *p = kmm_list_entry(l, struct kmm_page, lru);
				if (l->next->prev != l || l->prev->next != l) {
					check_fail(verbose, &errors, "free list %u/%u broken", o, t);
					break;
				}
				if (!(p->flags & KMM_PG_BUDDY) || p->order != o || p->migratetype != t)
					check_fail(verbose, &errors, "free list %u/%u holds a page of order %u type %u flags %#x",
						   o, t, p->order, p->migratetype, p->flags);
				if (++listed > z->managed_pages)
					break;
			}
		}
		if (listed != per_order[o] || listed != z->free_area[o].nr_free)
			check_fail(verbose, &errors, "order %u: %zu listed, %zu found, nr_free %zu", o, listed,
				   per_order[o], z->free_area[o].nr_free);
	}
	if (free_total != z->free_pages)
		check_fail(verbose, &errors, "free pages: %zu found, counter %zu", free_total, z->free_pages);
	if (dirty_total != z->dirty_free_pages)
		check_fail(verbose, &errors, "resident free pages: %zu found, counter %zu", dirty_total,
			   z->dirty_free_pages);
	if (deferred_total != z->deferred_pages)
		check_fail(verbose, &errors, "deferred pages: %zu found, counter %zu", deferred_total,
			   z->deferred_pages);
	if (managed != z->managed_pages || nsec != z->nr_sections)
		check_fail(verbose, &errors, "managed %zu/%zu, sections %zu/%zu", managed, z->managed_pages, nsec,
			   z->nr_sections);
	kmm_unlock(&z->lock);
	return errors;
}

void kmm_buddy_fork_prepare(void)
{
	kmm_fork_lock(&kmm_zone.lock);
}

void kmm_buddy_fork_parent(void)
{
	kmm_unlock(&kmm_zone.lock);
}

void kmm_buddy_fork_child(void)
{
	kmm_lock_reset(&kmm_zone.lock);
}

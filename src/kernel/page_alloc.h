/*
 * page_alloc.h — the buddy page allocator: page frames, struct page, the
 * zone with its free_area[] lists and watermarks.
 *
 * kmm's "physical memory" is a set of memory sections: 64 MiB ranges of
 * anonymous memory reserved from the OS (MAP_NORESERVE, aligned to their
 * size), added as the zone needs them — the memory hotplug of a sparse
 * memory model.  Each section starts with its own mem_map: one 64-byte
 * struct kmm_page per 4 KiB frame, in frames that are reserved, like the
 * vmemmap of SPARSEMEM.  Reserved by position: the descriptors of those
 * 257 frames are never written, so they cost no memory.
 *
 *   section (64 MiB, aligned)
 *   +--------+-------------------------+---------------------------------+
 *   | header | mem_map: 16384 x 64 B   | 16127 frames for the buddy lists |
 *   +--------+-------------------------+---------------------------------+
 *   |<------ 257 reserved frames ----->|
 *
 * A frame's pfn is its virtual address >> 12; sections are aligned to 64
 * MiB, so the buddy of a block of order k at pfn p is the block at
 * p ^ (1 << k), exactly as in the kernel.  Orders 0..10: 4 KiB .. 4 MiB.
 *
 * Free blocks sit on free_area[order].free_list[migratetype]; pageblocks of
 * 2 MiB (order 9) carry a migrate type: Unmovable for kmm's own metadata
 * (slab pages), Movable for user memory (the frames behind vmalloc areas).
 * An allocation takes from its own type's lists first and steals from the
 * other type when it must, claiming whole pageblocks when the stolen block
 * is that big — the kernel's anti-fragmentation scheme.
 *
 * Watermarks (in pages):
 *   min   user (movable) allocations add a section rather than take the
 *         zone's free pages below min: the rest is a reserve for kmm's own
 *         metadata.
 *   high  free blocks may hold resident pages; when the resident free
 *   low   pages exceed high, the allocator gives memory back to the OS —
 *         madvise(MADV_DONTNEED) of free high-order blocks, largest first —
 *         until they are down to low.  So a program's RSS falls after it
 *         frees big blocks, while a bounded amount of freed memory stays
 *         resident to be reused without page faults.  Automatic high: what
 *         vmalloc's cache budget leaves after its lazy pool
 *         (kmm_buddy_set_cache_target), at least 8 MiB; low: three quarters
 *         of high.
 *
 * Locking: one zone lock, innermost of the kernel side (vmalloc lock >
 * slab cache locks > zone lock > region lock).  Sections are never removed,
 * so section lookups need no lock.
 */
#ifndef KMM_KERNEL_PAGE_ALLOC_H
#define KMM_KERNEL_PAGE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "region.h"
#include "../util/lock.h"

struct kmm_buf;
struct kmm_kmem_cache;
struct kmm_uslab_owner;

#define KMM_PAGE_SHIFT      12
#define KMM_PAGE_SIZE       ((size_t)1 << KMM_PAGE_SHIFT)
#define KMM_MAX_ORDER       11                      /* orders 0 .. 10 */
#define KMM_SECTION_SHIFT   26                      /* 64 MiB */
#define KMM_SECTION_SIZE    ((size_t)1 << KMM_SECTION_SHIFT)
#define KMM_SECTION_PAGES   (KMM_SECTION_SIZE >> KMM_PAGE_SHIFT)
#define KMM_PAGEBLOCK_ORDER 9                       /* 2 MiB */
#define KMM_PAGEBLOCK_PAGES ((size_t)1 << KMM_PAGEBLOCK_ORDER)
/* free blocks below this order are never handed back to the OS */
#define KMM_RELEASE_MIN_ORDER 4                     /* 64 KiB */

enum kmm_migratetype {
	KMM_MIGRATE_UNMOVABLE,
	KMM_MIGRATE_MOVABLE,
	KMM_MIGRATE_TYPES
};

/* who owns a frame */
enum kmm_page_owner {
	KMM_OWNER_FREE,
	KMM_OWNER_RESERVED,   /* section header and mem_map */
	KMM_OWNER_SLAB,
	KMM_OWNER_VMALLOC,
	KMM_OWNER_PAGES,      /* kmm_alloc_pages callers (large kmalloc, tests) */
	KMM_OWNER_USLAB,      /* a slab of the front end for small requests (uslab.h) */
	KMM_OWNER_NR
};

/* struct kmm_page flags */
#define KMM_PG_BUDDY    0x01u  /* head of a free block on a free list */
#define KMM_PG_HEAD     0x02u  /* head of an allocated block */
#define KMM_PG_TAIL     0x04u  /* tail page of an allocated compound block */
#define KMM_PG_DIRTY    0x10u  /* may hold data: a free block that may still be
				  resident, or an allocated frame that was
				  not zero-filled when handed out */
#define KMM_PG_SLAB     0x20u  /* head of a slab */
#define KMM_PG_USLAB    0x40u  /* head of a user slab: the front end (uslab.h) */

/* The descriptor of one page frame (64 bytes). */
struct kmm_page {
	uint32_t flags;
	uint8_t  order;        /* head of a block: its order */
	uint8_t  owner;        /* enum kmm_page_owner */
	uint8_t  unused;
	uint8_t  migratetype;  /* free block: the free list it is on */
	struct kmm_list lru;   /* free block: its free list; slab: its partial list */
	union {
		struct {                               /* slab head page */
			struct kmm_kmem_cache *slab_cache;
			void    *freelist;             /* objects free in this slab */
			uint16_t inuse;                /* objects handed out */
			uint16_t objects;              /* objects in the slab */
			uint8_t  frozen;               /* a thread's active slab */
		};
		uintptr_t mapped_at;                   /* vmalloc: address it is mapped at */
		struct {                               /* user slab head page (uslab.h) */
			void    *us_lfree;             /* owner's free objects (protected list) */
			struct kmm_uslab_owner *us_owner;
			uint16_t us_bump;              /* objects carved from the slab so far */
			uint16_t us_nfree;             /* owner's free objects: on us_lfree, or
							* in pages given back (us_released) */
			uint16_t us_limit;             /* owner's fast free: slow path at this us_nfree */
			uint8_t  us_class;             /* size class */
			uint8_t  us_where;             /* owner's: active, partial, full */
		};
		struct {                               /* user slab, its SECOND page's descriptor
							* (head + 1; slow paths only) */
			uint16_t us_released;          /* its pages given back to the OS (bit i: page i) */
			uint8_t  us_clean;             /* its frames were zero when it was made */
		};
	};
	union {
		struct kmm_page *head;  /* tail page: its head */
		struct kmm_page *us_next;   /* user slab: next on its owner's returned stack */
	};
	union {
		uintptr_t resident;     /* free block: pages of it that may be resident */
		uintptr_t us_rfree;     /* user slab: other threads' frees | state (atomic) */
	};
};

_Static_assert(sizeof(struct kmm_page) == 64, "a page descriptor is one cache line");

/* page_shuffle=on: free blocks go to the head or the tail of their free
 * list at random (page_alloc.c). */
extern bool kmm_page_shuffle;

/* Allocation flags. */
#define KMM_GFP_KERNEL  0x0u   /* kmm's own metadata: unmovable, may use the reserve */
#define KMM_GFP_USER    0x1u   /* user memory: movable, keeps the min reserve */
#define KMM_GFP_COMP    0x2u   /* a compound block: tail pages point at the head */
#define KMM_GFP_HOT     0x4u   /* prefer a block with resident pages, even a bigger one
				* to split (user memory that will be touched: a
				* resident frame saves a page fault) */

struct kmm_free_area {
	struct kmm_list free_list[KMM_MIGRATE_TYPES];
	size_t nr_free;        /* blocks of this order, all types */
};

struct kmm_mem_section {
	uint32_t magic;
	uint32_t index;
	char    *base;
	struct kmm_page *mem_map;
	struct kmm_mem_section *next;
	size_t   reserved_pages;
	size_t   free_pages;
	/* Deferred onlining (the kernel's deferred struct page init): frames
	 * from here to the end are free, but their struct pages are not
	 * written and they are on no free list yet; the next block (the
	 * largest aligned one that starts here) is onlined when the free
	 * lists run dry.  Until then those pages of mem_map are never
	 * touched, so a section costs a few pages of RSS, not one per
	 * pageblock. */
	size_t   deferred;
	struct kmm_region region;   /* the section in the region registry */
	/* migrate type of each pageblock, kept here rather than in the
	 * pageblocks' first struct page (as Linux keeps pageblock_flags in
	 * the section's usemap): setting them up then touches one line
	 * instead of one page of mem_map per pageblock */
	uint8_t  pb_type[KMM_SECTION_PAGES / KMM_PAGEBLOCK_PAGES];
};

struct kmm_zone_stats {
	uint64_t allocs[KMM_MAX_ORDER];    /* blocks allocated, by order */
	uint64_t frees;
	uint64_t splits, merges;
	uint64_t steals, claims;           /* fallbacks to the other migrate type */
	uint64_t sections_added;
	uint64_t released_blocks, released_pages;   /* given back with madvise */
	uint64_t failures;
};

struct kmm_zone {
	kmm_lock_t lock;
	struct kmm_free_area free_area[KMM_MAX_ORDER];
	size_t managed_pages;     /* frames the buddy manages (sections minus reserved) */
	size_t free_pages;
	size_t dirty_free_pages;  /* free pages still resident (estimate, see below) */
	size_t deferred_pages;    /* free pages not onlined yet (kmm_mem_section.deferred) */
	uint64_t shuffle_rng;     /* page_shuffle's generator (zone lock) */
	size_t wmark_min, wmark_low, wmark_high;
	bool   wmark_fixed;       /* set by an option: not recomputed on growth */
	size_t cache_target;      /* automatic high watermark wanted by vmalloc (pages) */
	size_t slab_target;       /* ... and by the slab front end, added (pages) */
	struct kmm_mem_section *sections;   /* newest first */
	size_t nr_sections;
	struct kmm_zone_stats st;
};

extern struct kmm_zone kmm_zone;

/* Where mem_map starts in a section (the header before it). */
#define KMM_MEM_MAP_OFFSET KMM_ALIGN_UP(sizeof(struct kmm_mem_section), (size_t)64)

/* The section table: which 64 MiB ranges are sections, for an O(1) lookup
 * from an address (free() of a user slab object asks it on every call).
 * Direct mapped: slot (addr >> KMM_SECTION_SHIFT) % KMM_SECTION_TAB holds
 * base | 1 of the section there, 0 if none; a second section that maps to
 * a slot taken already is found by the section list only (page_alloc.c:
 * with fewer than KMM_SECTION_TAB sections within 64 GiB of each other,
 * never).  Slots are written once, before the section is published. */
#define KMM_SECTION_TAB 1024
extern uintptr_t kmm_section_tab[KMM_SECTION_TAB];

/* The section holding addr if the table knows it, else NULL (then the
 * address may still lie in a section: kmm_virt_to_page knows for sure). */
KMM_INLINE struct kmm_mem_section *kmm_section_fast(uintptr_t addr)
{
	uintptr_t base = addr & ~((uintptr_t)KMM_SECTION_SIZE - 1);
	if (__atomic_load_n(&kmm_section_tab[(addr >> KMM_SECTION_SHIFT) % KMM_SECTION_TAB], __ATOMIC_RELAXED) !=
	    (base | 1))
		return NULL;
	return (struct kmm_mem_section *)base;
}

/* The descriptor of frame `index` of the section at `s`, computed. */
KMM_INLINE struct kmm_page *kmm_section_page(struct kmm_mem_section *s, size_t index)
{
	return (struct kmm_page *)((uintptr_t)s + KMM_MEM_MAP_OFFSET) + index;
}

/* Allocate a block of 2^order frames; NULL with errno = ENOMEM if the OS
 * gives no more memory.  The head page describes the block (flags
 * KMM_PG_HEAD, order, owner; if KMM_PG_DIRTY, `resident` keeps the free
 * block's estimate of its resident pages). */
struct kmm_page *kmm_alloc_pages(unsigned order, unsigned gfp, enum kmm_page_owner owner);
/* Free a block allocated with kmm_alloc_pages (same order). */
void kmm_free_pages(struct kmm_page *page, unsigned order);
/* The same, saying how many of its pages may be resident (the rest were
 * never touched), for the watermarks' count. */
void kmm_free_pages_resident(struct kmm_page *page, unsigned order, size_t resident);
/* Turn an allocated block of 2^order frames into 2^order order-0
 * allocations (as vmalloc does), so any of them can be freed alone. */
void kmm_split_page(struct kmm_page *page, unsigned order, enum kmm_page_owner owner);
/* Free n consecutive order-0 allocations of one section at once.
 * `resident` is a mincore(2) vector telling which of them are resident
 * (NULL: all may be); it feeds the resident-free-pages accounting that the
 * watermarks act on. */
void kmm_free_page_range(struct kmm_page *first, size_t n, const unsigned char *resident);

/* frame <-> address */
void *kmm_page_address(const struct kmm_page *page);
/* The frame of an address inside a section, NULL elsewhere (safe for any
 * address). */
struct kmm_page *kmm_virt_to_page(const void *addr);
/* For an address inside a compound block: its head page. */
struct kmm_page *kmm_virt_to_head_page(const void *addr);
/* Whether a frame is one of its section's reserved ones (the header and
 * mem_map), whose descriptors are never written. */
bool kmm_page_reserved(const struct kmm_page *page);
KMM_INLINE uintptr_t kmm_page_pfn(const struct kmm_page *page)
{
	return (uintptr_t)kmm_page_address(page) >> KMM_PAGE_SHIFT;
}

/* Give back to the OS every resident free block of order >= min_order
 * (malloc_trim).  Returns the pages released. */
size_t kmm_buddy_release_all(unsigned min_order);

/* Watermarks from the options (0 = automatic). */
void kmm_buddy_set_watermarks(size_t min_pages, size_t low_pages, size_t high_pages);
/* With automatic watermarks, keep up to `pages` free pages resident (the
 * high watermark; low is three quarters of it).  vmalloc sets this from its
 * working set, so the frames of big blocks that were freed are still
 * resident when the next big block needs them. */
void kmm_buddy_set_cache_target(size_t pages);
/* The slab front end's share of the automatic high watermark (uslab.c:
 * the frames of slabs it freed lately, kept resident for the next ones),
 * added to vmalloc's. */
void kmm_buddy_set_slab_target(size_t pages);

/* Reports: /proc/buddyinfo, /proc/pagetypeinfo, a zoneinfo-like summary. */
void kmm_buddy_report_buddyinfo(struct kmm_buf *b);
/* Free blocks per order now, as buddyinfo shows them (the live view). */
void kmm_buddy_free_blocks(size_t nr[KMM_MAX_ORDER]);
void kmm_buddy_report_pagetypeinfo(struct kmm_buf *b);
void kmm_buddy_report_zoneinfo(struct kmm_buf *b);

/* Invariant checker: every frame of every section accounted for exactly
 * once (reserved, in one free block, or in one allocated block), no free
 * block whose buddy is a free block of the same order, free lists well
 * linked and of the right order and type, counters equal to what the walk
 * finds.  Returns the number of violations. */
int kmm_buddy_check(int verbose);

void kmm_buddy_fork_prepare(void);
void kmm_buddy_fork_parent(void);
void kmm_buddy_fork_child(void);

#endif /* KMM_KERNEL_PAGE_ALLOC_H */

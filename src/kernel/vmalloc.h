/*
 * vmalloc.h — a vmalloc-style region allocator: virtually contiguous areas
 * in reserved virtual space, for every malloc that glibc would serve with
 * an mmap of its own.
 *
 * The call path follows the seed's kernel one:
 *
 *   kmm_vmalloc(size)
 *     alloc_vmap_area      a vmap_area (from the "vmap_area" kmem_cache) and
 *                          the lowest free range that fits size + a guard
 *                          page (find_vmap_lowest_match in the free tree,
 *                          augmented with subtree_max_size)
 *     setup_vmalloc_vm     a vm_struct (kmalloc) with addr, size (with the
 *                          guard page), caller
 *     __vmalloc_area_node  how the area gets its pages: one of two ways
 *
 * An area is backed in one of two ways, chosen for new areas by the kernel
 * parameter vmalloc_frames (KMM_OPTIONS=vmalloc_frames=on|off; profile=kmm,
 * the default, sets off, profile=glibc on):
 *
 *   frames (on)   pages[] (kmalloc if it fits a page, else vmalloc itself)
 *                 holds frames of the buddy allocator, "mapped" for real:
 *                 their page-table entries move from the frame's place in
 *                 its memory section into the area (mremap with
 *                 MREMAP_DONTUNMAP), so the area is virtually contiguous
 *                 although its frames need not be — what kernel vmalloc is
 *                 about, and what the lab's traces show.
 *   demand (off)  no frames and no pages[] (vm->pages NULL, nr_pages still
 *                 counts the pages): the area's range in the reserved space
 *                 is made read-write in place with one mmap(MAP_FIXED), its
 *                 pages fault in zero-filled on first touch.  Page tables
 *                 are not moved back and forth, which on a machine where
 *                 page-table changes are expensive (a VM) is most of what
 *                 frames cost.
 *
 * Either way the guard page after each area is never mapped (PROT_NONE): an
 * overflow faults.  An area keeps the way it was made; options may change
 * the mode between areas, and each kind is reused only in its own mode.
 *
 * vfree is lazy: the area keeps its pages, and a later request that fits
 * takes it as it is — no system call, no page fault.  Once the lazily freed
 * bytes exceed the lazy limit, the oldest areas are purged: frames go back
 * to their sections and to the buddy allocator, a demand area's range is
 * reserved again (one mmap PROT_NONE drops its pages), and the range goes
 * back to the free tree, merged with free neighbours.
 *
 * The cache budget: freed big blocks stay resident for reuse up to eight
 * times the largest area freed lately (decaying by 1/64 per free), at
 * least 8 and at most 64 MiB.  64 MiB is the most glibc keeps in its heap
 * top (its trim threshold follows twice the largest freed mapped chunk, up
 * to 2 x 32 MiB), and glibc's heap also keeps the free chunks below its
 * top.  A program that churns big blocks thus reuses resident pages
 * instead of faulting in new ones, and one that frees everything keeps at
 * most the budget.
 *
 * Frames mode: the budget covers the lazy pool and the buddy allocator's
 * resident free frames together.  The lazy pool holds a quarter of it
 * (lazy_max), and only areas of up to a quarter of that: their reuse as
 * they are costs no system call at all, which matters for blocks of a few
 * hundred KiB churned quickly.  Bigger areas are purged as soon as they are
 * freed: whole areas are a coarse cache (their untouched pages count
 * against it and a reused area rarely fits the next request's touched
 * part), frames are a fine one (the buddy counts resident pages, and
 * recycled frames are laid out where the next user touches first).
 * Measured on bench/big: keeping 5..25 MiB areas in a lazy pool of a
 * quarter of the budget faulted twice as often.  The pool is purged when it
 * exceeds lazy_max, down to half of it; as it changes (each vfree and
 * purge) the buddy's high watermark becomes what the budget leaves after
 * the pool (at least 8 MiB).  Options can fix both.
 *
 * Demand mode: the lazy pool IS the cache, so it may hold the whole budget
 * and areas of any size (one bigger than the whole budget is purged when
 * freed).  Its limit is also at least the bytes the program has in live
 * big blocks: glibc, once its dynamic threshold has risen, keeps every
 * freed block of up to 32 MiB among its heap's free chunks, however many,
 * and a program that replaces big blocks at random (mimalloc-bench's
 * malloc-large: 20 of 5..25 MiB alive, about 300 MiB) finds one that fits
 * only in a pool of about that size: with 64 MiB it faulted in 960 000
 * pages and took 15.3 s, with the live bytes as limit 3.1 s (glibc 7.3 s,
 * tcmalloc 4.0 s) at a lower peak RSS than glibc's.  The pool thus holds at
 * most as much as is live, and shrinks as the program frees its big
 * blocks.  To make its pages as reusable as a heap's free chunks:
 *   - a freed area merges with the lazily freed areas right before and
 *     after it (the guard page between becomes read-write: one mmap);
 *   - a request takes the smallest lazily freed area that fits; an excess
 *     of more than a quarter of the request (and 64 KiB) is split off as a
 *     lazily freed area of its own (one mmap makes the page at the cut the
 *     guard page), its pages still resident for the next request;
 *   - a request that no lazily freed area fits takes one that can grow in
 *     place, or else the largest (at least a quarter of the request),
 *     moved with its page tables (mremap, its resident pages come along:
 *     no fault; its contents are dead, so it is never copied) to a range
 *     with room;
 *   - vrealloc grows into the free range or the lazily freed area that
 *     follows, else moves into a lazily freed area that fits, else into a
 *     new range; by copying into a lazily freed area (up to 64 MiB) or a
 *     new range (up to 1 MiB: there the copy faults every page in), the old
 *     range, its pages still resident, joining the lazy pool; else by
 *     moving the page tables (mremap).  In a VM with expensive page-table
 *     changes a 1 MiB mremap cost 0.6 ms and the first read of the moved
 *     pages 3 ms more, a copy into resident pages 25 us.
 * The pool is purged, oldest first, down to the limit.  On bench/large
 * (blocks of 16 KiB..4 MiB) merging halved the page faults.
 */
#ifndef KMM_KERNEL_VMALLOC_H
#define KMM_KERNEL_VMALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "page_alloc.h"
#include "rbtree.h"
#include "region.h"

struct kmm_buf;

#define KMM_VM_ALLOC          0x02u   /* as the kernel's VM_ALLOC */
#define KMM_VM_UNINITIALIZED  0x20u   /* being set up (the seed shows 0x22) */
#define KMM_VM_RESIZING       0x40u   /* growing or shrinking: size and pages[] in flux */

struct kmm_vm_struct {
	void *addr;
	size_t size;                 /* with the guard page, as the kernel reports it */
	size_t requested_size;       /* what the last vmalloc/vrealloc asked for */
	unsigned long flags;
	struct kmm_page **pages;
	unsigned int nr_pages;
	unsigned int pages_capacity;  /* entries pages[] has room for */
	const void *caller;
	bool pages_vmalloced;        /* pages[] came from vmalloc, not kmalloc */
	bool used;                   /* was freed and reused: contents unknown */
	bool demand;                 /* a demand-paged area: no frames, pages NULL */
	unsigned int dirty_pages;    /* demand area: its first dirty_pages pages may
	                              * hold old data, the rest are demand-zero */
};

enum kmm_va_state { KMM_VA_FREE, KMM_VA_BUSY, KMM_VA_LAZY, KMM_VA_PURGING };

struct kmm_vmap_area {
	uintptr_t va_start, va_end;  /* [start, end); busy areas include the guard page */
	struct kmm_rb_node rb_node;  /* busy tree, or free tree */
	struct kmm_list list;        /* busy: all areas; lazy: the purge list */
	size_t subtree_max_size;     /* free tree: largest free range below */
	struct kmm_vm_struct *vm;
	uint8_t state;               /* enum kmm_va_state */
	struct kmm_region region;    /* the area in the region registry */
};

struct kmm_vmalloc_params {
	size_t lazy_max;             /* bytes lazily freed before a purge (0: automatic) */
	size_t space_size;           /* virtual space reserved at a time (default 4 GiB) */
	bool   populate;             /* prefault areas (MADV_POPULATE_WRITE) */
	bool   frames;               /* new areas are built from buddy frames
	                              * (mremap); false: demand-paged areas */
	size_t move_copy_max;        /* demand: a realloc that moves an area of up
	                              * to this many bytes into a lazily freed area
	                              * copies it (64 MiB; into a new range: up to
	                              * 1 MiB at most); no option, for tests */
};
extern struct kmm_vmalloc_params kmm_vmalloc_params;
/* vmalloc sets the buddy allocator's cache target unless this is false
 * (watermarks fixed by options) */
extern bool kmm_buddy_auto_target;

/* A virtually contiguous area of at least `size` bytes, page aligned, its
 * pages demand-faulted (or populated); NULL with errno = ENOMEM. */
void  *kmm_vmalloc(size_t size, const void *caller);
/* The same, aligned to `align` (a power of two, at least a page). */
void  *kmm_vmalloc_aligned(size_t size, size_t align, const void *caller);
/* Whether p lies inside one of vmalloc's reserved spaces (no lock; spaces
 * are never given back).  Heap memory never does. */
bool   kmm_vmalloc_in_space(const void *p);
/* The reserved spaces as [start, end) pairs into out[0 .. max); returns how
 * many there are (no lock: spaces are only ever added). */
size_t kmm_vmalloc_spaces(uintptr_t (*out)[2], size_t max);
/* Free an area (lazily); returns its mapped bytes.  Aborts with a
 * diagnostic if addr is not the start of a busy area. */
size_t kmm_vfree(const void *addr);
/* Resize to at least new_size: in place when the following range is free
 * (demand: or a lazily freed area), else moved (page tables move, contents
 * are not copied; demand: into a lazily freed area that fits if there is
 * one).  Shrinking by more than a quarter (and 64 KiB) gives the tail back.
 * Returns the (possibly new) address, or NULL with errno ENOMEM and the
 * area untouched. */
void  *kmm_vrealloc(void *addr, size_t new_size);
/* Mapped bytes of the area starting at addr (no guard page), 0 if addr is
 * not the start of a busy area. */
size_t kmm_vmalloc_size(const void *addr);
/* The same if vmap_lock is free, else 0 without waiting (a rescued fork
 * child, heap/rescue.c). */
size_t kmm_vmalloc_size_try(const void *addr);
/* The size the area was last asked for (vmalloc or vrealloc), 0 if addr
 * is not the start of a busy area. */
size_t kmm_vmalloc_requested(const void *addr);
/* Zero [from, from + len) inside the area starting at `area`, touching
 * only pages that may hold old data (recycled frames, a reused area):
 * frames that come from never-used or madvised memory, and the pages of a
 * new demand-paged area (or the part a reused one grew by) are zero
 * already.  A reused demand area's span is cleared with memset, or from 8
 * MiB on with one MADV_DONTNEED.  This is calloc's "do not clear what the
 * OS cleared" for vmalloc blocks. */
void   kmm_vmalloc_zero(const void *area, void *from, size_t len);
/* Purge lazily freed areas, oldest first: all of them, or down to the
 * lazy limit (frames mode: down to half of it).  Returns the bytes
 * purged. */
size_t kmm_vmalloc_purge(bool all);

struct kmm_vmalloc_stats {
	size_t spaces, space_bytes;          /* reserved virtual spaces */
	size_t busy_areas, busy_bytes;       /* mapped bytes of live areas */
	size_t lazy_areas, lazy_bytes;
	size_t free_ranges, free_bytes;
	uint64_t allocs, frees, reused, grown_in_place, moved, purges, purged_areas;
	uint64_t runs_mapped;                /* mremap calls that mapped frames */
	uint64_t release_failures;           /* runs whose frames could not move home (out of mappings): dropped */
	uint64_t map_failures;               /* areas not built or grown: a frame move failed (out of mappings) */
	uint64_t frames_fresh;               /* frames that came zero-filled */
	uint64_t frames_recycled;            /* frames that came back resident (no fault) */
	uint64_t frames_shrunk;              /* frames given back by shrinking reused areas */
	uint64_t split_areas;                /* demand: excess of a reused area split off, lazy */
	uint64_t merged_areas;               /* demand: freed areas merged with lazy neighbours */
	uint64_t grown_into_lazy;            /* demand: grown over the lazy area that followed */
	uint64_t moved_into_lazy;            /* demand: moved into a lazily freed area */
	uint64_t zero_advised;               /* demand: pages calloc cleared with MADV_DONTNEED */
	size_t   cache_budget;               /* bytes: lazy pool + buddy's resident free frames */
	size_t   lazy_limit;                 /* bytes lazily freed before a purge */
};
void kmm_vmalloc_stats(struct kmm_vmalloc_stats *st);

/* /proc/vmallocinfo: range, size with the guard page, caller, pages=N,
 * resident pages; lazily freed areas marked. */
void kmm_vmalloc_report_vmallocinfo(struct kmm_buf *b);

/* Invariant checker: busy and free trees sorted, non-overlapping and
 * red-black; every free node's subtree_max_size recomputed from scratch;
 * the lowest-match search equals a linear scan for sample sizes; busy, lazy
 * and free ranges tile the reserved spaces exactly; lazy byte count right;
 * every page of a busy or lazy frames area owned by vmalloc and mapped at
 * its place; a demand-paged area has no pages[], its dirty prefix within
 * its pages (all of them once lazily freed).  Returns the number of
 * violations. */
int kmm_vmalloc_check(int verbose);

/* For tests: the lowest free range of at least `size` bytes (tree search,
 * and the same by a linear scan), or 0. */
uintptr_t kmm_vmalloc_lowest_match(size_t size, bool linear);

void kmm_vmalloc_fork_prepare(void);
void kmm_vmalloc_fork_parent(void);
void kmm_vmalloc_fork_child(void);

#endif /* KMM_KERNEL_VMALLOC_H */

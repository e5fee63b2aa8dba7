/*
 * vmalloc.c — the vmalloc-style region allocator (see vmalloc.h).
 *
 * THEORY
 *
 * Virtual space: spaces of space_size bytes (4 GiB by default) reserved
 * PROT_NONE from the OS, another one whenever a request does not fit.  Every
 * byte of a space is in exactly one vmap_area:
 *
 *   free  in the free tree, keyed by start, augmented with subtree_max_size
 *   busy  in the busy tree: a live area, [start, start + size + guard page)
 *   lazy  in the busy tree and on the purge list: freed, pages still mapped
 *
 * find_vmap_lowest_match: from the root, go left while the left subtree has
 * a range big enough (its subtree_max_size says so), else take this node if
 * it is big enough, else go right — the lowest-addressed fitting range in
 * O(log n).  The area is cut from the front of that range.
 *
 * Two ways to back an area (vmalloc.h): frames, or demand paging.
 *
 * Frames (vmalloc_frames=on): the buddy allocator gives blocks as large as
 * possible (order 10 = 4 MiB, smaller for the tail), preferring blocks that
 * still hold resident pages (KMM_GFP_HOT), split into order-0 frames
 * (pages[] holds one descriptor per 4 KiB page, as in the kernel).  Blocks
 * are laid out with the most resident first (programs touch big blocks
 * from the start, often not to the end: recycled resident frames at the
 * front save faults, zero-filled ones at the back may never be touched),
 * then largest first and by address, so adjacent ones form one run, and
 * each run's page-table entries move into the area with one mremap (each
 * run is one VMA of the process).  Frames that come from never-used or
 * madvised blocks are empty (zero); others may hold old data, which
 * kmm_vmalloc_zero() knows, so calloc clears only those pages.
 *
 * Demand (vmalloc_frames=off): the area's range, part of the PROT_NONE
 * reservation, becomes read-write with one mmap(MAP_FIXED) (commit charge
 * taken as for glibc's mmap of a chunk: an impossible size is ENOMEM).  No
 * frame, no pages[]: vm->demand, vm->pages NULL, nr_pages the area's pages.
 * vm->dirty_pages says how many pages from the start may hold old data: 0
 * for a new area (calloc clears nothing), all of them once freed; growth
 * adds demand-zero pages past it (or, when it takes over a lazily freed
 * neighbour, dirty ones: then all).  The system calls, each on a range the
 * caller owns:
 *
 *   new area          mmap RW FIXED over [start, start + size)
 *   reuse as it is    none
 *   split the excess  mmap PROT_NONE FIXED|NORESERVE of the one page at the
 *                     cut: the guard between the reused part and the
 *                     remainder, which stays lazily freed
 *   merge on free     mmap RW FIXED of the guard page between the freed
 *                     area and a lazily freed neighbour (one per side)
 *   grow in place     mmap RW FIXED from the old guard page on (free range
 *                     after it), or of the old guard page alone (a lazily
 *                     freed area after it, taken over)
 *   move by copying   into a lazily freed area that fits (up to 64 MiB):
 *                     none, memcpy into its resident pages; into a new
 *                     range (up to 1 MiB): mmap RW FIXED of it, memcpy.
 *                     The old range, its pages still resident, joins the
 *                     lazy pool (merged, as a free).
 *                     (In a VM with expensive page-table changes a copy
 *                     into resident pages beats moving page tables: after
 *                     an mremap even the first access to each moved page
 *                     is slow.)
 *   move, else        mremap MREMAP_DONTUNMAP of the pages into the new
 *                     range (a lazily freed area, whose first pages are
 *                     replaced, or a new range whose tail is made RW
 *                     first), then mmap PROT_NONE over the old range
 *   shrink            mmap PROT_NONE over [cut, old guard page)
 *   purge             mmap PROT_NONE over the area's pages
 *   calloc (reused)   memset, or MADV_DONTNEED from 8 MiB on
 *
 *     reserved space:  ... | area A (RW) |g| lazy B (RW) |g| free (PROT_NONE) ...
 *     free(A):         ... | lazy A+B (RW, A's guard page now RW)  |g| free ...
 *     malloc(small):   ... | C (RW) |g| lazy rest (RW)             |g| free ...
 *
 * Lazy free and reuse: vfree puts the area on the purge list (in demand
 * mode merged with its lazily freed neighbours).  A later request takes
 * the smallest lazy area of its mode that is big enough (the excess of
 * more than a quarter of the request goes back to the buddy allocator, or
 * in demand mode is split off and stays lazy), so recently freed memory is
 * used again while still resident.  When the lazily freed bytes exceed the
 * limit, the oldest areas are purged as a batch: frames move back to their
 * sections and return to the buddy allocator (which keeps some resident,
 * see its watermarks), demand areas' pages are dropped, the ranges return
 * to the free tree, merged with their free neighbours.
 *
 * LOCKING: vmap_lock protects the trees, the purge list and the counters.
 * System calls (mremap, mmap, madvise) and frame allocation happen without
 * it, on ranges that are busy and therefore owned by the caller: an area
 * being freed, merged, split, grown or moved is marked (state PURGING, or
 * KMM_VM_RESIZING) and taken off the purge list first, a range taken for a
 * move is on the in-flight list.  The region registry is updated under
 * vmap_lock (its lock nests inside) before a range is given to others.  Lock order:
 * util/lock.h (vmap_lock is the outermost kernel-side lock).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "vmalloc.h"
#include "slab.h"
#include "../trace.h"
#include "../os.h"
#include "../util/format.h"

#define VA(n) kmm_rb_entry(n, struct kmm_vmap_area, rb_node)
#define PAGE KMM_PAGE_SIZE

struct kmm_vmalloc_params kmm_vmalloc_params = {
	.lazy_max = 0,
	.space_size = (size_t)4 << 30,
	.populate = false,
	.frames = false,
	/* Moves of demand-paged areas up to this size copy the contents;
	 * bigger ones move the page tables (mremap).  Measured in a VM with
	 * expensive page-table changes: moving 1 MiB with mremap cost 0.6 ms
	 * and the first read of the moved pages 3 ms more, a memcpy into
	 * resident pages 25 us; at 16 MiB 3 + 1.5 ms against 2 + 0.9 ms.  A
	 * copy also leaves the old pages resident, as a lazily freed area for
	 * the next request. */
	.move_copy_max = (size_t)64 << 20,
};

struct vm_space {
	uintptr_t start, end;
	struct vm_space *next;
};

static kmm_lock_t vmap_lock = KMM_LOCK_INIT_RANK(KMM_RANK_VMAP);
static struct kmm_rb_root busy_root = KMM_RB_ROOT;
static struct kmm_rb_root free_root = KMM_RB_ROOT;
static struct kmm_list purge_list = { &purge_list, &purge_list };
static size_t lazy_bytes, lazy_areas, busy_areas, busy_bytes;
static struct vm_space *spaces;
static size_t nr_spaces, space_bytes;
static struct kmm_kmem_cache *vmap_area_cachep;
static struct kmm_vmalloc_stats vst;

/* A range taken from the free tree that is not yet in an area (a realloc
 * moving its area): the checker counts it as covered. */
struct inflight {
	uintptr_t start, end;
	struct kmm_list link;
};
static struct kmm_list inflight_list = { &inflight_list, &inflight_list };
static size_t recent_largest;      /* largest area freed lately (decaying) */
static size_t cache_budget = (size_t)8 << 20;

#define CACHE_MIN ((size_t)8 << 20)
#define CACHE_MAX ((size_t)64 << 20)

/* An area of `bytes` was freed: the cache budget follows eight times the
 * largest recently freed area (see vmalloc.h).  Lock held. */
static void note_free(size_t bytes)
{
	kmm_lock_assert_held(&vmap_lock);
	recent_largest -= recent_largest / 64;
	if (bytes > recent_largest)
		recent_largest = bytes;
	size_t budget = 8 * recent_largest;
	if (budget < CACHE_MIN)
		budget = CACHE_MIN;
	if (budget > CACHE_MAX)
		budget = CACHE_MAX;
	cache_budget = budget;
}

/* cleared when an option fixes the buddy's watermarks */
bool kmm_buddy_auto_target = true;

/* The budget covers the lazy pool and the buddy allocator's resident free
 * frames together: the buddy may keep what the pool leaves.  Computed under
 * the lock; 0 if the buddy's mark need not change (less than 1 MiB off what
 * it has, or fixed by options). */
static size_t buddy_target_update(void)
{
	static size_t pushed;   /* pages the buddy allocator was last given */
	if (!kmm_buddy_auto_target)
		return 0;
	size_t t = cache_budget > lazy_bytes ? (cache_budget - lazy_bytes) / PAGE : 0;
	if (t == 0)
		t = 1;          /* "as low as it goes" (the buddy keeps 8 MiB) */
	size_t diff = t > pushed ? t - pushed : pushed - t;
	if (diff < 256)
		return 0;
	pushed = t;
	return t;
}

/* Bytes lazily freed before a purge.  Frames mode: a quarter of the cache
 * budget (the buddy allocator caches the rest as free frames).  Demand mode:
 * the whole budget (the lazy pool is the only cache), or as much as the
 * program has in big blocks if that is more (vmalloc.h, "Demand mode"). */
static inline size_t lazy_limit(void)
{
	if (kmm_vmalloc_params.lazy_max != 0)
		return kmm_vmalloc_params.lazy_max;
	if (kmm_vmalloc_params.frames)
		return cache_budget / 4;
	return busy_bytes > cache_budget ? busy_bytes : cache_budget;
}

static inline size_t va_size(const struct kmm_vmap_area *va)
{
	return va->va_end - va->va_start;
}

/* ---- system calls ------------------------------------------------------------------ */

/* Every system call on an area's range, outside vmap_lock on a range the
 * caller owns (debug builds check that the lock is not held).  The two
 * exceptions call the OS layer directly: reserving another space
 * (add_space, rare, under the lock so that the space and its free range
 * appear together) and the child's cleanup after fork (one thread). */
static inline int sys_commit(void *addr, size_t len)
{
	kmm_lock_assert_not_held(&vmap_lock);
	return kmm_os_commit_fixed(addr, len);
}

static inline int sys_reserve(void *addr, size_t len)
{
	kmm_lock_assert_not_held(&vmap_lock);
	return kmm_os_reserve_fixed(addr, len);
}

static inline int sys_move(void *from, void *to, size_t len)
{
	kmm_lock_assert_not_held(&vmap_lock);
	return kmm_os_move_pages(from, to, len);
}

static inline int sys_advise(void *addr, size_t len, int advice)
{
	kmm_lock_assert_not_held(&vmap_lock);
	return kmm_os_advise(addr, len, advice);
}

static inline long sys_mincore(void *addr, size_t len, unsigned char *vec)
{
	kmm_lock_assert_not_held(&vmap_lock);
	return kmm_os_mincore(addr, len, vec);
}

/* ---- the free tree (augmented) --------------------------------------------- */

static inline size_t sub_max(struct kmm_rb_node *n)
{
	return n ? VA(n)->subtree_max_size : 0;
}

static inline size_t compute_max(struct kmm_vmap_area *va)
{
	size_t m = va_size(va), l = sub_max(va->rb_node.left), r = sub_max(va->rb_node.right);
	if (l > m)
		m = l;
	if (r > m)
		m = r;
	return m;
}

static void aug_propagate(struct kmm_rb_node *n, struct kmm_rb_node *stop)
{
	for (; n != stop; n = kmm_rb_parent(n)) {
		struct kmm_vmap_area *va = VA(n);
		size_t m = compute_max(va);
		if (va->subtree_max_size == m)
			break;
		va->subtree_max_size = m;
	}
}

static void aug_copy(struct kmm_rb_node *from, struct kmm_rb_node *to)
{
	VA(to)->subtree_max_size = VA(from)->subtree_max_size;
}

static void aug_rotate(struct kmm_rb_node *from, struct kmm_rb_node *to)
{
	VA(to)->subtree_max_size = VA(from)->subtree_max_size;
	VA(from)->subtree_max_size = compute_max(VA(from));
}

static const struct kmm_rb_augment_ops free_ops = { aug_propagate, aug_copy, aug_rotate };

static struct kmm_vmap_area *alloc_va_node(void)
{
	struct kmm_vmap_area *va = kmm_kmem_cache_zalloc(vmap_area_cachep);
	if (va != NULL)
		kmm_rb_clear_node(&va->rb_node);
	return va;
}

/* Find the free neighbours of the range starting at `start`. */
static void free_neighbours(uintptr_t start, struct kmm_vmap_area **prev, struct kmm_vmap_area **next,
			    struct kmm_rb_node **parent, struct kmm_rb_node ***link)
{
	struct kmm_rb_node **l = &free_root.node, *p = NULL;
	*prev = *next = NULL;
	while (*l != NULL) {
		p = *l;
		if (start < VA(p)->va_start) {
			*next = VA(p);
			l = &p->left;
		} else {
			*prev = VA(p);
			l = &p->right;
		}
	}
	*parent = p;
	*link = l;
}

/* The reserved space that holds addr (NULL if none).  Spaces are only
 * ever added, published with release order: no lock needed. */
static struct vm_space *space_of(uintptr_t addr)
{
	for (struct vm_space *sp = __atomic_load_n(&spaces, __ATOMIC_ACQUIRE); sp != NULL; sp = sp->next)
		if (addr - sp->start < sp->end - sp->start)
			return sp;
	return NULL;
}

KMM_COLD size_t kmm_vmalloc_spaces(uintptr_t (*out)[2], size_t max)
{
	size_t n = 0;
	for (struct vm_space *sp = __atomic_load_n(&spaces, __ATOMIC_ACQUIRE); sp != NULL; sp = sp->next) {
		if (n < max) {
			out[n][0] = sp->start;
			out[n][1] = sp->end;
		}
		n++;
	}
	return n;
}

/* Return [start, end) to the free tree, merging with free neighbours in
 * the same reserved space (two spaces may be adjacent in the address space:
 * a range must never cross from one into the other, since each is a
 * reservation of its own).  `node` (may be NULL) is a vmap_area the range
 * can live in.  Lock held. */
static void free_range(uintptr_t start, uintptr_t end, struct kmm_vmap_area *node)
{
	kmm_lock_assert_held(&vmap_lock);
	struct kmm_vmap_area *prev, *next;
	struct kmm_rb_node *parent, **link;

	free_neighbours(start, &prev, &next, &parent, &link);
	struct vm_space *sp = space_of(start);
	bool merge_prev = prev != NULL && prev->va_end == start && sp != NULL && start != sp->start;
	bool merge_next = next != NULL && next->va_start == end && sp != NULL && end != sp->end;

	if (merge_prev && merge_next) {
		/* erase first: the tree's own propagation may stop early only
		 * while every node's value is right, so prev grows after */
		uintptr_t new_end = next->va_end;
		kmm_rb_erase_augmented(&next->rb_node, &free_root, &free_ops);
		prev->va_end = new_end;
		aug_propagate(&prev->rb_node, NULL);
		kmm_kmem_cache_free(vmap_area_cachep, next);
	} else if (merge_prev) {
		prev->va_end = end;
		aug_propagate(&prev->rb_node, NULL);
	} else if (merge_next) {
		/* its start moves down but no other range lies in between:
		 * its place in key order is unchanged */
		next->va_start = start;
		aug_propagate(&next->rb_node, NULL);
	} else {
		if (node == NULL)
			node = alloc_va_node();
		if (node == NULL) {
			/* out of memory for a node: the range is lost to
			 * reuse, which is safe (it stays reserved) */
			return;
		}
		node->va_start = start;
		node->va_end = end;
		node->state = KMM_VA_FREE;
		node->vm = NULL;
		kmm_rb_link_node(&node->rb_node, parent, link);
		kmm_rb_insert_augmented(&node->rb_node, &free_root, &free_ops);
		return;
	}
	if (node != NULL)
		kmm_kmem_cache_free(vmap_area_cachep, node);
}

/* The lowest-addressed free range of at least `size` bytes (from_top:
 * the highest, its mirror image): into the nearer subtree while it holds
 * one big enough (its subtree_max_size says so), else this node, else the
 * farther subtree. */
static inline struct kmm_vmap_area *find_match(size_t size, bool from_top)
{
	struct kmm_rb_node *n = free_root.node;
	while (n != NULL) {
		struct kmm_rb_node *near = from_top ? n->right : n->left;
		struct kmm_rb_node *far = from_top ? n->left : n->right;
		if (sub_max(near) >= size) {
			n = near;
			continue;
		}
		if (va_size(VA(n)) >= size)
			return VA(n);
		if (sub_max(far) >= size) {
			n = far;
			continue;
		}
		return NULL;
	}
	return NULL;
}

static struct kmm_vmap_area *find_lowest_match(size_t size)
{
	return find_match(size, false);
}

static struct kmm_vmap_area *find_highest_match(size_t size)
{
	return find_match(size, true);
}

static struct kmm_vmap_area *find_lowest_linear(size_t size)
{
	for (struct kmm_rb_node *n = kmm_rb_first(&free_root); n != NULL; n = kmm_rb_next(n))
		if (va_size(VA(n)) >= size)
			return VA(n);
	return NULL;
}

static struct kmm_vmap_area *find_highest_linear(size_t size)
{
	for (struct kmm_rb_node *n = kmm_rb_last(&free_root); n != NULL; n = kmm_rb_prev(n))
		if (va_size(VA(n)) >= size)
			return VA(n);
	return NULL;
}

/* Cut `size` bytes from the front of the lowest fitting free range.
 * Returns the start, or 0 if nothing fits.  Lock held. */
static uintptr_t alloc_range(size_t size)
{
	kmm_lock_assert_held(&vmap_lock);
	struct kmm_vmap_area *va = find_lowest_match(size);
	if (va == NULL)
		return 0;
	uintptr_t start = va->va_start;
	if (va_size(va) == size) {
		kmm_rb_erase_augmented(&va->rb_node, &free_root, &free_ops);
		kmm_kmem_cache_free(vmap_area_cachep, va);
	} else {
		va->va_start += size;   /* still before the next range */
		aug_propagate(&va->rb_node, NULL);
	}
	return start;
}

/* Cut `size` bytes from the end of the highest fitting free range: kmm's
 * own pages[] arrays are placed top-down (as the kernel's per-cpu areas
 * are), so they do not land right after a user's area and stop it from
 * growing in place.  Returns the start, or 0.  Lock held. */
static uintptr_t alloc_range_top(size_t size)
{
	kmm_lock_assert_held(&vmap_lock);
	struct kmm_vmap_area *va = find_highest_match(size);
	if (va == NULL)
		return 0;
	uintptr_t start = va->va_end - size;
	if (va_size(va) == size) {
		kmm_rb_erase_augmented(&va->rb_node, &free_root, &free_ops);
		kmm_kmem_cache_free(vmap_area_cachep, va);
	} else {
		va->va_end = start;
		aug_propagate(&va->rb_node, NULL);
	}
	return start;
}

/* Cut `size` bytes starting at an `align`-aligned address from the lowest
 * range that can hold them (the lead before it stays free).  Lock held. */
static uintptr_t alloc_range_aligned(size_t size, size_t align)
{
	kmm_lock_assert_held(&vmap_lock);
	if (align <= PAGE)
		return alloc_range(size);
	uintptr_t start = alloc_range(size + align - PAGE);
	if (start == 0)
		return 0;
	uintptr_t aligned = KMM_ALIGN_UP(start, align);
	if (aligned > start)
		free_range(start, aligned, NULL);
	if (aligned + size < start + size + align - PAGE)
		free_range(aligned + size, start + size + align - PAGE, NULL);
	return aligned;
}

/* Take [start, start + size) from the front of the free range that begins
 * at `start`, if it is big enough.  Lock held. */
static bool take_range_at(uintptr_t start, size_t size)
{
	kmm_lock_assert_held(&vmap_lock);
	struct kmm_vmap_area *prev, *next;
	struct kmm_rb_node *parent, **link;
	free_neighbours(start, &prev, &next, &parent, &link);
	struct kmm_vmap_area *va = prev;   /* the range with the largest start <= start */
	if (va == NULL || va->va_start != start || va_size(va) < size)
		return false;
	if (va_size(va) == size) {
		kmm_rb_erase_augmented(&va->rb_node, &free_root, &free_ops);
		kmm_kmem_cache_free(vmap_area_cachep, va);
	} else {
		va->va_start += size;
		aug_propagate(&va->rb_node, NULL);
	}
	return true;
}

/* ---- the busy tree ------------------------------------------------------------ */

static void busy_insert(struct kmm_vmap_area *va)
{
	struct kmm_rb_node **l = &busy_root.node, *p = NULL;
	while (*l != NULL) {
		p = *l;
		l = va->va_start < VA(p)->va_start ? &p->left : &p->right;
	}
	kmm_rb_link_node(&va->rb_node, p, l);
	kmm_rb_insert_color(&va->rb_node, &busy_root);
}

static struct kmm_vmap_area *busy_find(uintptr_t addr)
{
	struct kmm_rb_node *n = busy_root.node;
	while (n != NULL) {
		struct kmm_vmap_area *va = VA(n);
		if (addr < va->va_start)
			n = n->left;
		else if (addr >= va->va_end)
			n = n->right;
		else
			return va;
	}
	return NULL;
}

/* ---- spaces ---------------------------------------------------------------------- */

/* The vmap_area cache, made on first use; false if there is no memory
 * for it (the request fails, a later one tries again). */
static bool vmalloc_init(void)
{
	if (KMM_LIKELY(__atomic_load_n(&vmap_area_cachep, __ATOMIC_ACQUIRE) != NULL))
		return true;
	struct kmm_kmem_cache *c = kmm_kmem_cache_create("vmap_area", sizeof(struct kmm_vmap_area), 8);
	if (c == NULL)
		return false;
	struct kmm_kmem_cache *expected = NULL;
	if (!__atomic_compare_exchange_n(&vmap_area_cachep, &expected, c, false, __ATOMIC_RELEASE,
					 __ATOMIC_ACQUIRE)) {
		/* another thread won; the spare cache stays registered but unused */
	}
	return true;
}

/* Reserve another virtual space big enough for `need` bytes.  Lock held. */
static bool add_space(size_t need)
{
	kmm_lock_assert_held(&vmap_lock);
	size_t size = kmm_vmalloc_params.space_size;
	size_t min = KMM_ALIGN_UP(need + PAGE, (size_t)64 << 20);
	if (size < min)
		size = min;
	void *p = NULL;
	/* shrink the reservation under a small RLIMIT_AS */
	while (p == NULL && size >= min) {
		p = kmm_os_map_at(NULL, size, PROT_NONE, MAP_NORESERVE);
		if (p == NULL)
			size /= 2;
	}
	if (p == NULL)
		return false;
	struct vm_space *sp = kmm_kmalloc(sizeof *sp);
	struct kmm_vmap_area *node = alloc_va_node();
	if (sp == NULL || node == NULL) {
		kmm_kfree(sp);
		if (node != NULL)
			kmm_kmem_cache_free(vmap_area_cachep, node);
		kmm_os_unmap(p, size);
		return false;
	}
	sp->start = (uintptr_t)p;
	sp->end = (uintptr_t)p + size;
	sp->next = spaces;
	__atomic_store_n(&spaces, sp, __ATOMIC_RELEASE);
	/* kfree's diagnostics may now meet addresses of ours (slab.c) */
	kmm_slab_set_vmalloc_space_test(kmm_vmalloc_in_space);
	nr_spaces++;
	space_bytes += size;
	free_range(sp->start, sp->end, node);
	return true;
}

bool kmm_vmalloc_in_space(const void *p)
{
	return space_of((uintptr_t)p) != NULL;
}

/* ---- frames ----------------------------------------------------------------------- */

struct block {
	struct kmm_page *page;
	unsigned order;
	size_t resident;    /* of its pages, how many may be resident */
};

/* Order in which alloc_frames lays blocks out in an area. */
static bool block_before(const struct block *a, const struct block *b)
{
	if (a->resident != b->resident)
		return a->resident > b->resident;
	if (a->order != b->order)
		return a->order > b->order;
	return (uintptr_t)a->page < (uintptr_t)b->page;
}

/* Allocate `count` frames as large blocks into pages[], resident ones
 * first.  Returns false (with nothing allocated) if memory ran out. */

static bool alloc_frames(struct kmm_page **pages, size_t count)
{
	size_t max_blocks = (count >> (KMM_MAX_ORDER - 1)) + KMM_MAX_ORDER + 1;
	struct block *blocks = kmm_kmalloc(max_blocks * sizeof *blocks);
	size_t nb = 0, got = 0;
	if (blocks == NULL)
		return false;
	while (got < count) {
		size_t left = count - got;
		unsigned order = KMM_MAX_ORDER - 1;
		while (((size_t)1 << order) > left)
			order--;
		struct kmm_page *page;
		while ((page = kmm_alloc_pages(order, KMM_GFP_USER | KMM_GFP_HOT, KMM_OWNER_VMALLOC)) == NULL && order > 0)
			order--;
		if (page == NULL || nb == max_blocks) {
			if (page != NULL)
				kmm_free_pages(page, order);
			for (size_t i = 0; i < nb; i++)
				kmm_free_pages(blocks[i].page, blocks[i].order);
			kmm_kfree(blocks);
			errno = ENOMEM;
			return false;
		}
		/* a free block's estimate of its resident pages survives
		 * the allocation (dirty blocks only: see kmm_alloc_pages) */
		size_t res = (page->flags & KMM_PG_DIRTY) ? (size_t)page->resident : 0;
		blocks[nb++] = (struct block){ page, order, res };
		got += (size_t)1 << order;
	}
	/* blocks with the most resident pages first: programs touch big
	 * blocks from the start, often not to the end, so resident frames
	 * belong at the front and zero-filled ones at the back, where they may
	 * never cost a fault; then larger blocks first, and by address, so
	 * neighbouring blocks map with one system call */
	for (size_t i = 1; i < nb; i++) {
		struct block b = blocks[i];
		size_t j = i;
		while (j > 0 && block_before(&b, &blocks[j - 1])) {
			blocks[j] = blocks[j - 1];
			j--;
		}
		blocks[j] = b;
	}
	size_t k = 0;
	for (size_t i = 0; i < nb; i++) {
		size_t n = (size_t)1 << blocks[i].order;
		if (blocks[i].page->flags & KMM_PG_DIRTY)
			__atomic_add_fetch(&vst.frames_recycled, n, __ATOMIC_RELAXED);
		else
			__atomic_add_fetch(&vst.frames_fresh, n, __ATOMIC_RELAXED);
		kmm_split_page(blocks[i].page, blocks[i].order, KMM_OWNER_VMALLOC);
		for (size_t j = 0; j < ((size_t)1 << blocks[i].order); j++)
			pages[k++] = blocks[i].page + j;
	}
	kmm_kfree(blocks);
	return true;
}

/* Length (in pages) of the run of physically consecutive frames starting
 * at pages[i], at most `max`. */
static size_t run_length(struct kmm_page **pages, size_t i, size_t max)
{
	size_t n = 1;
	while (n < max && pages[i + n] == pages[i + n - 1] + 1 &&
	       ((uintptr_t)pages[i + n] & ~((uintptr_t)KMM_SECTION_SIZE - 1)) ==
		       ((uintptr_t)pages[i] & ~((uintptr_t)KMM_SECTION_SIZE - 1)))
		n++;
	return n;
}

static void release_frames(struct kmm_page **pages, size_t count, uintptr_t addr);

/* Record that frames pages[0..n) are now mapped at addr onwards. */
static void set_mapped_at(struct kmm_page **pages, size_t n, uintptr_t addr)
{
	for (size_t j = 0; j < n; j++)
		pages[j]->mapped_at = addr + j * PAGE;
}

/* Map pages[0..count) at `addr`: move each run's page-table entries from
 * its section into the area.  A move fails when the process is out of
 * mappings (it splits the area's mapping: vm.max_map_count): then the
 * frames already moved go home again (release_frames: their contents are
 * new, nothing is lost if they cannot), every frame goes back to the buddy
 * allocator, and false with errno = ENOMEM; the caller gives the range
 * back (its part already made read-write is re-reserved by the caller). */
static bool map_frames(struct kmm_page **pages, size_t count, uintptr_t addr)
{
	for (size_t i = 0; i < count;) {
		size_t n = run_length(pages, i, count - i);
		if (sys_move(kmm_page_address(pages[i]), (void *)(addr + i * PAGE), n * PAGE) != 0) {
			release_frames(pages, i, addr);
			for (size_t k = i; k < count;) {
				size_t m = run_length(pages, k, count - k);
				kmm_free_page_range(pages[k], m, NULL);
				k += m;
			}
			__atomic_add_fetch(&vst.map_failures, 1, __ATOMIC_RELAXED);
			errno = ENOMEM;
			return false;
		}
		set_mapped_at(pages + i, n, addr + i * PAGE);
		__atomic_add_fetch(&vst.runs_mapped, 1, __ATOMIC_RELAXED);
		i += n;
	}
	return true;
}

/* Take pages[0..count) out of the area at `addr` and give them back to
 * the buddy allocator.  One mincore(2) per 4 MiB of the area tells which
 * pages are resident: a run with none is not moved at all (its frames'
 * home is still mapped, empty), the others move home (page tables, one
 * mremap per run), and the buddy allocator learns how many of each block's
 * pages are resident (its watermarks count them).  The caller re-reserves
 * the area's range afterwards. */
static void release_frames(struct kmm_page **pages, size_t count, uintptr_t addr)
{
	unsigned char vec[1024];
	for (size_t base = 0; base < count; base += sizeof vec) {
		size_t chunk = count - base < sizeof vec ? count - base : sizeof vec;
		bool known = sys_mincore((void *)(addr + base * PAGE), chunk * PAGE, vec) >= 0;
		for (size_t i = 0; i < chunk;) {
			struct kmm_page **run = pages + base + i;
			size_t n = run_length(run, 0, chunk - i);
			bool resident = !known;
			for (size_t j = 0; j < n && !resident; j++)
				resident = (vec[i + j] & 1) != 0;
			const unsigned char *res = known ? vec + i : NULL;
			if (resident &&
			    sys_move((void *)(addr + (base + i) * PAGE), kmm_page_address(run[0]),
					      n * PAGE) != 0) {
				/* out of mappings (the move splits the area's
				 * mapping; vm.max_map_count, glibc's
				 * tst-free-errno): free must not fail, so the
				 * contents stay behind and go with the area's
				 * range when the caller re-reserves it; the
				 * frames' home is still mapped, empty */
				memset(vec + i, 0, n);
				res = vec + i;
				__atomic_add_fetch(&vst.release_failures, 1, __ATOMIC_RELAXED);
			}
			for (size_t j = 0; j < n; j++)
				run[j]->mapped_at = 0;
			kmm_free_page_range(run[0], n, res);
			i += n;
		}
	}
}

/* pages[] with room for at least n entries (a power of two, so that growing
 * areas rarely need a new array): kmalloc if it fits a page, else vmalloc
 * itself, as in the kernel.  *cap gets the capacity. */
#define VMALLOC_TOPDOWN ((size_t)1)   /* align argument: place the area top-down */
static void *vmalloc_node(size_t size, size_t align, const void *caller);
/* vrealloc_area's flags */
#define VR_MAY_MOVE 1u   /* move the area if it cannot grow in place */
#define VR_EXACT    2u   /* demand: no growth reserve (a new request, not a realloc) */
#define VR_NO_COPY  4u   /* demand: the contents are dead: a move never copies */
static void *vrealloc_area(void *addr, size_t new_size, unsigned flags);
static size_t vfree_area(const void *addr, bool now);

/* Move an area's frames pages[0..n) from `from` to `to` (page tables
 * only).  If a move fails (out of mappings), the runs already moved go
 * back and false; if one of those cannot go back either, the block cannot
 * be put together again: that aborts (it takes the mapping count changing
 * between two system calls of this thread). */
static bool move_runs(struct kmm_page **pages, size_t n, uintptr_t from, uintptr_t to)
{
	for (size_t i = 0; i < n;) {
		size_t m = run_length(pages, i, n - i);
		if (sys_move((void *)(from + i * PAGE), (void *)(to + i * PAGE), m * PAGE) != 0) {
			int err = errno;
			for (size_t k = 0; k < i;) {
				size_t r = run_length(pages, k, i - k);
				if (sys_move((void *)(to + k * PAGE), (void *)(from + k * PAGE), r * PAGE) != 0)
					kmm_fatal("realloc(): mremap of a vmalloc area failed (errno %d), and "
						  "moving it back too (errno %d)", err, errno);
				set_mapped_at(pages + k, r, from + k * PAGE);
				k += r;
			}
			__atomic_add_fetch(&vst.map_failures, 1, __ATOMIC_RELAXED);
			errno = ENOMEM;
			return false;
		}
		set_mapped_at(pages + i, m, to + i * PAGE);
		i += m;
	}
	return true;
}

static struct kmm_page **alloc_pages_array(size_t n, bool *vmalloced, unsigned *cap)
{
	size_t c = 8;
	while (c < n)
		c <<= 1;
	*cap = (unsigned)c;
	size_t bytes = c * sizeof(struct kmm_page *);
	if (bytes <= PAGE) {
		*vmalloced = false;
		return kmm_kmalloc(bytes);
	}
	*vmalloced = true;
	return vmalloc_node(bytes, VMALLOC_TOPDOWN, (const void *)alloc_pages_array);
}

static void free_pages_array(struct kmm_page **pages, bool vmalloced)
{
	if (vmalloced)
		vfree_area(pages, true);
	else
		kmm_kfree(pages);
}

static void populate(uintptr_t addr, size_t len)
{
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
	if (sys_advise((void *)addr, len, MADV_POPULATE_WRITE) != 0) {
		/* kernels before 5.14: touch every page */
		for (size_t off = 0; off < len; off += PAGE)
			*(volatile char *)(addr + off) = *(volatile char *)(addr + off);
	}
	KMM_TRACE(KMM_TR_POPULATE, 0, KMM_POPULATE_PREFAULT, addr, len, 0, len / PAGE);
}

/* ---- vmalloc / vfree ----------------------------------------------------------------- */

/* A lazily freed area can serve a request of the current mode (a frames
 * area is reused only in frames mode, a demand-paged one only in demand
 * mode: options may change the mode between areas) at an `align`-aligned
 * address. */
static inline bool lazy_fits_mode(const struct kmm_vmap_area *va, size_t align, bool demand)
{
	return (va->va_start & (align - 1)) == 0 && va->vm->demand == demand;
}

/* Smallest lazily freed area with at least `need` bytes (guard included),
 * starting at an `align`-aligned address.  Lock held. */
static struct kmm_vmap_area *lazy_best_fit(size_t need, size_t align, bool demand)
{
	kmm_lock_assert_held(&vmap_lock);
	struct kmm_vmap_area *best = NULL;
	for (struct kmm_list *l = purge_list.next; l != &purge_list; l = l->next) {
		struct kmm_vmap_area *va = kmm_list_entry(l, struct kmm_vmap_area, list);
		if (!lazy_fits_mode(va, align, demand))
			continue;
		if (va_size(va) >= need && (best == NULL || va_size(va) < va_size(best)))
			best = va;
	}
	return best;
}

/* The largest lazily freed area (of at least `min` bytes), or NULL.  Lock
 * held. */
static struct kmm_vmap_area *lazy_largest(size_t min, size_t align, bool demand)
{
	kmm_lock_assert_held(&vmap_lock);
	struct kmm_vmap_area *best = NULL;
	for (struct kmm_list *l = purge_list.next; l != &purge_list; l = l->next) {
		struct kmm_vmap_area *va = kmm_list_entry(l, struct kmm_vmap_area, list);
		if (lazy_fits_mode(va, align, demand) && va_size(va) >= min &&
		    (best == NULL || va_size(va) > va_size(best)))
			best = va;
	}
	return best;
}

/* The largest lazily freed area whose following free range lets it grow
 * to `need` bytes (guard included) in place.  Lock held. */
static struct kmm_vmap_area *lazy_growable(size_t need, size_t align, bool demand)
{
	kmm_lock_assert_held(&vmap_lock);
	struct kmm_vmap_area *best = NULL;
	for (struct kmm_list *l = purge_list.next; l != &purge_list; l = l->next) {
		struct kmm_vmap_area *va = kmm_list_entry(l, struct kmm_vmap_area, list);
		if (!lazy_fits_mode(va, align, demand))
			continue;
		if (best != NULL && va_size(va) <= va_size(best))
			continue;
		struct kmm_vmap_area *prev, *next;
		struct kmm_rb_node *parent, **link;
		free_neighbours(va->va_end, &prev, &next, &parent, &link);
		if (prev != NULL && prev->va_start == va->va_end && va_size(va) + va_size(prev) >= need)
			best = va;
	}
	return best;
}

/* Give back the frames and range beyond `pages` pages of a busy frames
 * area (its page at that point becomes the new guard page). */
static void shrink_frames(struct kmm_vmap_area *va, size_t pages)
{
	struct kmm_vm_struct *vm = va->vm;
	size_t old = vm->nr_pages;
	uintptr_t cut = va->va_start + pages * PAGE;
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	vm->flags |= KMM_VM_RESIZING;
	kmm_unlock_if(&vmap_lock, locked);
	release_frames(vm->pages + pages, old - pages, cut);
	__atomic_add_fetch(&vst.frames_shrunk, old - pages, __ATOMIC_RELAXED);
	/* [cut, old end) no longer mapped: PROT_NONE again */
	sys_reserve((void *)cut, (old - pages) * PAGE);
	uintptr_t old_end = va->va_end;
	/* the region shrinks before the range is free for others to map */
	kmm_region_update(&va->region, va->va_start, cut);
	locked = kmm_lock_fork_aware(&vmap_lock);
	vm->nr_pages = (unsigned)pages;
	vm->size = (pages + 1) * PAGE;
	va->va_end = cut + PAGE;
	busy_bytes -= (old - pages) * PAGE;
	free_range(cut + PAGE, old_end, NULL);
	vm->flags &= ~KMM_VM_RESIZING;
	kmm_unlock_if(&vmap_lock, locked);
}

/* Mark a busy area's vm as being resized, or no longer (takes the lock). */
static void set_resizing(struct kmm_vm_struct *vm, bool on)
{
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	if (on)
		vm->flags |= KMM_VM_RESIZING;
	else
		vm->flags &= ~KMM_VM_RESIZING;
	kmm_unlock_if(&vmap_lock, locked);
}

/* The busy demand-paged area va ends after `pages` pages now, the page at
 * the cut being its guard page; its region follows.  Lock held; the range
 * beyond is the caller's to hand on. */
static void cut_area_locked(struct kmm_vmap_area *va, size_t pages)
{
	kmm_lock_assert_held(&vmap_lock);
	struct kmm_vm_struct *vm = va->vm;
	uintptr_t cut = va->va_start + pages * PAGE;
	/* the region shrinks before the range is free for others to map */
	kmm_region_update(&va->region, va->va_start, cut);
	busy_bytes -= (vm->nr_pages - pages) * PAGE;
	vm->nr_pages = (unsigned)pages;
	vm->size = (pages + 1) * PAGE;
	if (vm->dirty_pages > pages)
		vm->dirty_pages = (unsigned)pages;
	va->va_end = cut + PAGE;
}

/* Give back the range beyond `pages` pages of a busy demand-paged area:
 * one mmap(PROT_NONE) over [cut, old guard) drops its pages and makes the
 * page at cut the new guard page; the rest returns to the free tree.  If
 * the call fails the area keeps its size. */
static void shrink_demand(struct kmm_vmap_area *va, size_t pages)
{
	struct kmm_vm_struct *vm = va->vm;
	uintptr_t cut = va->va_start + pages * PAGE;
	set_resizing(vm, true);
	if (sys_reserve((void *)cut, (vm->nr_pages - pages) * PAGE) != 0) {
		set_resizing(vm, false);
		return;
	}
	uintptr_t old_end = va->va_end;
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	cut_area_locked(va, pages);
	free_range(cut + PAGE, old_end, NULL);
	vm->flags &= ~KMM_VM_RESIZING;
	kmm_unlock_if(&vmap_lock, locked);
}

static void shrink_area(struct kmm_vmap_area *va, size_t pages)
{
	if (va->vm->demand)
		shrink_demand(va, pages);
	else
		shrink_frames(va, pages);
}

/* A reused demand-paged area keeps `pages` pages; what lies beyond (at
 * least two pages) becomes a lazily freed area of its own, with its pages
 * still resident: one mmap(PROT_NONE) makes the page at the cut the guard
 * page between the two, and the old guard page stays the remainder's.  A
 * small request does not pin a big area's pages as "in use", and they stay
 * there for the next request.  Without memory for the remainder's
 * descriptors the excess is given back instead. */
static void split_demand(struct kmm_vmap_area *va, size_t pages)
{
	struct kmm_vm_struct *vm = va->vm;
	KMM_ASSERT(pages + 2 <= vm->nr_pages);
	size_t old = vm->nr_pages, rest = old - pages - 1;
	uintptr_t cut = va->va_start + pages * PAGE;
	struct kmm_vm_struct *rvm = kmm_kzalloc(sizeof *rvm);
	struct kmm_vmap_area *rva = rvm != NULL ? alloc_va_node() : NULL;
	if (rva == NULL) {
		kmm_kfree(rvm);
		shrink_demand(va, pages);
		return;
	}
	set_resizing(vm, true);
	if (sys_reserve((void *)cut, PAGE) != 0) {
		/* no guard page: the area stays whole */
		kmm_kfree(rvm);
		kmm_kmem_cache_free(vmap_area_cachep, rva);
		set_resizing(vm, false);
		return;
	}
	uintptr_t old_end = va->va_end;
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	cut_area_locked(va, pages);
	rvm->addr = (void *)(cut + PAGE);
	rvm->size = (rest + 1) * PAGE;
	rvm->requested_size = rest * PAGE;
	rvm->flags = KMM_VM_ALLOC;
	rvm->nr_pages = (unsigned)rest;
	rvm->dirty_pages = (unsigned)rest;
	rvm->caller = vm->caller;
	rvm->demand = true;
	rvm->used = true;
	rva->va_start = cut + PAGE;
	rva->va_end = old_end;
	rva->vm = rvm;
	rva->state = KMM_VA_LAZY;
	busy_insert(rva);
	/* the oldest end of the purge list: a leftover goes first */
	kmm_list_add(&rva->list, &purge_list);
	lazy_bytes += va_size(rva);
	lazy_areas++;
	vst.split_areas++;
	/* registered before another thread can take or purge it */
	kmm_region_add(&rva->region, KMM_REGION_VMALLOC_AREA, rva->va_start, rva->va_start + rest * PAGE,
		       KMM_PROT_R | KMM_PROT_W, KMM_POPULATE_DEMAND);
	vm->flags &= ~KMM_VM_RESIZING;
	kmm_unlock_if(&vmap_lock, locked);
}

/* align: a power of two >= PAGE, or VMALLOC_TOPDOWN (page aligned, placed
 * from the top of the free space) */
/* trace: whether this thread's last vmalloc_node reused a lazily freed area */
static __thread uint8_t last_reused __attribute__((tls_model("initial-exec")));

/* Take the lazily freed area va for a request of `size` bytes (it becomes
 * busy as it is).  Lock held. */
static void take_lazy(struct kmm_vmap_area *va, size_t size, const void *caller)
{
	kmm_lock_assert_held(&vmap_lock);
	kmm_list_del(&va->list);
	lazy_bytes -= va_size(va);
	lazy_areas--;
	va->state = KMM_VA_BUSY;
	busy_areas++;
	busy_bytes += va->vm->nr_pages * PAGE;
	vst.allocs++;
	vst.reused++;
	last_reused = 1;
	va->vm->caller = caller;
	va->vm->requested_size = size;
}

static void *new_area_frames(size_t size, size_t nr_pages, size_t align, bool topdown, const void *caller);
static void *new_area_demand(size_t size, size_t nr_pages, size_t align, const void *caller);

static void *vmalloc_node_do(size_t size, size_t align, const void *caller)
{
	bool topdown = align == VMALLOC_TOPDOWN;
	if (topdown)
		align = PAGE;
	if (size == 0 || size > ((size_t)1 << 46)) {
		errno = ENOMEM;
		return NULL;
	}
	if (KMM_UNLIKELY(!vmalloc_init())) {
		errno = ENOMEM;
		return NULL;
	}
	size_t nr_pages = KMM_ALIGN_UP(size, PAGE) / PAGE;
	size_t need = (nr_pages + 1) * PAGE;   /* + guard page */
	bool demand = !kmm_vmalloc_params.frames;

	bool locked = kmm_lock_fork_aware(&vmap_lock);
	/* 1. a lazily freed area that is big enough: still mapped, resident */
	struct kmm_vmap_area *va = lazy_best_fit(need, align, demand);
	if (va != NULL) {
		take_lazy(va, size, caller);
		kmm_unlock_if(&vmap_lock, locked);
		/* an excess of more than a quarter of the request (and at
		 * least 64 KiB) is not pinned as "in use": frames go back to
		 * the buddy allocator, where they stay resident for the next
		 * area; a demand-paged area's excess becomes a lazily freed
		 * area of its own */
		size_t excess = va->vm->nr_pages - nr_pages;
		if (excess > nr_pages / 4 && excess * PAGE >= ((size_t)64 << 10)) {
			if (demand)
				split_demand(va, nr_pages);
			else
				shrink_frames(va, nr_pages);
		}
		return (void *)va->va_start;
	}

	/* 1b. a lazily freed area followed by enough free space: take it and
	 * grow it in place (frames: mapping only the frames it lacks;
	 * demand: one mmap) */
	va = topdown ? NULL : lazy_growable(need, align, demand);
	/* 1c. demand: else the largest lazily freed area, if it is at least
	 * a quarter of the request, moved with its page tables (mremap: its
	 * resident pages come along, no fault; nothing to copy, its contents
	 * are dead) to a range with room for the rest.  Measured on bench/big
	 * (blocks of 5..25 MiB): half the page faults and 0.45x glibc's CPU
	 * time against 0.7x with a new area. */
	bool moved_lazy = false;
	if (va == NULL && demand && !topdown && align <= PAGE) {
		va = lazy_largest(need / 4, align, demand);
		moved_lazy = va != NULL;
	}
	if (va != NULL) {
		take_lazy(va, size, caller);
		kmm_unlock_if(&vmap_lock, locked);
		void *start = (void *)va->va_start;
		void *p = vrealloc_area(start, nr_pages * PAGE,
					!demand ? 0 : moved_lazy ? VR_MAY_MOVE | VR_EXACT | VR_NO_COPY : VR_EXACT);
		if (p != NULL) {
			va->vm->requested_size = size;
			return p;
		}
		/* the neighbour was taken meanwhile (or no memory): give the
		 * area back */
		kmm_vfree(start);
		locked = kmm_lock_fork_aware(&vmap_lock);
	}

	last_reused = 0;
	kmm_unlock_if(&vmap_lock, locked);
	if (demand)
		return new_area_demand(size, nr_pages, align, caller);
	return new_area_frames(size, nr_pages, align, topdown, caller);
}

/* vmap_lock held: the lowest free range of need bytes aligned to align
 * (the highest, topdown), in a new space if none fits; 0 if none. */
static uintptr_t claim_range(size_t need, size_t align, bool topdown)
{
	uintptr_t start = topdown ? alloc_range_top(need) : alloc_range_aligned(need, align);
	if (start == 0 && add_space(need + align))
		start = topdown ? alloc_range_top(need) : alloc_range_aligned(need, align);
	return start;
}

/* vmap_lock held: node becomes the busy area [start, start + need), not
 * yet built (its vm is set once it is). */
static void busy_claim(struct kmm_vmap_area *node, uintptr_t start, size_t need)
{
	node->va_start = start;
	node->va_end = start + need;
	node->state = KMM_VA_BUSY;
	busy_insert(node);
	busy_areas++;
	vst.allocs++;
}

/* A busy area whose build failed: its range back to the free tree, as if
 * never claimed (takes vmap_lock). */
static void busy_unclaim(struct kmm_vmap_area *node)
{
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	kmm_rb_erase(&node->rb_node, &busy_root);
	busy_areas--;
	vst.allocs--;
	free_range(node->va_start, node->va_end, node);
	kmm_unlock_if(&vmap_lock, locked);
}

/* A new demand-paged area: a range cut from the free tree is made
 * read-write in place (one mmap); its pages fault in zero-filled on
 * first touch, or are populated at once (populate=on). */
static void *new_area_demand(size_t size, size_t nr_pages, size_t align, const void *caller)
{
	size_t need = (nr_pages + 1) * PAGE;
	struct kmm_vm_struct *vm = kmm_kzalloc(sizeof *vm);
	struct kmm_vmap_area *node = vm != NULL ? alloc_va_node() : NULL;
	if (node == NULL) {
		kmm_kfree(vm);
		errno = ENOMEM;
		return NULL;
	}
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	uintptr_t start = claim_range(need, align, false);
	if (start == 0) {
		kmm_unlock_if(&vmap_lock, locked);
		kmm_kmem_cache_free(vmap_area_cachep, node);
		kmm_kfree(vm);
		errno = ENOMEM;
		return NULL;
	}
	busy_claim(node, start, need);
	kmm_unlock_if(&vmap_lock, locked);

	/* the range is ours (busy): the system call without the lock */
	if (sys_commit((void *)start, nr_pages * PAGE) != 0) {
		sys_reserve((void *)start, nr_pages * PAGE);
		kmm_kfree(vm);
		busy_unclaim(node);
		errno = ENOMEM;
		return NULL;
	}
	vm->addr = (void *)start;
	vm->size = need;
	vm->flags = KMM_VM_ALLOC;
	vm->nr_pages = (unsigned)nr_pages;
	vm->caller = caller;
	vm->requested_size = size;
	vm->demand = true;
	vm->dirty_pages = 0;   /* demand-zero: calloc clears nothing */
	if (kmm_vmalloc_params.populate)
		populate(start, nr_pages * PAGE);
	else
		KMM_TRACE(KMM_TR_POPULATE, 0, KMM_POPULATE_DEMAND, start, nr_pages * PAGE, 0, (uint64_t)-1);

	locked = kmm_lock_fork_aware(&vmap_lock);
	node->vm = vm;
	busy_bytes += nr_pages * PAGE;
	kmm_unlock_if(&vmap_lock, locked);
	kmm_region_add(&node->region, KMM_REGION_VMALLOC_AREA, start, start + nr_pages * PAGE,
		       KMM_PROT_R | KMM_PROT_W,
		       kmm_vmalloc_params.populate ? KMM_POPULATE_PREFAULT : KMM_POPULATE_DEMAND);
	return (void *)start;
}

/* A new area built from buddy frames (frames mode). */
static void *new_area_frames(size_t size, size_t nr_pages, size_t align, bool topdown, const void *caller)
{
	size_t need = (nr_pages + 1) * PAGE;
	bool locked;

	/* 2. lazily freed areas too small for this request: purge them now, so
	 * their resident frames go back to the buddy allocator, whose free
	 * lists (LIFO) hand them straight to this area */
	locked = kmm_lock_fork_aware(&vmap_lock);
	bool purge_first = lazy_areas > 0;
	kmm_unlock_if(&vmap_lock, locked);
	if (purge_first)
		kmm_vmalloc_purge(true);

	/* 3. vm_struct and pages[] first (pages[] may be a vmalloc area
	 * itself: taken before this one's range, it does not sit right
	 * after it and block growth in place) */
	struct kmm_vm_struct *vm = kmm_kzalloc(sizeof *vm);
	bool vmalloced = false;
	unsigned cap = 0;
	struct kmm_page **pages = vm != NULL ? alloc_pages_array(nr_pages, &vmalloced, &cap) : NULL;
	if (pages == NULL) {
		kmm_kfree(vm);
		errno = ENOMEM;
		return NULL;
	}

	/* 4. the range: the lowest that fits, in a new space if none does */
	locked = kmm_lock_fork_aware(&vmap_lock);
	uintptr_t start = claim_range(need, align, topdown);
	struct kmm_vmap_area *node = start != 0 ? alloc_va_node() : NULL;
	if (node == NULL) {
		if (start != 0)
			free_range(start, start + need, NULL);
		kmm_unlock_if(&vmap_lock, locked);
		free_pages_array(pages, vmalloced);
		kmm_kfree(vm);
		errno = ENOMEM;
		return NULL;
	}
	busy_claim(node, start, need);
	kmm_unlock_if(&vmap_lock, locked);

	/* 5. the frames, mapped into the area */
	if (!alloc_frames(pages, nr_pages)) {
		free_pages_array(pages, vmalloced);
		kmm_kfree(vm);
		busy_unclaim(node);
		errno = ENOMEM;
		return NULL;
	}
	vm->addr = (void *)start;
	vm->size = need;
	vm->flags = KMM_VM_ALLOC | KMM_VM_UNINITIALIZED;
	vm->pages = pages;
	vm->nr_pages = (unsigned)nr_pages;
	vm->pages_capacity = cap;
	vm->caller = caller;
	vm->requested_size = size;
	vm->pages_vmalloced = vmalloced;
	if (!map_frames(pages, nr_pages, start)) {
		sys_reserve((void *)start, nr_pages * PAGE);   /* what moved in made it read-write */
		free_pages_array(pages, vmalloced);
		kmm_kfree(vm);
		busy_unclaim(node);
		errno = ENOMEM;
		return NULL;
	}
	if (kmm_vmalloc_params.populate)
		populate(start, nr_pages * PAGE);
	else
		KMM_TRACE(KMM_TR_POPULATE, 0, KMM_POPULATE_DEMAND, start, nr_pages * PAGE, 0, (uint64_t)-1);
	vm->flags &= ~KMM_VM_UNINITIALIZED;

	locked = kmm_lock_fork_aware(&vmap_lock);
	node->vm = vm;
	busy_bytes += nr_pages * PAGE;
	kmm_unlock_if(&vmap_lock, locked);
	kmm_region_add(&node->region, KMM_REGION_VMALLOC_AREA, start, start + nr_pages * PAGE,
		       KMM_PROT_R | KMM_PROT_W,
		       kmm_vmalloc_params.populate ? KMM_POPULATE_PREFAULT : KMM_POPULATE_DEMAND);
	return (void *)start;
}

/* vmalloc_node and its trace event (docs/trace.md: vmalloc) */
static void *vmalloc_node(size_t size, size_t align, const void *caller)
{
	void *p = vmalloc_node_do(size, align, caller);
	if (KMM_UNLIKELY(kmm_trace_on) && p != NULL)
		kmm_trace_event(KMM_TR_VMALLOC, last_reused ? KMM_TP_VMALLOC_REUSED : KMM_TP_VMALLOC_NEW, 0,
				(uintptr_t)p, kmm_vmalloc_size(p) + PAGE, size, 0);
	return p;
}

void *kmm_vmalloc(size_t size, const void *caller)
{
	return vmalloc_node(size, PAGE, caller);
}

void *kmm_vmalloc_aligned(size_t size, size_t align, const void *caller)
{
	if (align < PAGE)
		align = PAGE;
	if ((align & (align - 1)) != 0 || align > ((size_t)1 << 40)) {
		errno = EINVAL;
		return NULL;
	}
	return vmalloc_node(size, align, caller);
}

static struct kmm_vmap_area *find_area_locked(const void *addr, const char *who)
{
	kmm_lock_assert_held(&vmap_lock);
	struct kmm_vmap_area *va = busy_find((uintptr_t)addr);
	if (KMM_UNLIKELY(va == NULL || va->va_start != (uintptr_t)addr || va->state != KMM_VA_BUSY ||
			 va->vm == NULL)) {
		/* a freed demand-paged area may have merged with the lazily
		 * freed area before it: a page-aligned address inside one was
		 * most likely a block's start too */
		bool freed = va != NULL && (va->state == KMM_VA_LAZY || va->state == KMM_VA_PURGING) &&
			     (va->va_start == (uintptr_t)addr ||
			      (va->vm != NULL && va->vm->demand && ((uintptr_t)addr & (PAGE - 1)) == 0 &&
			       (uintptr_t)addr < va->va_end - PAGE));
		kmm_unlock(&vmap_lock);
		if (freed)
			kmm_fatal("%s: double free detected (big block %p was freed already)", who, addr);
		kmm_printerr_ptr(who, "invalid pointer", addr, "not a block kmm handed out");
	}
	return va;
}

/* Tear down the areas on `batch` (state PURGING, off the purge list, still
 * in the busy tree): frames back to their sections and to the buddy
 * allocator, a demand-paged area's pages dropped by re-reserving its range
 * (one mmap PROT_NONE), the ranges back to the free tree.  Called without
 * the lock.  Returns the bytes purged. */
static size_t purge_batch(struct kmm_list *batch)
{
	kmm_lock_assert_not_held(&vmap_lock);
	size_t purged = 0;
	for (struct kmm_list *l = batch->next; l != batch; l = l->next) {
		struct kmm_vmap_area *va = kmm_list_entry(l, struct kmm_vmap_area, list);
		struct kmm_vm_struct *vm = va->vm;
		size_t bytes = vm->nr_pages * PAGE;
		if (!vm->demand)
			release_frames(vm->pages, vm->nr_pages, va->va_start);
		sys_reserve((void *)va->va_start, bytes);
		if (!vm->demand)
			free_pages_array(vm->pages, vm->pages_vmalloced);
		kmm_kfree(vm);
		va->vm = NULL;
		kmm_region_del(&va->region);
		purged += bytes;
	}

	bool locked = kmm_lock_fork_aware(&vmap_lock);
	while (!kmm_list_empty(batch)) {
		struct kmm_vmap_area *va = kmm_list_entry(batch->next, struct kmm_vmap_area, list);
		kmm_list_del(&va->list);
		kmm_rb_erase(&va->rb_node, &busy_root);
		vst.purged_areas++;
		free_range(va->va_start, va->va_end, va);
	}
	kmm_unlock_if(&vmap_lock, locked);
	return purged;
}

/* A lazily freed demand-paged area right before (or after) va in the same
 * reserved space, which a freed va can merge with, or NULL.  Lock held. */
static struct kmm_vmap_area *lazy_neighbour(struct kmm_vmap_area *va, bool after)
{
	kmm_lock_assert_held(&vmap_lock);
	struct kmm_rb_node *n = after ? kmm_rb_next(&va->rb_node) : kmm_rb_prev(&va->rb_node);
	if (n == NULL)
		return NULL;
	struct kmm_vmap_area *nb = VA(n);
	if (nb->state != KMM_VA_LAZY || nb->vm == NULL || !nb->vm->demand ||
	    (after ? va->va_end != nb->va_start : nb->va_end != va->va_start) ||
	    space_of(va->va_start) != space_of(nb->va_start))
		return NULL;
	return nb;
}

/* Take a lazily freed area off the purge list for a merge.  Lock held. */
static void unlazy(struct kmm_vmap_area *va)
{
	kmm_list_del(&va->list);
	lazy_bytes -= va_size(va);
	lazy_areas--;
	va->state = KMM_VA_PURGING;
}

/* Put the freed demand-paged area va (state PURGING, counted out of the
 * busy ones) on the purge list, merged with the lazily freed areas right
 * before and after it: the guard pages between them become read-write
 * (one mmap each, outside the lock; the merged area keeps the last guard
 * page), so the pool holds fewer and bigger areas whose resident pages a
 * later request of any size can reuse, as a heap coalesces free chunks.
 * Called with the lock held (`locked` as kmm_lock_fork_aware said); returns
 * with it held. */
static bool lazy_add_merged(struct kmm_vmap_area *va, bool locked)
{
	kmm_lock_assert_held(&vmap_lock);
	struct kmm_vmap_area *prev = lazy_neighbour(va, false), *next = lazy_neighbour(va, true);
	bool merge_prev = prev != NULL, merge_next = next != NULL;
	if (merge_prev)
		unlazy(prev);
	if (merge_next)
		unlazy(next);
	if (merge_prev || merge_next) {
		/* the guard pages are ours: their areas are off the purge list */
		kmm_unlock_if(&vmap_lock, locked);
		uintptr_t g = prev != NULL ? prev->va_end - PAGE : 0;
		if (merge_prev && sys_commit((void *)g, PAGE) != 0) {
			sys_reserve((void *)g, PAGE);
			merge_prev = false;
		}
		g = va->va_end - PAGE;
		if (merge_next && sys_commit((void *)g, PAGE) != 0) {
			sys_reserve((void *)g, PAGE);
			merge_next = false;
		}
		locked = kmm_lock_fork_aware(&vmap_lock);
	}
	struct kmm_vmap_area *m = va;
	struct kmm_vmap_area *parts[2] = { merge_prev ? prev : NULL, merge_next ? next : NULL };
	for (int i = 0; i < 2; i++) {
		if (parts[i] == NULL)
			continue;
		struct kmm_vmap_area *lo = i == 0 ? parts[i] : m, *hi = i == 0 ? m : parts[i];
		lo->va_end = hi->va_end;
		kmm_rb_erase(&hi->rb_node, &busy_root);
		kmm_region_del(&hi->region);
		kmm_kfree(hi->vm);
		kmm_kmem_cache_free(vmap_area_cachep, hi);
		m = lo;
		vst.merged_areas++;
	}
	if (merge_prev || merge_next) {
		struct kmm_vm_struct *vm = m->vm;
		size_t pages = va_size(m) / PAGE - 1;
		vm->nr_pages = (unsigned)pages;
		vm->size = va_size(m);
		vm->addr = (void *)m->va_start;
		vm->requested_size = pages * PAGE;
		vm->dirty_pages = (unsigned)pages;
		vm->used = true;
		kmm_region_update(&m->region, m->va_start, m->va_start + pages * PAGE);
	}
	/* neighbours that could not be merged go back as they were */
	struct kmm_vmap_area *back[3] = { prev != NULL && !merge_prev ? prev : NULL, m,
					   next != NULL && !merge_next ? next : NULL };
	for (int i = 0; i < 3; i++) {
		if (back[i] == NULL)
			continue;
		back[i]->state = KMM_VA_LAZY;
		kmm_list_add_tail(&back[i]->list, &purge_list);
		lazy_bytes += va_size(back[i]);
		lazy_areas++;
	}
	return locked;
}

/* vfree.  `now`: purge the area at once (a batch of its own) instead of
 * leaving it lazily freed — for frames areas too big for the lazy pool,
 * whose frames the buddy allocator caches better (vmalloc.h), for pages[]
 * arrays freed while purging (so a purge leaves nothing lazy behind), and
 * for a demand-paged area bigger than the whole pool. */
static size_t vfree_area(const void *addr, bool now)
{
	if (addr == NULL)
		return 0;
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	struct kmm_vmap_area *va = find_area_locked(addr, "free()");
	size_t bytes = va->vm->nr_pages * PAGE;
	KMM_TRACE(KMM_TR_VFREE, 0, 0, 0, bytes + PAGE, addr, 0);   /* with its guard page, as vmalloc's */
	va->vm->used = true;   /* contents now unknown: see kmm_vmalloc_zero */
	va->vm->dirty_pages = va->vm->nr_pages;
	busy_areas--;
	busy_bytes -= bytes;
	vst.frees++;
	note_free(bytes);
	if (!now && va_size(va) > (va->vm->demand ? lazy_limit() : lazy_limit() / 4))
		now = true;
	struct kmm_list batch;
	kmm_list_init(&batch);
	bool purge = false;
	if (now) {
		va->state = KMM_VA_PURGING;
		kmm_list_add_tail(&va->list, &batch);
		vst.purges++;
	} else if (va->vm->demand) {
		va->state = KMM_VA_PURGING;
		locked = lazy_add_merged(va, locked);
		purge = lazy_bytes > lazy_limit();
	} else {
		va->state = KMM_VA_LAZY;
		kmm_list_add_tail(&va->list, &purge_list);
		lazy_bytes += va_size(va);
		lazy_areas++;
		purge = lazy_bytes > lazy_limit();
	}
	size_t buddy_target = purge ? 0 : buddy_target_update();
	kmm_unlock_if(&vmap_lock, locked);
	if (buddy_target != 0)
		kmm_buddy_set_cache_target(buddy_target);
	if (now)
		purge_batch(&batch);
	else if (purge)
		kmm_vmalloc_purge(false);
	return bytes;
}

size_t kmm_vfree(const void *addr)
{
	return vfree_area(addr, false);
}

size_t kmm_vmalloc_purge(bool all)
{
	struct kmm_list batch;
	kmm_list_init(&batch);

	bool locked = kmm_lock_fork_aware(&vmap_lock);
	/* frames: down to half the limit, a batch of mremap calls at once;
	 * demand: purging costs a call per area and drops resident pages, so
	 * only down to the limit */
	size_t target = all ? 0 : kmm_vmalloc_params.frames ? lazy_limit() / 2 : lazy_limit();
	while (!kmm_list_empty(&purge_list) && (all || lazy_bytes > target)) {
		struct kmm_vmap_area *va = kmm_list_entry(purge_list.next, struct kmm_vmap_area, list);
		kmm_list_del(&va->list);
		kmm_list_add_tail(&va->list, &batch);
		va->state = KMM_VA_PURGING;
		lazy_bytes -= va_size(va);
		lazy_areas--;
	}
	if (!kmm_list_empty(&batch))
		vst.purges++;
	size_t buddy_target = buddy_target_update();
	kmm_unlock_if(&vmap_lock, locked);
	if (buddy_target != 0)
		kmm_buddy_set_cache_target(buddy_target);
	return purge_batch(&batch);
}

size_t kmm_vmalloc_requested(const void *addr)
{
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	struct kmm_vmap_area *va = busy_find((uintptr_t)addr);
	size_t n = 0;
	if (va != NULL && va->va_start == (uintptr_t)addr && va->state == KMM_VA_BUSY && va->vm != NULL)
		n = va->vm->requested_size;
	kmm_unlock_if(&vmap_lock, locked);
	return n;
}

size_t kmm_vmalloc_size(const void *addr)
{
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	struct kmm_vmap_area *va = busy_find((uintptr_t)addr);
	size_t n = 0;
	if (va != NULL && va->va_start == (uintptr_t)addr && va->state == KMM_VA_BUSY && va->vm != NULL)
		n = va->vm->nr_pages * PAGE;
	kmm_unlock_if(&vmap_lock, locked);
	return n;
}

size_t kmm_vmalloc_size_try(const void *addr)
{
	if (!kmm_trylock(&vmap_lock))
		return 0;
	struct kmm_vmap_area *va = busy_find((uintptr_t)addr);
	size_t n = 0;
	if (va != NULL && va->va_start == (uintptr_t)addr && va->state == KMM_VA_BUSY && va->vm != NULL)
		n = va->vm->nr_pages * PAGE;
	kmm_unlock(&vmap_lock);
	return n;
}

/* Describe [start, end) (the old range of a moved area, its pages still
 * mapped and resident) by node and vm and put it in the lazy pool, merged
 * with its lazily freed neighbours.  Lock held; `locked` as
 * kmm_lock_fork_aware said; returns it. */
static bool lazy_old_range(struct kmm_vmap_area *node, struct kmm_vm_struct *vm, uintptr_t start, uintptr_t end,
			   const void *caller, bool locked)
{
	kmm_lock_assert_held(&vmap_lock);
	size_t pages = (end - start) / PAGE - 1;
	memset(vm, 0, sizeof *vm);
	vm->addr = (void *)start;
	vm->size = end - start;
	vm->requested_size = pages * PAGE;
	vm->flags = KMM_VM_ALLOC;
	vm->nr_pages = (unsigned)pages;
	vm->dirty_pages = (unsigned)pages;
	vm->caller = caller;
	vm->demand = true;
	vm->used = true;
	kmm_rb_clear_node(&node->rb_node);
	node->va_start = start;
	node->va_end = end;
	node->vm = vm;
	node->state = KMM_VA_PURGING;
	busy_insert(node);
	kmm_region_add(&node->region, KMM_REGION_VMALLOC_AREA, start, start + pages * PAGE, KMM_PROT_R | KMM_PROT_W,
		       KMM_POPULATE_DEMAND);
	return lazy_add_merged(node, locked);
}

/* Grow the busy demand-paged area va from old_pages to new_pages (or to
 * `reserve` pages where that fits as well).  Called with the lock held
 * (`locked` as kmm_lock_fork_aware said), returns without it.
 *
 *   in place     the range after the guard page is free: one mmap makes
 *                [old guard page, new end) read-write; the first page of
 *                the free range past it stays PROT_NONE, the new guard page
 *   over a lazy  the lazily freed area after the guard page is taken over:
 *   neighbour    one mmap makes the guard page between them read-write
 *   moved        into the smallest lazily freed area that fits (its pages
 *                resident), else into a new range made read-write (one
 *                mmap).  Into a lazily freed area up to move_copy_max (64
 *                MiB), into a new range up to 1 MiB, the contents are
 *                copied and the old range, its pages still resident, joins
 *                the lazy pool; else the area moves its page tables (mremap,
 *                MREMAP_DONTUNMAP: no moment where the old range is
 *                unmapped and some other mmap could land in it) and the
 *                old range is re-reserved PROT_NONE (mmap) and freed.  If
 *                the kernel cannot move the pages (the area is not a single
 *                mapping on a kernel before 6.17, say after a fork) they
 *                are copied. */
static void *grow_demand(struct kmm_vmap_area *va, size_t old_pages, size_t new_pages, size_t reserve,
			 unsigned flags, size_t new_size, bool locked)
{
	kmm_lock_assert_held(&vmap_lock);
	struct kmm_vm_struct *vm = va->vm;
	/* a descriptor for the old range of an area moved by copying */
	struct kmm_vmap_area *spare_va = NULL;
	struct kmm_vm_struct *spare_vm = NULL;
	size_t want = new_pages;
again:
	new_pages = want;
	bool in_place = true;
	if (reserve > new_pages && take_range_at(va->va_end, (reserve - old_pages) * PAGE))
		new_pages = reserve;
	else if (!take_range_at(va->va_end, (new_pages - old_pages) * PAGE))
		in_place = false;
	struct kmm_vmap_area *nb = in_place ? NULL : lazy_neighbour(va, true);
	if (nb != NULL && nb->va_end - va->va_start >= (new_pages + 1) * PAGE) {
		/* into the lazily freed area that follows: its pages (resident,
		 * no fault) become the area's, after one mmap makes the guard
		 * page between them read-write */
		unlazy(nb);
		vm->flags |= KMM_VM_RESIZING;
		kmm_unlock_if(&vmap_lock, locked);
		bool ok = sys_commit((void *)(va->va_end - PAGE), PAGE) == 0;
		if (!ok)
			sys_reserve((void *)(va->va_end - PAGE), PAGE);
		locked = kmm_lock_fork_aware(&vmap_lock);
		if (ok) {
			size_t before = vm->nr_pages;
			va->va_end = nb->va_end;
			kmm_rb_erase(&nb->rb_node, &busy_root);
			kmm_region_del(&nb->region);
			kmm_kfree(nb->vm);
			kmm_kmem_cache_free(vmap_area_cachep, nb);
			size_t pages = va_size(va) / PAGE - 1;
			vm->nr_pages = (unsigned)pages;
			vm->size = va_size(va);
			vm->requested_size = new_size;
			/* (the pages it took may hold old data) */
			vm->dirty_pages = (unsigned)pages;
			busy_bytes += (pages - before) * PAGE;
			vst.grown_in_place++;
			vst.grown_into_lazy++;
			vm->flags &= ~KMM_VM_RESIZING;
			uintptr_t start = va->va_start;
			kmm_region_update(&va->region, start, start + pages * PAGE);
			kmm_unlock_if(&vmap_lock, locked);
			kmm_kfree(spare_vm);
			if (spare_va != NULL)
				kmm_kmem_cache_free(vmap_area_cachep, spare_va);
			/* more than the reserve: the excess stays lazily freed */
			size_t excess = pages > reserve ? pages - reserve : 0;
			if (excess > reserve / 4 && excess * PAGE >= ((size_t)64 << 10))
				split_demand(va, reserve);
			return (void *)start;
		}
		nb->state = KMM_VA_LAZY;
		kmm_list_add_tail(&nb->list, &purge_list);
		lazy_bytes += va_size(nb);
		lazy_areas++;
		vm->flags &= ~KMM_VM_RESIZING;
	}
	if (!in_place && !(flags & VR_MAY_MOVE)) {
		kmm_unlock_if(&vmap_lock, locked);
		kmm_kfree(spare_vm);
		if (spare_va != NULL)
			kmm_kmem_cache_free(vmap_area_cachep, spare_va);
		errno = ENOMEM;
		return NULL;
	}
	if (!in_place)
		new_pages = reserve;
	struct kmm_vmap_area *dest = in_place ? NULL : lazy_best_fit((new_pages + 1) * PAGE, PAGE, true);
	/* copy into resident pages (a lazily freed area) up to
	 * move_copy_max; into a new range, where the copy faults every page
	 * in, only up to 1 MiB (bench/bigrealloc, buffers of 8..32 MiB grown
	 * in steps of 64..128 KiB: 0.83x glibc's CPU time so, 1.2x copying
	 * into new ranges up to 64 MiB, 1.05x moving page tables always) */
	size_t fresh_max = kmm_vmalloc_params.move_copy_max < ((size_t)1 << 20) ? kmm_vmalloc_params.move_copy_max
										: ((size_t)1 << 20);
	bool copy = !(flags & VR_NO_COPY) &&
		    old_pages * PAGE <= (dest != NULL ? kmm_vmalloc_params.move_copy_max : fresh_max);
	if (!in_place && dest == NULL && copy && spare_vm == NULL) {
		/* the old range will need a descriptor of its own: allocate
		 * it without the lock, then decide again */
		kmm_unlock_if(&vmap_lock, locked);
		spare_vm = kmm_kmalloc(sizeof *spare_vm);
		spare_va = spare_vm != NULL ? alloc_va_node() : NULL;
		locked = kmm_lock_fork_aware(&vmap_lock);
		if (spare_va != NULL)
			goto again;
		kmm_kfree(spare_vm);
		spare_vm = NULL;
		copy = false;   /* no memory for it: re-reserve the old range */
	}
	size_t extra = new_pages - old_pages;
	uintptr_t old_start = va->va_start, old_end = va->va_end;
	bool trim = false;
	vm->flags |= KMM_VM_RESIZING;

	if (in_place) {
		va->va_end += extra * PAGE;
		kmm_unlock_if(&vmap_lock, locked);
		if (sys_commit((void *)(old_start + old_pages * PAGE), extra * PAGE) != 0) {
			/* the old guard page and what follows: PROT_NONE again */
			sys_reserve((void *)(old_start + old_pages * PAGE), extra * PAGE);
			locked = kmm_lock_fork_aware(&vmap_lock);
			va->va_end = old_end;
			free_range(old_end, old_end + extra * PAGE, NULL);
			vm->flags &= ~KMM_VM_RESIZING;
			kmm_unlock_if(&vmap_lock, locked);
			errno = ENOMEM;
			return NULL;
		}
		locked = kmm_lock_fork_aware(&vmap_lock);
		busy_bytes += extra * PAGE;
		vst.grown_in_place++;
	} else if (dest != NULL) {
		/* moved into a lazily freed area big enough: its pages are
		 * resident, for the contents and the appends that follow */
		unlazy(dest);
		kmm_unlock_if(&vmap_lock, locked);
		void *old_p = (void *)old_start, *new_p = (void *)dest->va_start;
		if (copy)
			memcpy(new_p, old_p, old_pages * PAGE);
		else {
			if (sys_move(old_p, new_p, old_pages * PAGE) != 0)
				memcpy(new_p, old_p, old_pages * PAGE);
			sys_reserve(old_p, old_pages * PAGE);
		}
		locked = kmm_lock_fork_aware(&vmap_lock);
		uintptr_t d_start = dest->va_start, d_end = dest->va_end;
		kmm_rb_erase(&va->rb_node, &busy_root);
		kmm_rb_erase(&dest->rb_node, &busy_root);
		/* the regions follow before either range is given to others */
		kmm_region_del(&dest->region);
		va->va_start = d_start;
		va->va_end = d_end;
		busy_insert(va);
		new_pages = va_size(va) / PAGE - 1;
		extra = new_pages - old_pages;
		kmm_region_update(&va->region, va->va_start, va->va_start + new_pages * PAGE);
		vm->dirty_pages = (unsigned)new_pages;
		busy_bytes += extra * PAGE;
		vst.moved++;
		vst.moved_into_lazy++;
		trim = true;
		if (copy) {
			/* dest's descriptors now describe the old range, lazy */
			locked = lazy_old_range(dest, dest->vm, old_start, old_end, vm->caller, locked);
		} else {
			kmm_kfree(dest->vm);
			kmm_kmem_cache_free(vmap_area_cachep, dest);
			free_range(old_start, old_end, NULL);
		}
	} else {
		size_t need = (new_pages + 1) * PAGE;
		uintptr_t new_start = alloc_range(need);
		if (new_start == 0 && add_space(need))
			new_start = alloc_range(need);
		if (new_start == 0) {
			vm->flags &= ~KMM_VM_RESIZING;
			kmm_unlock_if(&vmap_lock, locked);
			kmm_kfree(spare_vm);
			if (spare_va != NULL)
				kmm_kmem_cache_free(vmap_area_cachep, spare_va);
			errno = ENOMEM;
			return NULL;
		}
		struct inflight moving = { new_start, new_start + need, { NULL, NULL } };
		kmm_list_add(&moving.link, &inflight_list);
		kmm_unlock_if(&vmap_lock, locked);

		void *old_p = (void *)old_start, *new_p = (void *)new_start;
		bool ok;
		if (copy) {
			ok = sys_commit(new_p, new_pages * PAGE) == 0;
			if (ok)
				memcpy(new_p, old_p, old_pages * PAGE);
		} else {
			ok = sys_commit((void *)(new_start + old_pages * PAGE), extra * PAGE) == 0;
			if (ok && sys_move(old_p, new_p, old_pages * PAGE) != 0) {
				/* copy instead */
				ok = sys_commit(new_p, old_pages * PAGE) == 0;
				if (ok)
					memcpy(new_p, old_p, old_pages * PAGE);
			}
		}
		if (!ok) {
			sys_reserve(new_p, new_pages * PAGE);
			locked = kmm_lock_fork_aware(&vmap_lock);
			kmm_list_del(&moving.link);
			free_range(new_start, new_start + need, NULL);
			vm->flags &= ~KMM_VM_RESIZING;
			kmm_unlock_if(&vmap_lock, locked);
			kmm_kfree(spare_vm);
			if (spare_va != NULL)
				kmm_kmem_cache_free(vmap_area_cachep, spare_va);
			errno = ENOMEM;
			return NULL;
		}
		/* moved page tables: the old range is empty, PROT_NONE again */
		if (!copy)
			sys_reserve(old_p, old_pages * PAGE);
		locked = kmm_lock_fork_aware(&vmap_lock);
		kmm_rb_erase(&va->rb_node, &busy_root);
		kmm_list_del(&moving.link);
		va->va_start = new_start;
		va->va_end = new_start + need;
		busy_insert(va);
		/* the region moves before the old range is free for others
		 * (region lock nests inside vmap_lock) */
		kmm_region_update(&va->region, new_start, new_start + new_pages * PAGE);
		busy_bytes += extra * PAGE;
		vst.moved++;
		if (copy) {
			locked = lazy_old_range(spare_va, spare_vm, old_start, old_end, vm->caller, locked);
			spare_va = NULL;
			spare_vm = NULL;
		} else {
			free_range(old_start, old_end, NULL);
		}
	}
	vm->addr = (void *)va->va_start;
	vm->nr_pages = (unsigned)new_pages;
	vm->size = (new_pages + 1) * PAGE;
	vm->requested_size = new_size;
	vm->flags &= ~KMM_VM_RESIZING;
	uintptr_t start = va->va_start;
	bool purge = lazy_bytes > lazy_limit();
	kmm_unlock_if(&vmap_lock, locked);
	kmm_kfree(spare_vm);
	if (spare_va != NULL)
		kmm_kmem_cache_free(vmap_area_cachep, spare_va);
	if (kmm_vmalloc_params.populate && !trim)
		populate(start + old_pages * PAGE, extra * PAGE);
	kmm_region_update(&va->region, start, start + new_pages * PAGE);
	/* a lazily freed area taken whole: its excess beyond the reserve
	 * stays lazily freed */
	if (trim) {
		size_t excess = new_pages - reserve;
		if (new_pages > reserve && excess > reserve / 4 && excess * PAGE >= ((size_t)64 << 10))
			split_demand(va, reserve);
	}
	/* the old range joined the lazy pool */
	if (purge)
		kmm_vmalloc_purge(false);
	return (void *)start;
}

/* A frames area's growth that could not be completed (no frames, or out
 * of mappings): the range claimed for it goes back (in place: the
 * extension; moving: the new range), the area is no longer resizing, and
 * realloc fails with ENOMEM, the block as it was.  Takes vmap_lock. */
static void *grow_abandoned(struct kmm_vmap_area *va, struct kmm_vm_struct *vm, bool in_place, size_t extra,
			    uintptr_t new_start, size_t new_pages, struct inflight *moving)
{
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	if (in_place) {
		va->va_end -= extra * PAGE;
		free_range(va->va_end, va->va_end + extra * PAGE, NULL);
	} else {
		kmm_list_del(&moving->link);
		free_range(new_start, new_start + (new_pages + 1) * PAGE, NULL);
	}
	vm->flags &= ~KMM_VM_RESIZING;
	kmm_unlock_if(&vmap_lock, locked);
	errno = ENOMEM;
	return NULL;
}

/* kmm_vrealloc (flags VR_MAY_MOVE), and without it the in-place growth
 * that vmalloc_node uses for a lazily freed area (NULL if the range after
 * the area is taken). */
static void *vrealloc_area(void *addr, size_t new_size, unsigned flags)
{
	bool may_move = (flags & VR_MAY_MOVE) != 0;
	size_t new_pages = KMM_ALIGN_UP(new_size, PAGE) / PAGE;
	if (new_size == 0 || new_size > ((size_t)1 << 46)) {
		errno = ENOMEM;
		return NULL;
	}
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	struct kmm_vmap_area *va = find_area_locked(addr, "realloc()");
	struct kmm_vm_struct *vm = va->vm;
	size_t old_pages = vm->nr_pages;

	if (new_pages <= old_pages) {
		vm->requested_size = new_size;
		kmm_unlock_if(&vmap_lock, locked);
		/* give back an excess beyond the quarter a growing area is
		 * over-reserved by (below), and only 64 KiB or more: a buffer
		 * that shrinks a little, or grows within its reserve, keeps
		 * its frames */
		size_t excess = old_pages - new_pages;
		if (excess > new_pages / 4 && excess * PAGE >= ((size_t)64 << 10))
			shrink_area(va, new_pages);
		return addr;
	}
	/* grow by a quarter at least: buffers grown step by step (realloc
	 * loops) then find the room already mapped, and an untouched page
	 * costs neither memory nor a fault */
	size_t reserve = old_pages + old_pages / 4;
	if (reserve < new_pages || (flags & VR_EXACT))
		reserve = new_pages;
	if (vm->demand)
		return grow_demand(va, old_pages, new_pages, reserve, flags, new_size, locked);
	/* in place: the range right after the guard page is free (for the
	 * reserve, else for what was asked); the area covers it at once (its
	 * size and pages[] catch up below) */
	struct inflight moving = { 0, 0, { NULL, NULL } };
	bool in_place = true;
	if (take_range_at(va->va_end, (reserve - old_pages) * PAGE))
		new_pages = reserve;
	else if (!take_range_at(va->va_end, (new_pages - old_pages) * PAGE))
		in_place = false;
	if (!in_place && !may_move) {
		kmm_unlock_if(&vmap_lock, locked);
		errno = ENOMEM;
		return NULL;
	}
	if (!in_place)
		new_pages = reserve;
	size_t extra = new_pages - old_pages;
	uintptr_t new_start = 0;
	vm->flags |= KMM_VM_RESIZING;
	if (in_place) {
		va->va_end += extra * PAGE;
	} else {
		new_start = alloc_range((new_pages + 1) * PAGE);
		if (new_start == 0 && add_space((new_pages + 1) * PAGE))
			new_start = alloc_range((new_pages + 1) * PAGE);
		if (new_start == 0) {
			vm->flags &= ~KMM_VM_RESIZING;
			kmm_unlock_if(&vmap_lock, locked);
			errno = ENOMEM;
			return NULL;
		}
		moving.start = new_start;
		moving.end = new_start + (new_pages + 1) * PAGE;
		kmm_list_add(&moving.link, &inflight_list);
	}
	kmm_unlock_if(&vmap_lock, locked);

	/* everything that may fail first: a bigger pages[] if needed, and the
	 * frames */
	bool vmalloced = vm->pages_vmalloced;
	unsigned cap = vm->pages_capacity;
	struct kmm_page **pages = vm->pages;
	if (new_pages > cap)
		pages = alloc_pages_array(new_pages, &vmalloced, &cap);
	if (pages == NULL || !alloc_frames(pages + old_pages, extra)) {
		if (pages != NULL && pages != vm->pages)
			free_pages_array(pages, vmalloced);
		return grow_abandoned(va, vm, in_place, extra, new_start, new_pages, &moving);
	}
	if (pages != vm->pages) {
		memcpy(pages, vm->pages, old_pages * sizeof *pages);
		free_pages_array(vm->pages, vm->pages_vmalloced);
		vm->pages = pages;
		vm->pages_vmalloced = vmalloced;
		vm->pages_capacity = cap;
	}

	uintptr_t old_start = va->va_start;
	if (in_place) {
		/* the old guard page becomes data, a new one follows */
		if (!map_frames(pages + old_pages, extra, old_start + old_pages * PAGE)) {
			/* out of mappings: the guard page again, the range back */
			sys_reserve((void *)(old_start + old_pages * PAGE), extra * PAGE);
			return grow_abandoned(va, vm, true, extra, new_start, new_pages, &moving);
		}
		locked = kmm_lock_fork_aware(&vmap_lock);
		busy_bytes += extra * PAGE;
		vst.grown_in_place++;
		kmm_unlock_if(&vmap_lock, locked);
	} else {
		/* move: page tables move, contents are not copied; the new
		 * frames first, so that running out of mappings there costs
		 * nothing but them */
		if (!map_frames(pages + old_pages, extra, new_start + old_pages * PAGE)) {
			sys_reserve((void *)(new_start + old_pages * PAGE), extra * PAGE);
			return grow_abandoned(va, vm, false, extra, new_start, new_pages, &moving);
		}
		if (!move_runs(pages, old_pages, old_start, new_start)) {
			/* out of mappings half way: the moved runs go back
			 * (move_runs did), the new frames home */
			release_frames(pages + old_pages, extra, new_start + old_pages * PAGE);
			sys_reserve((void *)new_start, new_pages * PAGE);
			return grow_abandoned(va, vm, false, extra, new_start, new_pages, &moving);
		}
		sys_reserve((void *)old_start, old_pages * PAGE);
		locked = kmm_lock_fork_aware(&vmap_lock);
		kmm_rb_erase(&va->rb_node, &busy_root);
		kmm_list_del(&moving.link);
		uintptr_t old_end = va->va_end;
		va->va_start = new_start;
		va->va_end = new_start + (new_pages + 1) * PAGE;
		busy_insert(va);
		/* the region moves before the old range is free for others
		 * (region lock nests inside vmap_lock) */
		kmm_region_update(&va->region, new_start, new_start + new_pages * PAGE);
		free_range(old_start, old_end, NULL);
		busy_bytes += extra * PAGE;
		vst.moved++;
		kmm_unlock_if(&vmap_lock, locked);
	}
	locked = kmm_lock_fork_aware(&vmap_lock);
	vm->addr = (void *)va->va_start;
	vm->nr_pages = (unsigned)new_pages;
	vm->size = (new_pages + 1) * PAGE;
	vm->requested_size = new_size;
	vm->flags &= ~KMM_VM_RESIZING;
	kmm_unlock_if(&vmap_lock, locked);
	if (kmm_vmalloc_params.populate)
		populate(va->va_start + old_pages * PAGE, extra * PAGE);
	kmm_region_update(&va->region, va->va_start, va->va_start + new_pages * PAGE);
	return (void *)va->va_start;
}

void *kmm_vrealloc(void *addr, size_t new_size)
{
	size_t old = kmm_trace_on ? kmm_vmalloc_size(addr) : 0;
	void *p = vrealloc_area(addr, new_size, VR_MAY_MOVE);
	if (KMM_UNLIKELY(kmm_trace_on) && p != NULL)
		kmm_trace_event(KMM_TR_VREALLOC, 0, 0, (uintptr_t)p, kmm_vmalloc_size(p) + PAGE, (uintptr_t)addr,
				old + PAGE);
	return p;
}

/* Spans of a reused demand-paged area at least this long are cleared with
 * MADV_DONTNEED (one call; the pages fault in zero-filled if touched
 * again) rather than memset.  A fault costs far more than clearing a
 * resident page (about 9 us against 0.2 us in the VM this was measured in),
 * and a calloc'ed block is usually written all over: bench/calloc-mix
 * (calloc of up to 4 MiB, every page written) faulted 86000 times with
 * 1 MiB here, 11900 with 4 MiB and 10000 with memset only.  Above 8 MiB
 * the span is cleared by the kernel: a big reused area may be mostly
 * untouched (memset would fault all of it in), and then its pages are
 * given back instead of pinned. */
#ifndef VMALLOC_ZERO_ADVISE_MIN
#define VMALLOC_ZERO_ADVISE_MIN ((size_t)8 << 20)
#endif

/* Zero [lo, hi) of a demand-paged area: memset, or for a long span
 * MADV_DONTNEED of its whole pages and memset of the partial ones at its
 * ends. */
static void zero_demand(uintptr_t lo, uintptr_t hi)
{
	if (hi - lo >= VMALLOC_ZERO_ADVISE_MIN) {
		uintptr_t a = KMM_ALIGN_UP(lo, PAGE), b = hi & ~(uintptr_t)(PAGE - 1);
		if (sys_advise((void *)a, b - a, MADV_DONTNEED) == 0) {
			__atomic_add_fetch(&vst.zero_advised, (b - a) / PAGE, __ATOMIC_RELAXED);
			memset((void *)lo, 0, a - lo);
			memset((void *)b, 0, hi - b);
			return;
		}
	}
	memset((void *)lo, 0, hi - lo);
}

void kmm_vmalloc_zero(const void *area, void *from, size_t len)
{
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	struct kmm_vmap_area *va = find_area_locked(area, "calloc()");
	struct kmm_vm_struct *vm = va->vm;
	kmm_unlock_if(&vmap_lock, locked);
	if (vm->demand) {
		/* only the pages that may hold old data: a new area, or the
		 * part a reused one grew by, is demand-zero */
		uintptr_t lo = (uintptr_t)from, hi = lo + len;
		uintptr_t dirty_end = va->va_start + (uintptr_t)vm->dirty_pages * PAGE;
		if (hi > dirty_end)
			hi = dirty_end;
		if (lo < hi)
			zero_demand(lo, hi);
		return;
	}
	if (vm->used) {
		memset(from, 0, len);
		return;
	}
	/* page by page: only those that may hold data */
	uintptr_t lo = (uintptr_t)from, hi = lo + len, base = va->va_start;
	while (lo < hi) {
		size_t i = (lo - base) / PAGE;
		uintptr_t page_end = base + (i + 1) * PAGE;
		uintptr_t end = page_end < hi ? page_end : hi;
		if (i >= vm->nr_pages || (vm->pages[i]->flags & KMM_PG_DIRTY))
			memset((void *)lo, 0, end - lo);
		lo = end;
	}
}

/* ---- statistics and reports ------------------------------------------------------- */

KMM_COLD void kmm_vmalloc_stats(struct kmm_vmalloc_stats *st)
{
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	*st = vst;
	st->cache_budget = cache_budget;
	st->lazy_limit = lazy_limit();
	st->spaces = nr_spaces;
	st->space_bytes = space_bytes;
	st->busy_areas = busy_areas;
	st->busy_bytes = busy_bytes;
	st->lazy_areas = lazy_areas;
	st->lazy_bytes = lazy_bytes;
	st->free_ranges = 0;
	st->free_bytes = 0;
	for (struct kmm_rb_node *n = kmm_rb_first(&free_root); n != NULL; n = kmm_rb_next(n)) {
		st->free_ranges++;
		st->free_bytes += va_size(VA(n));
	}
	kmm_unlock_if(&vmap_lock, locked);
}

/* "main+0x2a" for a return address, like the kernel's %pS */
static void print_caller(struct kmm_buf *b, const void *caller)
{
	Dl_info info;
	/* kmm's own callers have hidden symbols dladdr cannot name */
	if (caller == (const void *)alloc_pages_array) {
		kmm_buf_puts(b, "vmalloc:pages[]");
		return;
	}
	if (caller != NULL && dladdr(caller, &info) != 0 && info.dli_sname != NULL) {
		kmm_buf_printf(b, "%s+%#lx", info.dli_sname,
			       (unsigned long)((const char *)caller - (const char *)info.dli_saddr));
		return;
	}
	if (caller != NULL && dladdr(caller, &info) != 0 && info.dli_fname != NULL) {
		const char *base = strrchr(info.dli_fname, '/');
		kmm_buf_printf(b, "%s+%#lx", base ? base + 1 : info.dli_fname,
			       (unsigned long)((const char *)caller - (const char *)info.dli_fbase));
		return;
	}
	kmm_buf_printf(b, "%p", caller);
}

KMM_COLD void kmm_vmalloc_report_vmallocinfo(struct kmm_buf *b)
{
	struct row {
		uintptr_t start, end;
		const void *caller;
		size_t pages;
		uint8_t state;
	} batch[32];
	uintptr_t next = 0;
	for (;;) {
		int n = 0;
		bool locked = kmm_lock_fork_aware(&vmap_lock);
		for (struct kmm_rb_node *nd = kmm_rb_first(&busy_root); nd != NULL && n < 32; nd = kmm_rb_next(nd)) {
			struct kmm_vmap_area *va = VA(nd);
			if (va->va_start < next || va->vm == NULL)
				continue;
			batch[n++] = (struct row){ va->va_start, va->va_end, va->vm->caller, va->vm->nr_pages,
						   va->state };
		}
		kmm_unlock_if(&vmap_lock, locked);
		if (n == 0)
			break;
		for (int i = 0; i < n; i++) {
			struct row *r = &batch[i];
			long res = kmm_os_resident_pages((void *)r->start, r->pages * PAGE);
			kmm_buf_printf(b, "0x%016lx-0x%016lx %8zu ", (unsigned long)r->start, (unsigned long)r->end,
				       (size_t)(r->end - r->start));
			print_caller(b, r->caller);
			kmm_buf_printf(b, " pages=%zu resident=%ld vmalloc%s\n", r->pages, res,
				       r->state == KMM_VA_LAZY ? " lazy-freed" : "");
		}
		next = batch[n - 1].start + 1;
	}
}

/* ---- invariant checker ------------------------------------------------------------- */

static void vbad(int verbose, int *errors, const char *fmt, ...) KMM_PRINTF(3, 4);
static KMM_COLD void vbad(int verbose, int *errors, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kmm_check_vfail(verbose, errors, "vmalloc", fmt, ap);
	va_end(ap);
}

/* the oracle: subtree_max_size recomputed from scratch */
static size_t recompute(struct kmm_rb_node *n, int verbose, int *errors)
{
	if (n == NULL)
		return 0;
	size_t l = recompute(n->left, verbose, errors), r = recompute(n->right, verbose, errors);
	size_t m = va_size(VA(n));
	if (l > m)
		m = l;
	if (r > m)
		m = r;
	if (VA(n)->subtree_max_size != m)
		vbad(verbose, errors, "free range %#lx: subtree_max_size %zu, recomputed %zu",
		     (unsigned long)VA(n)->va_start, VA(n)->subtree_max_size, m);
	return m;
}

KMM_COLD uintptr_t kmm_vmalloc_lowest_match(size_t size, bool linear)
{
	bool locked = kmm_lock_fork_aware(&vmap_lock);
	struct kmm_vmap_area *va = linear ? find_lowest_linear(size) : find_lowest_match(size);
	uintptr_t r = va ? va->va_start : 0;
	kmm_unlock_if(&vmap_lock, locked);
	return r;
}

/* end of an in-flight range starting at `at`, or 0.  Lock held. */
static uintptr_t inflight_at(uintptr_t at)
{
	kmm_lock_assert_held(&vmap_lock);
	for (struct kmm_list *l = inflight_list.next; l != &inflight_list; l = l->next) {
		struct inflight *r = kmm_list_entry(l, struct inflight, link);
		if (r->start == at)
			return r->end;
	}
	return 0;
}

KMM_COLD int kmm_vmalloc_check(int verbose)
{
	int errors = 0;
	const char *why;
	bool locked = kmm_lock_fork_aware(&vmap_lock);

	if (kmm_rb_check(&busy_root, &why) != 0)
		vbad(verbose, &errors, "busy tree: %s", why);
	if (kmm_rb_check(&free_root, &why) != 0)
		vbad(verbose, &errors, "free tree: %s", why);
	recompute(free_root.node, verbose, &errors);

	/* lowest and highest match against linear scans, for sizes around
	 * those present */
	size_t probes[] = { PAGE, 2 * PAGE, 64 * PAGE, (size_t)1 << 20, (size_t)8 << 20, (size_t)64 << 20,
			    (size_t)1 << 30, (size_t)64 << 30 };
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
		if (find_lowest_match(probes[i]) != find_lowest_linear(probes[i]))
			vbad(verbose, &errors, "lowest match for %zu differs from the linear scan", probes[i]);
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
		if (find_highest_match(probes[i]) != find_highest_linear(probes[i]))
			vbad(verbose, &errors, "highest match for %zu differs from the linear scan", probes[i]);

	/* busy/lazy and free ranges tile every space exactly */
	size_t lazy = 0, nlazy = 0, nbusy = 0, mapped = 0, total = 0;
	bool in_flux = false;   /* another thread is resizing an area */
	for (struct vm_space *sp = spaces; sp != NULL; sp = sp->next) {
		uintptr_t at = sp->start;
		struct kmm_rb_node *b = kmm_rb_first(&busy_root), *f = kmm_rb_first(&free_root);
		while (b != NULL && VA(b)->va_start < sp->start)
			b = kmm_rb_next(b);
		while (f != NULL && VA(f)->va_start < sp->start)
			f = kmm_rb_next(f);
		while (at < sp->end) {
			struct kmm_vmap_area *va;
			if (b != NULL && VA(b)->va_start == at) {
				va = VA(b);
				b = kmm_rb_next(b);
				if (va->state == KMM_VA_LAZY) {
					lazy += va_size(va);
					nlazy++;
				} else if (va->state == KMM_VA_BUSY) {
					nbusy++;
				} else if (va->state == KMM_VA_PURGING) {
					/* another thread is purging it */
				} else {
					vbad(verbose, &errors, "busy tree holds a free area at %#lx", (unsigned long)at);
				}
				if (va->vm != NULL && (va->vm->flags & KMM_VM_RESIZING))
					in_flux = true;
				if (va->vm != NULL && va->state != KMM_VA_PURGING &&
				    !(va->vm->flags & (KMM_VM_RESIZING | KMM_VM_UNINITIALIZED))) {
					struct kmm_vm_struct *vm = va->vm;
					if ((vm->nr_pages + 1) * PAGE != va_size(va) || (uintptr_t)vm->addr != va->va_start)
						vbad(verbose, &errors, "area %#lx: vm_struct says %u pages at %p, area is %zu bytes",
						     (unsigned long)at, vm->nr_pages, vm->addr, va_size(va));
					if (vm->demand) {
						/* no frames behind it: nothing in pages[] */
						if (vm->pages != NULL || vm->pages_capacity != 0 || vm->pages_vmalloced)
							vbad(verbose, &errors, "demand-paged area %#lx has a pages[] array",
							     (unsigned long)at);
						if (vm->dirty_pages > vm->nr_pages)
							vbad(verbose, &errors, "demand-paged area %#lx: %u dirty pages of %u",
							     (unsigned long)at, vm->dirty_pages, vm->nr_pages);
						if (va->state == KMM_VA_LAZY && vm->dirty_pages != vm->nr_pages)
							vbad(verbose, &errors, "lazily freed area %#lx: %u of %u pages dirty",
							     (unsigned long)at, vm->dirty_pages, vm->nr_pages);
					} else if (vm->pages == NULL) {
						vbad(verbose, &errors, "frames area %#lx has no pages[]", (unsigned long)at);
					}
					for (size_t i = 0; !vm->demand && vm->pages != NULL && i < vm->nr_pages; i++) {
						struct kmm_page *p = vm->pages[i];
						if (p->owner != KMM_OWNER_VMALLOC || !(p->flags & KMM_PG_HEAD) ||
						    p->mapped_at != va->va_start + i * PAGE) {
							vbad(verbose, &errors, "area %#lx page %zu: frame not vmalloc's or mapped elsewhere",
							     (unsigned long)at, i);
							break;
						}
					}
					if (va->state == KMM_VA_BUSY)
						mapped += vm->nr_pages * PAGE;
				}
			} else if (f != NULL && VA(f)->va_start == at) {
				va = VA(f);
				f = kmm_rb_next(f);
			} else if (inflight_at(at) != 0) {
				at = inflight_at(at);
				continue;
			} else {
				vbad(verbose, &errors, "nothing describes %#lx in space %#lx-%#lx", (unsigned long)at,
				     (unsigned long)sp->start, (unsigned long)sp->end);
				break;
			}
			if (va->va_end <= va->va_start || va->va_end > sp->end) {
				vbad(verbose, &errors, "range %#lx-%#lx leaves its space", (unsigned long)va->va_start,
				     (unsigned long)va->va_end);
				break;
			}
			at = va->va_end;
		}
		total += sp->end - sp->start;
	}
	if (total != space_bytes)
		vbad(verbose, &errors, "spaces total %zu, counter %zu", total, space_bytes);
	if (lazy != lazy_bytes || nlazy != lazy_areas)
		vbad(verbose, &errors, "lazy areas %zu (%zu bytes), counters %zu (%zu)", nlazy, lazy, lazy_areas,
		     lazy_bytes);
	if (nbusy != busy_areas || (!in_flux && mapped != busy_bytes))
		vbad(verbose, &errors, "busy areas %zu (%zu bytes), counters %zu (%zu)", nbusy, mapped, busy_areas,
		     busy_bytes);
	size_t listed = 0;
	for (struct kmm_list *l = purge_list.next; l != &purge_list; l = l->next)
		listed++;
	if (listed != lazy_areas)
		vbad(verbose, &errors, "purge list holds %zu areas, counter %zu", listed, lazy_areas);
	kmm_unlock_if(&vmap_lock, locked);
	return errors;
}

void kmm_vmalloc_fork_prepare(void)
{
	kmm_fork_lock(&vmap_lock);
}

void kmm_vmalloc_fork_parent(void)
{
	kmm_unlock(&vmap_lock);
}

void kmm_vmalloc_fork_child(void)
{
	kmm_lock_reset(&vmap_lock);
	/* A realloc another thread had in progress took a range for its
	 * area's new place.  That thread does not exist here, and the record
	 * of the range lives on its stack, which the child's libc may reuse:
	 * empty the range (some page tables may have moved into it) and give
	 * it back to the free tree now.  The area itself stays where it was,
	 * marked resizing.  (Under the lock, as free_range wants: the child
	 * has this one thread, so it is free.) */
	kmm_lock(&vmap_lock);
	struct kmm_list *l = inflight_list.next;
	while (l != &inflight_list) {
		struct inflight *r = kmm_list_entry(l, struct inflight, link);
		uintptr_t start = r->start, end = r->end;
		l = l->next;
		kmm_os_reserve_fixed((void *)start, end - start);
		free_range(start, end, NULL);
	}
	inflight_list.next = inflight_list.prev = &inflight_list;
	kmm_unlock(&vmap_lock);
}

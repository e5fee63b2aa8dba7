/*
 * uslab.h — the slab front end: per-thread slabs for small user requests.
 *
 * In profile=kmm (front=slab, docs/options.md) malloc(n) for n up to
 * KMM_USLAB_MAX is served here, not by the tcache and the arena's bins: a
 * size class per request size, and per class and thread an active slab
 * whose free objects sit on a list in the thread's TLS.  malloc pops from
 * that list and free pushes to it, with no lock and no atomic operation;
 * a free by another thread pushes onto the slab's remote list with one
 * compare-and-swap.  uslab.c's THEORY says how slabs move between lists,
 * who owns them, and what happens at thread exit and fork.
 *
 * A slab is an order-KMM_USLAB_ORDER block of the buddy allocator (64 KiB,
 * aligned to its size) whose head page descriptor (struct kmm_page, the
 * us_* fields) describes it.  So free() finds an object's slab from the
 * address alone: the section table (page_alloc.h) gives the section, the
 * page index rounded down to the slab's size its head descriptor, and
 * KMM_PG_USLAB says it is one; nothing in the object is read before its
 * offset is known to be an object's start.
 *
 * The inline functions below are the fast paths' parts, for the heap's
 * fastpath.h (the heap decides when the front end is used and runs the
 * observed mode; the kernel side never calls the heap).
 */
#ifndef KMM_KERNEL_USLAB_H
#define KMM_KERNEL_USLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "page_alloc.h"
#include "../util/compiler.h"
#include "../util/lock.h"

struct kmm_buf;

/* Slabs: 2^KMM_USLAB_ORDER frames, aligned to their size. */
#define KMM_USLAB_ORDER   4
#define KMM_USLAB_PAGES   ((size_t)1 << KMM_USLAB_ORDER)
#define KMM_USLAB_BYTES   (KMM_USLAB_PAGES << KMM_PAGE_SHIFT)

/* The size classes, smallest first: multiples of 16 (so that every block
 * is 16-byte aligned, as glibc's are, and has room for the two words of a
 * free object), 16 bytes apart up to 128, then four per doubling.  A class
 * whose size is a multiple of a power of two A has its objects aligned to
 * A (slabs are aligned to 64 KiB): memalign uses that. */
#define KMM_USLAB_SIZES(X)                                                                          \
	X(16) X(32) X(48) X(64) X(80) X(96) X(112) X(128) X(160) X(192) X(224) X(256) X(320) \
	X(384) X(448) X(512) X(640) X(768) X(896) X(1024) X(1280) X(1536) X(1792) X(2048)    \
	X(2560) X(3072) X(3584) X(4096)
#define KMM_USLAB_COUNT_(n) +1
#define KMM_USLAB_CLASSES (0 KMM_USLAB_SIZES(KMM_USLAB_COUNT_))
/* The largest request served (the last class's size). */
#define KMM_USLAB_MAX     ((size_t)4096)

struct kmm_uslab_class {
	uint32_t size;      /* object size = stride */
	uint32_t recip;     /* 2^32 / size, rounded up: offset -> index and
			       divisibility without a division (kmm_uslab_index) */
	uint16_t objects;   /* objects per slab */
	uint16_t batch;     /* objects carved from a slab's unused part at a time */
	uint16_t unpark;    /* free objects that bring a parked slab back (THEORY 4) */
};

extern struct kmm_uslab_class kmm_uslab_classes[KMM_USLAB_CLASSES];
/* class of a request of n bytes: kmm_uslab_class_of[(n + 15) / 16] */
extern uint8_t kmm_uslab_class_of[KMM_USLAB_MAX / 16 + 1];
/* The class whose TLS list is always empty: what malloc(0) maps to under
 * zero_guard=on, so that the fast path sends it to the slow path
 * (heap/zero.h) at no cost to other sizes.  Only kmm_uslab_class(0) can
 * return it; no slab is ever of it. */
#define KMM_USLAB_EMPTY KMM_USLAB_CLASSES
/* Map malloc(0) to KMM_USLAB_EMPTY (on) or to the smallest class. */
void kmm_uslab_zero_class(bool on);
/* freelist pointer hardening (as slab.c's) */
extern uintptr_t kmm_uslab_random;
/* poison=on (the heap sets it): objects carved from a slab's unused part
 * are filled with this byte past their two list words, as freed objects
 * are (the heap fills those and checks what it hands out); -1: off */
extern int kmm_uslab_poison;
/* the "free" mark in a free object's second word (a probable double free
 * when a freed object carries it: the slow path looks).  An object carved
 * from frames that were zero carries kmm_uslab_key ^ 1 instead, the
 * "fresh" mark: calloc need not clear it. */
extern uintptr_t kmm_uslab_key;

/* where a slab is, as its owner keeps it (us_where) */
enum kmm_uslab_where {
	KMM_USLAB_ACTIVE = 1,   /* some thread's cpu[].slab (or an idle record's active[]) */
	KMM_USLAB_PARTIAL,      /* on its owner's partial list */
	KMM_USLAB_FULL,         /* on its owner's full list */
};

/* A thread's active slab of one class and the free objects of it that the
 * fast paths use. */
struct kmm_uslab_cpu {
	void *free;                 /* protected list (kmm_uslab_protect) */
	struct kmm_page *slab;      /* active slab, NULL if none */
};

/* The per-thread part, in initial-exec TLS.  `id` is what the free fast
 * path compares a slab's owner with: the thread's owner record while its
 * fast paths are on, else 0, which no slab's owner is; so a thread that
 * has not allocated yet, whose fast paths are off (the observed mode) or
 * that has exited frees through the slow path, and its `free` lists stay
 * empty, so that malloc takes the slow path too. */
struct kmm_uslab_tls {
	uintptr_t id;
	struct kmm_uslab_cpu cpu[KMM_USLAB_CLASSES + 1];   /* the last: KMM_USLAB_EMPTY */
	uint64_t allocs;                 /* objects handed out (fast and slow paths) */
	struct kmm_uslab_owner *owner;   /* this thread's record (NULL: none yet, or dead) */
	bool dead;                       /* the thread exited: no record any more */
	bool slow_only;                  /* fast paths off: lists stay empty, id 0 */
};

extern __thread struct kmm_uslab_tls kmm_uslab_tls __attribute__((tls_model("initial-exec")));

/* Owner records: never freed; a record whose thread exited waits, with
 * its slabs, for the next thread that starts (uslab.c, THEORY 5). */
struct kmm_uslab_owner {
	kmm_lock_t lock;                            /* the owner's slow paths; fork takes it */
	struct kmm_page *returned;                  /* full slabs that got a remote free (atomic stack) */
	struct kmm_list partial[KMM_USLAB_CLASSES]; /* slabs with free objects, not active */
	struct kmm_list full;                       /* slabs with none (as far as the owner knows) */
	struct kmm_page *active[KMM_USLAB_CLASSES]; /* mirror of the TLS cpu[].slab */
	uint16_t nempty[KMM_USLAB_CLASSES];         /* empty slabs kept on partial */
	struct kmm_uslab_owner *next_all;           /* every record (owners_lock) */
	struct kmm_uslab_owner *next_idle;          /* records without a thread (owners_lock) */
	bool live;                                  /* a thread owns it */
	unsigned index;
	struct kmm_uslab_tls *tls;                  /* its thread's (owners_lock; NULL if idle) */
	/* statistics (owner's writes; reports read them racily) */
	uint64_t allocs;                            /* of threads that left the record */
	uint64_t alloc_slow, free_slow, remote_frees, collected;   /* collected: remote lists taken */
	uint64_t slabs_made, slabs_freed, parked, returned_n;
	uint64_t pages_released, page_releases;     /* pages of partial slabs given back, madvise calls */
};

/* ---- the free-list words -----------------------------------------------------
 *
 * A free object holds, in its first word, the next object of its list,
 * obfuscated (XOR with a random value and the byte-swapped address of the
 * word, as slab.c's), and in its second word kmm_uslab_key.  Every object
 * handed out has its second word cleared. */

struct kmm_uslab_free_obj {
	uintptr_t next;
	uintptr_t key;
};

KMM_INLINE uintptr_t kmm_uslab_protect(const void *where, const void *next)
{
	return (uintptr_t)next ^ kmm_uslab_random ^ __builtin_bswap64((uint64_t)(uintptr_t)where);
}

KMM_INLINE void *kmm_uslab_next(const void *obj)
{
	return (void *)(*(const uintptr_t *)obj ^ kmm_uslab_random ^ __builtin_bswap64((uint64_t)(uintptr_t)obj));
}

/* A free list's next pointer must stay in the slab of the object it was
 * read from (all lists hold one slab's objects): else a freed object was
 * written to. */
KMM_INLINE bool kmm_uslab_next_ok(const void *obj, const void *next)
{
	return (((uintptr_t)obj ^ (uintptr_t)next) < KMM_USLAB_BYTES) | (next == NULL);
}

KMM_NORETURN KMM_COLD void kmm_uslab_corrupt(const void *obj, const void *next);

/* Check the first `depth` links of each of this thread's lists, as the pop
 * would (abort on an overwritten one).  The heap calls it for every big
 * block, the way glibc's malloc_consolidate walks the fastbins on a large
 * request: a corrupted list is found even if its class is not asked for
 * again (glibc's tst-safe-linking). */
void kmm_uslab_check_tls_lists(size_t depth);

/* obj carries the free mark (either kind). */
KMM_INLINE bool kmm_uslab_marked(const void *obj)
{
	return (((const struct kmm_uslab_free_obj *)obj)->key | 1) == kmm_uslab_key;
}

/* obj becomes the head of the list at *head, marked free. */
KMM_INLINE void kmm_uslab_push(void **head, void *obj)
{
	struct kmm_uslab_free_obj *f = obj;
	f->next = kmm_uslab_protect(obj, *head);
	f->key = kmm_uslab_key;
	*head = obj;
}

/* ---- fast paths ---------------------------------------------------------------- */

KMM_INLINE size_t kmm_uslab_class(size_t n)
{
	return kmm_uslab_class_of[(n + 15) >> 4];
}

/* Pop an object of class cls from this thread's list, or NULL. */
KMM_INLINE void *kmm_uslab_pop(size_t cls)
{
	struct kmm_uslab_cpu *c = &kmm_uslab_tls.cpu[cls];
	struct kmm_uslab_free_obj *obj = c->free;
	if (KMM_LIKELY(obj != NULL)) {
		void *next = kmm_uslab_next(obj);
		if (KMM_UNLIKELY(!kmm_uslab_next_ok(obj, next)))
			kmm_uslab_corrupt(obj, next);
		c->free = next;
		obj->key = 0;
		kmm_uslab_tls.allocs++;
	}
	return obj;
}

/* The same for calloc: *fresh says the object was never handed out and
 * its frames were zero (all of it reads as zero but its first word). */
KMM_INLINE void *kmm_uslab_pop_fresh(size_t cls, bool *fresh)
{
	struct kmm_uslab_free_obj *obj = kmm_uslab_tls.cpu[cls].free;
	*fresh = obj != NULL && obj->key == (kmm_uslab_key ^ 1);
	return kmm_uslab_pop(cls);
}

/* The head descriptor of the user slab holding addr, if the section table
 * knows its section; else NULL (not a user slab, or a slow-path case). */
KMM_INLINE struct kmm_page *kmm_uslab_head_fast(uintptr_t addr)
{
	struct kmm_mem_section *s = kmm_section_fast(addr);
	if (s == NULL)
		return NULL;
	struct kmm_page *p = kmm_section_page(s, ((addr >> KMM_PAGE_SHIFT) & (KMM_SECTION_PAGES - 1)) &
						    ~(KMM_USLAB_PAGES - 1));
	return (p->flags & KMM_PG_USLAB) ? p : NULL;
}

/* The index of the object starting at offset `off` (< 64 KiB) of a slab
 * of class cls, or -1 if no object starts there: one multiplication by
 * the rounded-up reciprocal gives the quotient (high half) and, in its
 * low half, whether the division was exact (Lemire, Kaser and Kurz,
 * "Faster remainder by direct computation"; checked for every class and
 * offset by the unit tests). */
KMM_INLINE long kmm_uslab_index(size_t cls, uintptr_t off)
{
	uint32_t recip = kmm_uslab_classes[cls].recip;
	uint64_t p = (uint64_t)off * recip;
	return (uint32_t)p < recip ? (long)(p >> 32) : -1;
}

/* The free fast path: obj lies in the user slab `page`.  Returns true if
 * it went onto this thread's list or its own slab's list; false sends it
 * to the slow path (another thread's slab, a list change, an invalid
 * pointer, or a probable double free: the slow path tells). */
KMM_INLINE bool kmm_uslab_free_fast(struct kmm_page *page, void *obj)
{
	struct kmm_uslab_tls *t = &kmm_uslab_tls;
	if (KMM_UNLIKELY((uintptr_t)page->us_owner != t->id))
		return false;
	size_t cls = page->us_class;
	long idx = kmm_uslab_index(cls, (uintptr_t)obj & (KMM_USLAB_BYTES - 1));
	if (KMM_UNLIKELY((unsigned long)idx >= page->us_bump || kmm_uslab_marked(obj)))
		return false;
	struct kmm_uslab_cpu *c = &t->cpu[cls];
	if (KMM_LIKELY(c->slab == page)) {
		kmm_uslab_push(&c->free, obj);
		return true;
	}
	/* one of this thread's partial slabs, or a parked (full) one until an
	 * eighth of it is free (uslab.c, THEORY 4): onto its own list, unless
	 * that empties the slab (the slow path decides whether to keep it):
	 * us_limit is us_bump, or 0 while the slab has pages given back to the
	 * OS, whose objects only the slow path can tell free (THEORY 9) */
	unsigned nfree = page->us_nfree + 1u;
	unsigned where = page->us_where;
	if (KMM_UNLIKELY(nfree >= page->us_limit ||
			 (where != KMM_USLAB_PARTIAL &&
			  (where != KMM_USLAB_FULL || nfree >= kmm_uslab_classes[cls].unpark))))
		return false;
	kmm_uslab_push(&page->us_lfree, obj);
	page->us_nfree = (uint16_t)nfree;
	return true;
}

/* ---- slow paths (uslab.c) ----------------------------------------------------------- */

/* The class tables (kmm_uslab_class_of ...): once, at kmm's start-up,
 * before any request is classed.  No allocation, no system call. */
void kmm_uslab_init(void);

/* An object of class cls for the calling thread: from its active slab
 * (collecting remote frees, carving unused objects), a partial slab, or a
 * new slab.  `fast`: the caller's fast paths are on (objects may be left
 * on the TLS list).  NULL if the thread has exited (the caller then
 * serves the request elsewhere) or memory ran out.  `*fresh` (if not NULL)
 * says the object was never handed out and its slab's frames were zero:
 * all of it but its first word reads as zero. */
void *kmm_uslab_alloc(size_t cls, bool fast, bool *fresh);

/* Free obj, which lies in the user slab `page` (kmm_uslab_head): aborts
 * with "kmm: WHO: invalid pointer ..." if obj is not an object of it that
 * was handed out, "double free" if it is known free.  Returns true if it
 * went onto this thread's own lists, false if it was a remote free. */
bool kmm_uslab_free(struct kmm_page *page, void *obj, const char *who);

/* The head descriptor of the user slab holding addr, or NULL (any address;
 * the section list backs the table up). */
struct kmm_page *kmm_uslab_head(const void *addr);

/* The usable size of obj in the user slab `page` (its class's size);
 * aborts like kmm_uslab_free for a pointer that is not an object start. */
size_t kmm_uslab_usable(struct kmm_page *page, const void *obj, const char *who);

/* The calling thread's fast paths off: its lists go back to its slabs and
 * the fast paths find nothing from now on (the observed mode). */
/* The same without giving the lists back or taking a lock: a rescued fork
 * child (heap/rescue.c). */
void kmm_uslab_abandon_lists(void);
void kmm_uslab_fast_paths_off(void);

/* The calling thread is exiting: its record, with its slabs, waits for the
 * next thread; later calls of this thread free remotely and allocate
 * nothing (kmm_uslab_alloc returns NULL). */
void kmm_uslab_thread_exit(void);

/* malloc_trim: empty slabs of the caller and of idle records go back to
 * the buddy allocator.  Returns the bytes released. */
size_t kmm_uslab_trim(void);

/* Statistics, for mallinfo and the reports. */
struct kmm_uslab_stats {
	size_t slabs;          /* slabs in use (any state) */
	size_t slabs_peak;     /* their peak (decaying slowly: the buddy's slab target) */
	size_t bytes;          /* their memory */
	size_t objects;        /* object slots in them */
	size_t inuse_objects;  /* not free as far as the slabs know (see slabinfo) */
	size_t inuse_bytes;    /* those objects' bytes */
	size_t free_bytes;     /* the bytes of the free slots (objects - inuse_objects) */
	size_t resident;       /* bytes of their pages that were touched and not given back */
	size_t released;       /* bytes of their pages given back to the OS (partly used slabs) */
	size_t classes;        /* classes with slabs */
	size_t owners, idle_owners;
	uint64_t allocs;       /* objects handed out, ever */
	uint64_t alloc_slow;   /* ... by the slow path (the TLS list was empty) */
	uint64_t free_slow;    /* frees into the caller's own slabs on the slow path */
	uint64_t remote_frees; /* frees into other threads' slabs */
	uint64_t slabs_made, slabs_freed, parked, returned;
	uint64_t pages_released, page_releases;   /* pages of partly used slabs given back, ever; madvise calls */
};
void kmm_uslab_stats(struct kmm_uslab_stats *st);
/* slabinfo lines of the front end's classes (uslab-16 ...), same format
 * as slab.c's */
void kmm_uslab_report_slabinfo(struct kmm_buf *b);
/* The classes with slabs, as that report's rows: at most max; returns
 * how many were filled. */
struct kmm_slabinfo_row;
size_t kmm_uslab_rows(struct kmm_slabinfo_row *out, size_t max);

/* Invariant checker (uslab.c says what it checks).  Returns violations. */
int kmm_uslab_check(int verbose);

void kmm_uslab_fork_prepare(void);
void kmm_uslab_fork_parent(void);
void kmm_uslab_fork_child(void);

#endif /* KMM_KERNEL_USLAB_H */

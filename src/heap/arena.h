/*
 * arena.h — a ptmalloc-style arena: bins, binmap, top chunk, statistics.
 *
 * THEORY
 *
 * An arena owns a heap made of one or more segments of contiguous chunks
 * (chunk.h).  The last chunk of the current segment is the top chunk: the
 * wilderness that grows with the program break (sysmalloc.c) and shrinks when
 * it exceeds the trim threshold.  Free chunks sit in one of:
 *
 *   fastbins[10]  LIFO singly linked lists of chunks up to max_fast (128)
 *                 bytes, left marked in use so they are not coalesced until
 *                 malloc_consolidate() runs;
 *   bin 1         the unsorted bin: every freed or split-off chunk lands here
 *                 first and is sorted into its bin by the next malloc that
 *                 walks the list (giving recently freed chunks one chance to
 *                 be reused as they are);
 *   bins 2..63    small bins, one size each (32 ... 1008 bytes, step 16),
 *                 FIFO;
 *   bins 64..126  large bins, size ranges growing geometrically, kept sorted
 *                 by size (largest first) with a skip list (fd_nextsize /
 *                 bk_nextsize) that links the first chunk of each size, so a
 *                 best fit is found without walking equal sizes.
 *
 * The binmap has one bit per bin, set when a chunk is put in the bin and
 * cleared lazily when a search finds the bin empty, so finding the next
 * non-empty bin larger than a request is a scan of four 32-bit words.
 *
 * Bin headers are the fd/bk pointer pairs in bins[]; bin_at() returns a fake
 * chunk whose fd/bk fields overlay a pair (its prev_size and head fields
 * overlay the previous pair and must never be read).
 *
 *   bins[]:  | fd1 bk1 | fd2 bk2 | fd3 bk3 | ...
 *            ^-- bin_at(1) = &bins[0] - 16: a chunk whose fd is fd1
 *
 * LOCKING
 *
 * Everything in an arena is protected by its lock, except the statistics
 * read racily by reports.  Lock order: see util/lock.h.  The per-thread
 * cache (tcache.h) sits in front of the arena and needs no lock.
 */
#ifndef KMM_HEAP_ARENA_H
#define KMM_HEAP_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunk.h"
#include "params.h"
#include "../kernel/region.h"
#include "../util/lock.h"

#define KMM_NBINS          128
#define KMM_NSMALLBINS     64
#define KMM_SMALLBIN_WIDTH KMM_ALIGNMENT
#define KMM_MIN_LARGE_SIZE ((size_t)KMM_NSMALLBINS * KMM_SMALLBIN_WIDTH)  /* 1024 */
#define KMM_NFASTBINS      10   /* fastbin_index(request2size(KMM_MAX_MXFAST)) + 1 */
#define KMM_BINMAP_SHIFT   5
#define KMM_BITSPERMAP     (1U << KMM_BINMAP_SHIFT)
#define KMM_BINMAPSIZE     (KMM_NBINS / KMM_BITSPERMAP)
/* A free of a chunk at least this big (after merging) consolidates the
 * fastbins and considers trimming the top. */
#define KMM_FASTBIN_CONSOLIDATION_THRESHOLD ((size_t)65536)
/* At most this many unsorted chunks are sorted per malloc call. */
#define KMM_MAX_UNSORTED_ITERS 10000

/* Which mechanism served an allocation (statistics, reports, later the
 * trace log). */
enum kmm_path {
	KMM_PATH_TCACHE,      /* per-thread cache, no lock */
	KMM_PATH_FASTBIN,     /* fastbin of the exact size */
	KMM_PATH_SMALLBIN,    /* small bin of the exact size */
	KMM_PATH_UNSORTED,    /* exact fit found while sorting the unsorted bin */
	KMM_PATH_REMAINDER,   /* split of the last remainder (locality) */
	KMM_PATH_LARGEBIN,    /* best fit in the request's large bin */
	KMM_PATH_BINMAP,      /* smallest chunk of the next non-empty bin, split */
	KMM_PATH_TOP,         /* split of the top chunk */
	KMM_PATH_SYSMALLOC,   /* top chunk after growing the heap */
	KMM_PATH_BIG,         /* a big block: a vmalloc area of its own (big.h) */
	KMM_PATH_NR
};
extern const char *const kmm_path_names[KMM_PATH_NR];

struct kmm_arena_stats {
	uint64_t served[KMM_PATH_NR];     /* allocations served, by path */
	uint64_t frees_fastbin;           /* frees into a fastbin */
	uint64_t frees_unsorted;          /* frees into the unsorted bin */
	uint64_t frees_top;               /* frees merged into the top chunk */
	uint64_t merges;                  /* neighbours coalesced */
	uint64_t consolidations;          /* malloc_consolidate() runs */
	uint64_t tcache_fills;            /* chunks moved from bins into a tcache */
	uint64_t sorted;                  /* unsorted chunks placed in bins */
	uint64_t brk_grows, brk_grow_bytes;
	uint64_t brk_trims, brk_trim_bytes;
	uint64_t morecore_maps, morecore_map_bytes;  /* mmap fallback when brk fails */
	uint64_t segments;                /* non-contiguous heap segments started */
	uint64_t foreign_bytes;           /* break moved by others between our segments */
	uint64_t madvised_bytes;          /* returned by malloc_trim() */
	uint64_t remote_drained;          /* remote frees put into the bins */
	uint64_t heaps_new, heaps_deleted;/* further arenas: heaps made and unmapped */
	uint64_t heap_grows, heap_shrinks;/* ... grown (mprotect) and shrunk (madvise) */
	uint64_t heap_grow_bytes, heap_shrink_bytes;
};

/* A run of contiguous chunks.  The first segment of an arena lives in the
 * arena; later ones (after a foreign sbrk or when brk failed and mmap was
 * used instead) carry this header at their start. */
struct kmm_segment {
	char *mem;                  /* start of the memory the OS gave */
	char *base;                 /* first chunk */
	char *end;                  /* end of the memory obtained from the OS */
	char *chunks_end;           /* closed segment: end of its last fencepost;
				       NULL for the open one (it ends with top) */
	char *closed_top;           /* closed segment: where its top chunk began
				       when it was closed (to reopen it) */
	struct kmm_segment *next, *prev;
	int   from_mmap;
	struct kmm_region region;   /* the segment in the region registry */
};
#define KMM_SEGMENT_HDR KMM_ALIGN_UP(sizeof(struct kmm_segment), KMM_ALIGNMENT)

#define KMM_ARENA_NONCONTIGUOUS 0x1u

struct kmm_arena {
	kmm_lock_t lock;
	unsigned   flags;
	int        have_fastchunks;
	mchunk     fastbins[KMM_NFASTBINS];
	mchunk     top;               /* NULL until the first sysmalloc */
	mchunk     last_remainder;
	mchunk     bins[KMM_NBINS * 2 - 2];
	unsigned   binmap[KMM_BINMAPSIZE];

	size_t     system_mem;        /* bytes obtained from the OS for this heap */
	size_t     max_system_mem;
	/* Bytes of the current segment at or above this address have not been
	 * handed out since the OS gave them to us (zero-filled): calloc need
	 * not clear them. */
	char      *top_fresh;
	/* trim_rule=decay (trim.c): the highest address the top chunk started
	 * at in this period — how far into the top the program reached — and
	 * whether a trim decision ended the period (the next carve from the
	 * top starts a new one) */
	char      *top_high;
	bool       top_period_done;
	/* Set by every kmm_int_malloc: the path that served it and, for the
	 * top paths, top_fresh as it was before the split (calloc uses both
	 * before dropping the lock). */
	enum kmm_path last_path;
	uint8_t last_free;            /* trace: where kmm_int_free put the last chunk (trace.h) */
	char      *carve_fresh;
	/* Serve requests above the mmap threshold from the heap too (set
	 * for a retry when vmalloc failed). */
	bool       no_big;
	/* set while sysmalloc frees the old top of a segment it closed: that
	 * free must not trim the new top it grew for the request */
	bool       no_trim;

	struct kmm_segment  seg0;     /* main arena: the first segment (brk) */
	struct kmm_segment *seg_first;/* &seg0, or the first heap's (arena_heap.h) */
	struct kmm_segment *seg_last; /* the segment that holds top */
	uintptr_t  span_lo, span_hi;  /* main arena: every chunk lies in [span_lo, span_hi) */
	/* main arena: the span the inline free trusts (fastpath.h): the span
	 * while the heap is brk memory alone; empty once brk failed and a
	 * mapping joined the heap, since the span then encloses whatever was
	 * mapped in between (kmm's own sections, vmalloc space, libraries),
	 * which only heap_chunk_size's checks tell from the heap's chunks */
	uintptr_t  fast_lo, fast_hi;

	struct kmm_arena_stats st;
	int        index;
	bool       initialized;

	/* The arena list (arenas.h): under kmm_arena_list_lock for next,
	 * under kmm_arena_free_lock for the rest. */
	struct kmm_arena *next;       /* all arenas, from the main arena, never unlinked */
	struct kmm_arena *next_free;  /* free list: arenas no thread is attached to */
	size_t     attached_threads;
	uint64_t   contended;         /* a thread found the lock taken (racy count) */

	/* Remote frees: chunks freed by threads attached to other arenas,
	 * pushed without the lock (a Treiber stack linked through the
	 * chunks' fd fields) and freed into the bins by the next thread that
	 * holds the lock.  Own cache line: pushers must not bounce the lock's. */
	_Alignas(64) mchunk remote_head;
};


extern struct kmm_arena kmm_main_arena;

/* --- bins ---------------------------------------------------------------- */

KMM_INLINE mchunk bin_at(struct kmm_arena *a, unsigned i)
{
	return (mchunk)((char *)&a->bins[(i - 1) * 2] - offsetof(struct kmm_chunk, fd));
}
KMM_INLINE mchunk next_bin(mchunk b)      { return (mchunk)((char *)b + 2 * sizeof(mchunk)); }
KMM_INLINE mchunk unsorted_bin(struct kmm_arena *a) { return bin_at(a, 1); }

KMM_INLINE bool in_smallbin_range(size_t sz) { return sz < KMM_MIN_LARGE_SIZE; }
KMM_INLINE unsigned smallbin_index(size_t sz) { return (unsigned)(sz >> 4); }

/* Large bins: 32 bins of 64 bytes, 16 of 512, 8 of 4 KiB, 4 of 32 KiB,
 * 2 of 256 KiB, one for the rest — the spacing glibc uses on 64-bit. */
KMM_INLINE unsigned largebin_index(size_t sz)
{
	if ((sz >> 6) <= 48)  return 48 + (unsigned)(sz >> 6);
	if ((sz >> 9) <= 20)  return 91 + (unsigned)(sz >> 9);
	if ((sz >> 12) <= 10) return 110 + (unsigned)(sz >> 12);
	if ((sz >> 15) <= 4)  return 119 + (unsigned)(sz >> 15);
	if ((sz >> 18) <= 2)  return 124 + (unsigned)(sz >> 18);
	return 126;
}
KMM_INLINE unsigned bin_index(size_t sz)
{
	return in_smallbin_range(sz) ? smallbin_index(sz) : largebin_index(sz);
}

KMM_INLINE unsigned fastbin_index(size_t sz) { return (unsigned)(sz >> 4) - 2; }

KMM_INLINE unsigned idx2block(unsigned i) { return i >> KMM_BINMAP_SHIFT; }
KMM_INLINE unsigned idx2bit(unsigned i)   { return 1U << (i & (KMM_BITSPERMAP - 1)); }
KMM_INLINE void mark_bin(struct kmm_arena *a, unsigned i)   { a->binmap[idx2block(i)] |= idx2bit(i); }
KMM_INLINE void unmark_bin(struct kmm_arena *a, unsigned i) { a->binmap[idx2block(i)] &= ~idx2bit(i); }
KMM_INLINE bool bin_marked(const struct kmm_arena *a, unsigned i) { return (a->binmap[idx2block(i)] & idx2bit(i)) != 0; }

KMM_INLINE bool arena_contiguous(const struct kmm_arena *a) { return !(a->flags & KMM_ARENA_NONCONTIGUOUS); }
KMM_INLINE size_t top_size(const struct kmm_arena *a) { return a->top ? chunksize(a->top) : 0; }

/* Make `rem` (size bytes) the top chunk.  Its header is written now, so the
 * fresh part of the segment starts after it at the earliest. */
KMM_INLINE void kmm_set_top(struct kmm_arena *a, mchunk rem, size_t size)
{
	a->top = rem;
	set_head(rem, size | KMM_PREV_INUSE);
	char *dirty = (char *)rem + KMM_CHUNK_HDR;
	if (dirty > a->top_fresh)
		a->top_fresh = dirty;
}

/* Carve an in-use chunk of nb bytes (plus flag bits `flags`) from the front
 * of the top chunk, which must hold at least nb + KMM_MINSIZE.  Records in
 * carve_fresh where the never-used part of the carved memory began. */
KMM_INLINE mchunk kmm_split_top(struct kmm_arena *a, size_t nb, size_t flags)
{
	mchunk victim = a->top;
	size_t size = chunksize(victim);
	a->carve_fresh = a->top_fresh;
	set_head(victim, nb | KMM_PREV_INUSE | flags);
	mchunk rem = chunk_at(victim, nb);
	kmm_set_top(a, rem, size - nb);
	if (a->top_period_done) {   /* trim.c: a new period */
		a->top_period_done = false;
		a->top_high = (char *)rem;
	} else if ((char *)rem > a->top_high) {
		a->top_high = (char *)rem;
	}
	return victim;
}

/* Whether p may be a chunk of arena a (address inside its segments' span). */
KMM_INLINE bool arena_spans(const struct kmm_arena *a, const void *p)
{
	uintptr_t lo = __atomic_load_n(&a->span_lo, __ATOMIC_RELAXED);
	uintptr_t hi = __atomic_load_n(&a->span_hi, __ATOMIC_RELAXED);
	return (uintptr_t)p - lo < hi - lo;
}

/* arena_spans for the inline free: false for every p once the main heap
 * is not contiguous (see fast_lo). */
KMM_INLINE bool arena_fast_spans(const struct kmm_arena *a, const void *p)
{
	uintptr_t lo = __atomic_load_n(&a->fast_lo, __ATOMIC_RELAXED);
	uintptr_t hi = __atomic_load_n(&a->fast_hi, __ATOMIC_RELAXED);
	return (uintptr_t)p - lo < hi - lo;
}

/* The A bit that chunks handed out by arena a carry. */
KMM_INLINE size_t kmm_arena_flag(const struct kmm_arena *a)
{
	return a == &kmm_main_arena ? 0 : KMM_NON_MAIN_ARENA;
}

/* The precondition of the arena's internal API (here, sysmalloc.c,
 * arena_heap.h): the caller holds a's lock, or the process is
 * single-threaded, when malloc.c does without it.  Checked in debug builds. */
#if KMM_DEBUG && HAVE_SYS_SINGLE_THREADED_H
#include <sys/single_threaded.h>
#define kmm_arena_assert_locked(a)                         \
	do {                                               \
		if (!__libc_single_threaded)               \
			kmm_lock_assert_held(&(a)->lock);  \
	} while (0)
#else
#define kmm_arena_assert_locked(a) kmm_lock_assert_held(&(a)->lock)
#endif

/* --- the arena's internal API (arena lock held for all of these) ---------- */

struct kmm_tcache;

void   kmm_arena_init(struct kmm_arena *a, int index);
/* Allocate a chunk of exactly nb bytes (nb = request2size(...)).  May move
 * further chunks of that size into tc (NULL: no tcache).  Returns NULL with
 * errno = ENOMEM when the OS refuses memory, or NULL with last_path =
 * KMM_PATH_BIG when the request is to be a big block (big.h).  The same
 * holds for kmm_int_realloc and kmm_int_memalign. */
mchunk kmm_int_malloc(struct kmm_arena *a, size_t nb, struct kmm_tcache *tc);
/* Return a heap chunk to the arena's bins. */
void   kmm_int_free(struct kmm_arena *a, mchunk p);
/* Resize a heap chunk; returns the chunk to use (possibly moved and with
 * contents copied) or NULL with the old chunk untouched. */
mchunk kmm_int_realloc(struct kmm_arena *a, mchunk oldp, size_t oldsize, size_t nb);
/* A chunk of nb bytes whose memory is aligned to `alignment` (a power of
 * two greater than 16). */
mchunk kmm_int_memalign(struct kmm_arena *a, size_t alignment, size_t nb);
void   kmm_malloc_consolidate(struct kmm_arena *a);
/* Give free memory back: trim the top to `pad` and madvise(DONTNEED) whole
 * free pages inside free chunks.  Returns 1 if anything was released. */
int    kmm_arena_trim(struct kmm_arena *a, size_t pad);
void   kmm_unlink_chunk(struct kmm_arena *a, mchunk p);

/* trim.c (trim_rule, params.h) */
/* The pad of a trim after a free; starts a new trim_rule=decay period.
 * a's lock held. */
size_t kmm_trim_pad(struct kmm_arena *a);
/* a is about to ask the OS for memory (NULL: a new arena is): trim the
 * other arenas' idle tops (trylock only).  a's lock held, if any. */
void   kmm_arenas_trim_idle(struct kmm_arena *a);

/* sysmalloc.c */
mchunk kmm_sysmalloc(struct kmm_arena *a, size_t nb);
int    kmm_systrim(struct kmm_arena *a, size_t pad);
/* Close segment seg (its top was old_top, old_size bytes) with two
 * fenceposts and free the rest of the old top; a->top is already elsewhere. */
void   kmm_close_segment(struct kmm_arena *a, struct kmm_segment *seg, mchunk old_top, size_t old_size);

#endif /* KMM_HEAP_ARENA_H */

/*
 * big.h — blocks too big for the heap.  What glibc gives a mapping of its
 * own (a request at or above the mmap threshold that no free chunk and not
 * the top chunk can serve), kmm serves from a vmalloc area
 * (src/kernel/vmalloc.h): the block *is* the area.
 *
 *   vmalloc area: page aligned, size = request rounded up to pages
 *   +------------------------------------------------------+-------------+
 *   | user data ...                                        | guard page  |
 *   +------------------------------------------------------+-------------+
 *   ^ the pointer malloc returns (no chunk header in front)
 *
 * So malloc(8 MiB) maps exactly 2048 pages and /proc-style vmallocinfo shows
 * the seed's line: size 0x801000 with the guard page.  A big block is
 * recognised by its address alone: page aligned and inside one of vmalloc's
 * reserved spaces, which heap memory never is.  free() must decide that
 * before it reads a chunk header, because the bytes in front of a big
 * block belong to another area or to a guard page.
 *
 * free() of a big block vfree()s the area: lazily, so a later big malloc
 * takes it back without system calls or page faults.
 *
 * The dynamic threshold.  glibc: releasing a mapped chunk bigger than the
 * current threshold (and at most 32 MiB) raises the threshold to that
 * chunk's size and the trim threshold to twice that, so a program that
 * keeps allocating such blocks gets them from the heap — because under
 * glibc every big free costs a munmap and the next big malloc an mmap and
 * fresh page faults.  Under kmm neither happens: a freed area stays
 * resident, in vmalloc's lazy pool or as resident free frames of the buddy
 * allocator, within a budget that follows the program's big-block working
 * set (vmalloc.h).  Moving such blocks into the brk heap would only bring
 * back the heap's grow/trim faults, so by default kmm keeps the threshold
 * where it is (threshold_rule=cache).  KMM_OPTIONS=threshold_rule=glibc
 * applies glibc's rule (with the size glibc's mapped chunk would have had,
 * from the area's requested size), for comparisons with glibc.  Setting any threshold by hand (mallopt,
 * environment) fixes it, as in glibc.
 *
 * No arena lock is involved: vmalloc has its own, and the counters below
 * are updated atomically.
 */
#ifndef KMM_HEAP_BIG_H
#define KMM_HEAP_BIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../kernel/vmalloc.h"
#include "../util/compiler.h"
#include "chunk.h"
#include "../util/lock.h"

/* glibc's names where glibc has the notion (mallinfo's hblks, hblkhd) */
struct kmm_big_stats {
	size_t   n_mmaps;           /* big blocks now (vmalloc areas) */
	size_t   max_n_mmaps;
	size_t   mmapped_mem;       /* bytes in them */
	size_t   max_mmapped_mem;
	uint64_t maps, unmaps;      /* big blocks allocated / freed */
	uint64_t map_bytes;         /* total bytes ever allocated as big blocks */
	uint64_t remaps, remap_moves;   /* realloc of big blocks / that moved */
	uint64_t threshold_raises;  /* dynamic threshold changes */
	uint64_t refused_max;       /* requests kept in the heap because of M_MMAP_MAX */
	uint64_t fallbacks;         /* vmalloc failed: served by the heap instead */
};

extern struct kmm_big_stats kmm_big_stats;
/* The counters of one allocation, free or realloc change together under
 * this lock (a leaf), so that the checker, which reads them under it, and a
 * fork child never see half an update.  Readers of single counters need
 * no lock. */
extern kmm_lock_t kmm_big_stats_lock;

/* Whether mem is a big block's address (or at least lies where only big
 * blocks live): page aligned and inside vmalloc's spaces.  Lock free, and
 * reads nothing at mem. */
KMM_INLINE bool kmm_big_owns(const void *mem)
{
	return ((uintptr_t)mem & (KMM_BIG_ALIGN - 1)) == 0 && kmm_vmalloc_in_space(mem);
}

/* Whether another big block may be created (M_MMAP_MAX); counts a refusal. */
bool   kmm_big_allowed(void);
/* A big block of at least n bytes aligned to `align` (0 or a power of two;
 * at least a page is used).  NULL with errno = ENOMEM if vmalloc failed.
 * `caller` is recorded for vmallocinfo. */
void  *kmm_big_alloc(size_t n, size_t align, const void *caller);
/* Free a big block (aborts with a diagnostic unless mem is one); applies
 * the dynamic threshold rule. */
void   kmm_big_free(void *mem);
/* Resize to at least n bytes: in place, or moved without copying; NULL
 * (block untouched) if vmalloc could not. */
void  *kmm_big_realloc(void *mem, size_t n);
/* Usable bytes of a big block (aborts unless mem is one). */
size_t kmm_big_usable(const void *mem, const char *who);
/* calloc: zero the first len bytes of big block mem, leaving alone pages
 * that the OS zero-filled. */
void   kmm_big_zero(void *mem, size_t len);

#endif /* KMM_HEAP_BIG_H */

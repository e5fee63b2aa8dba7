/*
 * mmap_chunk.h — chunks too big for the heap: what glibc gives a mapping of
 * its own (requests at or above the mmap threshold that the top chunk
 * cannot serve), kmm serves from a vmalloc area (src/kernel/vmalloc.h).
 *
 *   vmalloc area (page aligned)                                 guard page
 *   +-----------+------------+--------------------------------+----------+
 *   | (memalign | prev_size  | head = size | IS_MMAPPED       | ...  |//////////|
 *   |  offset)  | = offset   |                  user data ... |      |//////////|
 *   +-----------+------------+--------------------------------+----------+
 *                ^ chunk = area + offset (0 unless memalign)
 *
 * free() of such a chunk vfree()s the area: lazily, so a later big malloc
 * can take it back without system calls or page faults.
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
 * applies glibc's rule exactly, for comparisons with glibc.  Setting any
 * threshold by hand (mallopt, environment) fixes it, as in glibc.
 */
#ifndef KMM_HEAP_MMAP_CHUNK_H
#define KMM_HEAP_MMAP_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "chunk.h"

struct kmm_mmap_stats {
	size_t   n_mmaps;           /* big chunks now (vmalloc areas) */
	size_t   max_n_mmaps;
	size_t   mmapped_mem;       /* bytes in them */
	size_t   max_mmapped_mem;
	uint64_t maps, unmaps;      /* big chunks allocated / freed */
	uint64_t map_bytes;         /* total bytes ever allocated as big chunks */
	uint64_t remaps, remap_moves;   /* realloc of big chunks / that moved */
	uint64_t threshold_raises;  /* dynamic threshold changes */
	uint64_t refused_max;       /* requests kept in the heap because of M_MMAP_MAX */
};

extern struct kmm_mmap_stats kmm_mmap_stats;

/* A big chunk for nb bytes (nb = request2size); NULL if memory ran out or
 * M_MMAP_MAX big chunks exist already.  `caller` is recorded for
 * vmallocinfo. */
mchunk kmm_mmap_chunk(size_t nb, const void *caller);
/* Check and free; applies the dynamic threshold rule. */
void   kmm_munmap_chunk(mchunk p);
/* Resize (in place, or moved without copying); NULL if memory ran out. */
mchunk kmm_mremap_chunk(mchunk p, size_t nb);
/* Abort with a diagnostic unless p is a big chunk kmm handed out. */
void   kmm_mmap_chunk_check(mchunk p, const char *who);
/* calloc: zero [mem, mem + len) of big chunk p, leaving alone pages the OS
 * zero-filled. */
void   kmm_mmap_chunk_zero(mchunk p, void *mem, size_t len);


#endif /* KMM_HEAP_MMAP_CHUNK_H */

/*
 * mmap_chunk.h — chunks with a mapping of their own (requests at or above
 * the mmap threshold that the top chunk cannot serve), and glibc's dynamic
 * mmap threshold.
 *
 *   mapping start                      page aligned
 *   +-----------+------------+-------------------------------------+
 *   | (memalign | prev_size  | head = size | IS_MMAPPED           | user data ...
 *   |  offset)  | = offset   |                                    |
 *   +-----------+------------+-------------------------------------+
 *                ^ chunk = mapping start + offset (0 unless memalign)
 *
 * The dynamic threshold: freeing a mapped chunk bigger than the current
 * threshold (and at most 32 MiB) raises the threshold to that chunk's size
 * and the trim threshold to twice that — a program that repeatedly allocates
 * and frees such blocks then gets them from the heap, without an mmap/munmap
 * pair (and fresh page faults) each time.  Setting any threshold by hand
 * (mallopt, environment) turns this off.
 */
#ifndef KMM_HEAP_MMAP_CHUNK_H
#define KMM_HEAP_MMAP_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "chunk.h"

struct kmm_mmap_stats {
	size_t   n_mmaps;           /* chunks mapped now */
	size_t   max_n_mmaps;
	size_t   mmapped_mem;       /* bytes in them */
	size_t   max_mmapped_mem;
	uint64_t maps, unmaps;      /* mmap/munmap calls for chunks */
	uint64_t map_bytes;         /* total bytes ever mapped for chunks */
	uint64_t remaps, remap_moves;
	uint64_t threshold_raises;  /* dynamic threshold changes */
	uint64_t refused_max;       /* requests not mapped because of M_MMAP_MAX */
};

extern struct kmm_mmap_stats kmm_mmap_stats;

/* Map a chunk for nb bytes (nb = request2size); NULL if the OS refused or
 * M_MMAP_MAX mappings exist already. */
mchunk kmm_mmap_chunk(size_t nb);
/* Check and unmap; also applies the dynamic threshold rule. */
void   kmm_munmap_chunk(mchunk p);
/* Resize with mremap(MREMAP_MAYMOVE); NULL if the OS refused. */
mchunk kmm_mremap_chunk(mchunk p, size_t nb);
/* Abort with a diagnostic unless p looks like a mapped chunk. */
void   kmm_mmap_chunk_check(mchunk p, const char *who);

#endif /* KMM_HEAP_MMAP_CHUNK_H */

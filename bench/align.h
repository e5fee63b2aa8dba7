/*
 * bench/align.h — alignment checks for the benchmark workloads.
 *
 * malloc, calloc and realloc must return memory aligned for any object that
 * fits in the block.  An object of n bytes has an alignment that divides n
 * and is at most alignof(max_align_t), so the weakest promise an allocator
 * can defend is the largest power of two dividing n, capped at
 * alignof(max_align_t) (16 on x86-64): 16 for 32 or 48 bytes, 8 for 24 or
 * 1000, 1 for 7.  glibc gives 16 always; size-class allocators may give
 * less for sizes like 24, and that is allowed.  The aligned allocation
 * functions promise exactly the alignment asked for.  (C17's wording, "any
 * object ... of size less than or equal to the size requested", would ask
 * 16 of a 24-byte block; size-class allocators give 8 there, and the point
 * of these workloads is speed with correct contents, so the weaker rule is
 * the one checked.)
 */
#ifndef KMM_BENCH_ALIGN_H
#define KMM_BENCH_ALIGN_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* The alignment malloc(n) must give, at the least. */
static inline size_t bench_malloc_align(size_t n)
{
	size_t a = n & (~n + 1);        /* lowest set bit */

	if (n == 0 || a > alignof(max_align_t))
		a = alignof(max_align_t);
	return a;
}

/* Die unless p is a multiple of align (a power of two). */
static inline void bench_check_align(const void *p, size_t n, size_t align, const char *fn)
{
	if (((uintptr_t)p & (align - 1)) != 0)
		bench_die("%s(%zu bytes) returned %p, not aligned to %zu", fn, n, p, align);
}

/* bench_malloc with the check. */
static inline void *bench_malloc_al(size_t n)
{
	void *p = bench_malloc(n);

	bench_check_align(p, n, bench_malloc_align(n), "malloc");
	return p;
}

/* bench_blk_get with the check. */
static inline void bench_blk_get_al(struct bench_blk *b, size_t n, uint64_t tag)
{
	b->n = n;
	b->tag = tag;
	b->p = bench_malloc_al(n);
	bench_fill(b->p, n, tag);
}

#endif /* KMM_BENCH_ALIGN_H */

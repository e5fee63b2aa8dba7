/*
 * bench/aligned.h — alignment checks for the workloads that follow published
 * allocator benchmarks (mstress, rptest, glibc-simple, glibc-thread,
 * malloc-large, alloc-test).
 *
 * malloc must return memory suitably aligned for any object that fits in
 * the block: 16 bytes on the 64-bit targets for a block of 16 bytes or more
 * (alignof(max_align_t)), and for a smaller block the largest power of two
 * not above its size (an 8-byte block need only be 8-aligned; jemalloc,
 * tcmalloc and mimalloc do give 8-byte blocks 8-byte alignment).  These
 * helpers die loudly on a block that is not.
 */
#ifndef KMM_BENCH_ALIGNED_H
#define KMM_BENCH_ALIGNED_H

#include "common.h"

/* The alignment an n-byte block from malloc must have (n > 0). */
static inline size_t bench_want_align(size_t n)
{
	size_t a = 1;

	if (n >= 16)
		return 16;
	while (a * 2 <= n)
		a *= 2;
	return a;
}

static inline void bench_check_align(const void *p, size_t n)
{
	if (((uintptr_t)p & (bench_want_align(n) - 1)) != 0)
		bench_die("malloc(%zu) returned %p, not %zu-byte aligned", n, p, bench_want_align(n));
}

/* bench_malloc, then the alignment check. */
static inline void *bench_malloc_al(size_t n)
{
	void *p = bench_malloc(n);

	bench_check_align(p, n);
	return p;
}

/* bench_blk_get with the alignment check. */
static inline void bench_blk_get_al(struct bench_blk *b, size_t n, uint64_t tag)
{
	b->n = n;
	b->tag = tag;
	b->p = bench_malloc_al(n);
	bench_fill(b->p, n, tag);
}

#endif /* KMM_BENCH_ALIGNED_H */

/*
 * chunk.h — the layout of a heap chunk and the size arithmetic around it.
 *
 * kmm's heap side uses the boundary-tag chunks of dlmalloc/ptmalloc, with the
 * same sizes as glibc on 64-bit Linux, so that a program allocating through
 * kmm consumes the heap exactly as it would under glibc and the program break
 * moves the same way.
 *
 *   chunk ->  +-------------------------------+
 *             | prev_size: size of the chunk  |  only meaningful when the
 *             | before, if that one is free   |  previous chunk is free
 *             +-------------------------------+
 *             | head: size | A | M | P        |  size is a multiple of 16
 *   mem   ->  +-------------------------------+  <- what malloc returns
 *             | user data ...                 |     (16-byte aligned)
 *             |                               |
 *   next  ->  +- - - - - - - - - - - - - - - -+
 *             | next->prev_size: also user    |  an in-use chunk borrows the
 *             | data while this chunk is used |  next chunk's prev_size field
 *             +-------------------------------+
 *             | next->head: size | ... | P=1  |  P of the next chunk says
 *             +-------------------------------+  whether this one is in use
 *
 * Flag bits in head:
 *   P  KMM_PREV_INUSE     the previous chunk is in use (or a fencepost)
 *   M  KMM_IS_MMAPPED     glibc's "mapping of its own", which kmm never
 *                         makes (its big blocks have no chunk header:
 *                         big.h).  kmm sets it, as KMM_SAMPLED, on an in-use
 *                         chunk the sampler chose (heap.h, "sampling"), so
 *                         that its free fails the tcache fast path's test
 *                         and reaches the slow path, which clears it (under
 *                         the arena lock) before the chunk goes anywhere; a
 *                         free chunk that shows it, or any chunk in a process
 *                         that does not sample, is corrupt (check.c,
 *                         malloc.c's heap_chunk_size)
 *   A  KMM_NON_MAIN_ARENA the chunk belongs to an arena other than the main
 *                         (brk) arena
 *
 * A free chunk also holds, in what was user data, the bin links fd/bk and,
 * in large bins, the size skip list fd_nextsize/bk_nextsize; its size is
 * repeated at its end (the next chunk's prev_size, the "foot").
 *
 * Usable bytes of an in-use chunk: size - 8 (it borrows the next prev_size).
 */
#ifndef KMM_CHUNK_H
#define KMM_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "../util/compiler.h"
#include "vg.h"

#define KMM_SIZE_SZ        ((size_t)sizeof(size_t))          /* 8 */
#define KMM_ALIGNMENT      ((size_t)16)
#define KMM_ALIGN_MASK     (KMM_ALIGNMENT - 1)
#define KMM_CHUNK_HDR      (2 * KMM_SIZE_SZ)                 /* 16 */
#define KMM_MINSIZE        ((size_t)32)   /* header + fd + bk, aligned */
/* Big blocks (big.h) have no chunk header and are aligned to this, a page
 * of vmalloc's: a pointer not aligned to it always has a header in front
 * of it on the same page. */
#define KMM_BIG_ALIGN      ((uintptr_t)4096)

#define KMM_PREV_INUSE     ((size_t)0x1)
#define KMM_IS_MMAPPED     ((size_t)0x2)
#define KMM_NON_MAIN_ARENA ((size_t)0x4)
#define KMM_SIZE_BITS      (KMM_PREV_INUSE | KMM_IS_MMAPPED | KMM_NON_MAIN_ARENA)
#define KMM_SAMPLED        KMM_IS_MMAPPED

/* Largest request kmm accepts: glibc's limit, so that size arithmetic can
 * never wrap (malloc(SIZE_MAX) fails with ENOMEM). */
#define KMM_MAX_REQUEST    ((size_t)PTRDIFF_MAX - 2 * KMM_MINSIZE)

/* Whether an aligned request of n bytes, over-allocated by alignment +
 * KMM_MINSIZE to cut an aligned chunk out, exceeds KMM_MAX_REQUEST; an
 * alignment above it (up to 2^63) must not wrap the subtraction. */
static inline int kmm_aligned_too_big(size_t alignment, size_t n)
{
	return alignment > KMM_MAX_REQUEST - KMM_MINSIZE || n > KMM_MAX_REQUEST - KMM_MINSIZE - alignment;
}

struct kmm_chunk {
	size_t prev_size;
	size_t head;
	struct kmm_chunk *fd;
	struct kmm_chunk *bk;
	struct kmm_chunk *fd_nextsize;
	struct kmm_chunk *bk_nextsize;
};
typedef struct kmm_chunk *mchunk;

/* The head word.  Under memcheck it is no-access outside these two (vg.h),
 * so every read and write of it goes through them. */
KMM_INLINE size_t chunk_head(const struct kmm_chunk *p)
{
#if KMM_VALGRIND
	if (KMM_UNLIKELY(kmm_vg_on))
		return kmm_vg_head_get(p);
#endif
	return p->head;
}

KMM_INLINE void set_head(struct kmm_chunk *p, size_t h)
{
#if KMM_VALGRIND
	if (KMM_UNLIKELY(kmm_vg_on)) {
		kmm_vg_head_set(p, h);
		return;
	}
#endif
	p->head = h;
}

KMM_INLINE void *chunk2mem(mchunk p)        { return (char *)p + KMM_CHUNK_HDR; }
KMM_INLINE mchunk mem2chunk(const void *m)  { return (mchunk)((char *)m - KMM_CHUNK_HDR); }
KMM_INLINE size_t chunksize(const struct kmm_chunk *p) { return chunk_head(p) & ~KMM_SIZE_BITS; }
KMM_INLINE mchunk chunk_at(const void *p, size_t off) { return (mchunk)((char *)p + off); }
KMM_INLINE mchunk chunk_before(const void *p, size_t off) { return (mchunk)((char *)p - off); }
KMM_INLINE mchunk next_chunk(mchunk p)      { return chunk_at(p, chunksize(p)); }
KMM_INLINE mchunk prev_chunk(mchunk p)      { return (mchunk)((char *)p - p->prev_size); }

KMM_INLINE int prev_inuse(const struct kmm_chunk *p)  { return (int)(chunk_head(p) & KMM_PREV_INUSE); }
KMM_INLINE int chunk_is_mmapped(const struct kmm_chunk *p) { return (chunk_head(p) & KMM_IS_MMAPPED) != 0; }
KMM_INLINE int chunk_is_sampled(const struct kmm_chunk *p) { return (chunk_head(p) & KMM_SAMPLED) != 0; }
KMM_INLINE int chunk_main_arena(const struct kmm_chunk *p) { return (chunk_head(p) & KMM_NON_MAIN_ARENA) == 0; }

/* Whether p is in use, read from the next chunk's P bit. */
KMM_INLINE int inuse(mchunk p)              { return prev_inuse(next_chunk(p)); }
KMM_INLINE int inuse_at(mchunk p, size_t off) { return prev_inuse(chunk_at(p, off)); }
KMM_INLINE void set_inuse_at(mchunk p, size_t off)
{
	mchunk q = chunk_at(p, off);
	set_head(q, chunk_head(q) | KMM_PREV_INUSE);
}
KMM_INLINE void clear_inuse_at(mchunk p, size_t off)
{
	mchunk q = chunk_at(p, off);
	set_head(q, chunk_head(q) & ~KMM_PREV_INUSE);
}
/* Set flag bits in the head. */
KMM_INLINE void set_head_bits(mchunk p, size_t bits) { set_head(p, chunk_head(p) | bits); }

/* Change the size, keep the flags. */
KMM_INLINE void set_head_size(mchunk p, size_t s) { set_head(p, (chunk_head(p) & KMM_SIZE_BITS) | s); }
/* Write the size of a free chunk at its end (the next chunk's prev_size). */
KMM_INLINE void set_foot(mchunk p, size_t s)
{
	KMM_VG_WRITABLE(&chunk_at(p, s)->prev_size, sizeof(size_t));
	chunk_at(p, s)->prev_size = s;
}

KMM_INLINE int aligned_ok(uintptr_t x)      { return (x & KMM_ALIGN_MASK) == 0; }

/*
 * Safe-linking, as glibc has done since 2.32: the singly linked lists of
 * the tcache and the fastbins keep each next pointer XORed with the
 * address of the word holding it shifted right by 12 (its page number).
 * Someone who overwrites the first word of a freed block (a use after
 * free, an overflow) must know where that block is to make the list point
 * where they want, and a leaked stored pointer does not give the heap's
 * address.  A revealed pointer that is not 16-byte aligned means the list
 * was overwritten: malloc aborts.  NULL is stored as the bare page number.
 *
 *     stored = (&field >> 12) ^ next        next = (&field >> 12) ^ stored
 */
#define KMM_PROTECT_PTR(pos, ptr) \
	((__typeof__(ptr))(((uintptr_t)(pos) >> 12) ^ (uintptr_t)(ptr)))
#define KMM_REVEAL_PTR(field) KMM_PROTECT_PTR(&(field), (field))

/* Chunk size for a request: request + 8 bytes of header that is not borrowed,
 * rounded up to 16, at least KMM_MINSIZE.  Callers check the request against
 * KMM_MAX_REQUEST first. */
KMM_INLINE size_t request2size(size_t req)
{
	size_t s = (req + KMM_SIZE_SZ + KMM_ALIGN_MASK) & ~KMM_ALIGN_MASK;
	return s < KMM_MINSIZE ? KMM_MINSIZE : s;
}

/* Bytes the user may use in an in-use chunk. */
KMM_INLINE size_t chunk_usable(mchunk p)
{
	return chunksize(p) - KMM_SIZE_SZ;
}

#endif /* KMM_CHUNK_H */

/*
 * arena_heap.h — the heaps of the further arenas (glibc's heap_info).
 *
 * THEORY
 *
 * Only the main arena may use the program break.  Every other arena lives in
 * heaps: regions of KMM_HEAP_MAX (64 MiB) reserved PROT_NONE and aligned to
 * their size, of which a prefix is made read/write as the arena grows:
 *
 *   h (aligned to 64 MiB)                h + size        h + 64 MiB
 *   |heap_info|chunk|chunk| ... |  top  |### PROT_NONE, reserved ###|
 *              ^ seg.base                ^ grown by mprotect(RW),
 *                                          shrunk by madvise(DONTNEED)
 *
 * Because heaps are aligned to their size, the heap of a chunk is its address
 * rounded down (heap_for_ptr), and the chunk's arena is the heap's `ar`: a
 * chunk with the NON_MAIN_ARENA bit needs no lookup structure.  Before
 * trusting that header, kmm checks that the rounded-down address is a heap it
 * made: one bit per possible heap in a static bitmap (2^21 bits for a 47-bit
 * address space, 256 KiB of bss of which only the pages holding set bits are
 * ever touched).
 *
 * An arena whose top heap is full starts another heap (the old top is closed
 * with two fenceposts, as a segment of the main arena is); a heap whose
 * chunks are all free again (its first chunk is the top) is unmapped and the
 * previous heap's top reopened.  The first heap of an arena stays for the
 * arena's life (arenas are never destroyed, they are reused, as in glibc).
 *
 * Locking: everything here runs with the owning arena's lock held, except
 * kmm_arena_heap_new for the first heap of an arena not yet published.
 */
#ifndef KMM_HEAP_ARENA_HEAP_H
#define KMM_HEAP_ARENA_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

#define KMM_HEAP_MAX_SHIFT 26
#define KMM_HEAP_MAX       ((size_t)1 << KMM_HEAP_MAX_SHIFT)   /* 64 MiB */
#define KMM_HEAP_MIN       ((size_t)32 * 1024)

struct kmm_heap_info {
	struct kmm_arena *ar;          /* the arena this heap belongs to */
	struct kmm_heap_info *prev;    /* the arena's previous heap */
	size_t size;                   /* bytes from h in use (read/write) */
	size_t mprotect_size;          /* bytes from h made read/write so far */
	struct kmm_segment seg;        /* its chunks, for the checker and reports */
};
#define KMM_HEAP_HDR KMM_ALIGN_UP(sizeof(struct kmm_heap_info), KMM_ALIGNMENT)

/* One bit per 64 MiB of the 47-bit user address space. */
#define KMM_HEAP_MAP_WORDS (((uintptr_t)1 << (47 - KMM_HEAP_MAX_SHIFT)) / 64)
extern uint64_t kmm_heap_map[KMM_HEAP_MAP_WORDS];   /* heap_map.c */

KMM_INLINE struct kmm_heap_info *heap_for_ptr(const void *p)
{
	return (struct kmm_heap_info *)((uintptr_t)p & ~(KMM_HEAP_MAX - 1));
}

/* Whether p lies in a heap kmm made (then heap_for_ptr(p) may be read). */
KMM_INLINE bool kmm_heap_registered(const void *p)
{
	uintptr_t i = (uintptr_t)p >> KMM_HEAP_MAX_SHIFT;
	if (KMM_UNLIKELY(i >= KMM_HEAP_MAP_WORDS * 64))
		return false;
	return (__atomic_load_n(&kmm_heap_map[i / 64], __ATOMIC_RELAXED) >> (i % 64)) & 1;
}

/* The arena of a chunk whose header has been validated. */
KMM_INLINE struct kmm_arena *kmm_arena_for_chunk(const struct kmm_chunk *p)
{
	return chunk_main_arena(p) ? &kmm_main_arena : heap_for_ptr(p)->ar;
}

/* A new heap with at least `size` bytes read/write (plus top_pad if it
 * fits), its segment set up to start at the first chunk; NULL if the OS
 * refuses.  The caller links it to its arena. */
struct kmm_heap_info *kmm_arena_heap_new(size_t size, size_t top_pad);

/* Make `a`, a fresh arena (kmm_arena_init done), live in heap h: h's
 * segment becomes its first and only one, all of it the top chunk. */
void kmm_arena_heap_adopt(struct kmm_arena *a, struct kmm_heap_info *h);

/* sysmalloc for a further arena: grow the top heap, or start a new one.
 * Returns the chunk (last_path = KMM_PATH_SYSMALLOC) or NULL with errno =
 * ENOMEM. */
mchunk kmm_arena_heap_sysmalloc(struct kmm_arena *a, size_t nb);

/* glibc's heap_trim: unmap top heaps that are entirely free, then shrink
 * the top heap to leave `pad` bytes if its top exceeds the trim threshold
 * (or always, if `force`).  Returns 1 if memory went back to the OS. */
int kmm_arena_heap_trim(struct kmm_arena *a, size_t pad, bool force);

/* The heap is the arena's: registered, owned by a, and [p, p + size) lies
 * within its chunks.  For validating pointers handed to free/realloc. */
KMM_INLINE bool kmm_arena_heap_contains(const struct kmm_arena *a, const void *p, size_t size)
{
	if (!kmm_heap_registered(p))
		return false;
	const struct kmm_heap_info *h = heap_for_ptr(p);
	if (h->ar != a)
		return false;
	const char *c = p;
	return c >= h->seg.base && size <= (size_t)((const char *)h + h->size - c);
}

#endif /* KMM_HEAP_ARENA_HEAP_H */

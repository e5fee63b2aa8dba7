/*
 * tcache.h — the per-thread cache in front of the arena (glibc's tcache).
 *
 * Each thread owns 64 LIFO bins, one per chunk size 32 ... 1040 bytes
 * (requests up to 1032 bytes), each holding at most tcache_count (7) free
 * chunks.  malloc pops and free pushes without any lock or atomic operation;
 * only when a bin is empty (malloc) or full (free) does the thread go to its
 * arena.
 *
 * The tcache itself is a chunk of the arena (0x290 bytes, allocated by the
 * thread's first malloc, exactly as glibc does), so a program's heap layout
 * and break growth match glibc's.  It is the one piece of kmm's own
 * metadata that does not come from a slab cache (src/kernel/slab.c), on
 * purpose: in a slab, the heap's top is 0x290 bytes bigger than glibc's,
 * and which requests the top serves rather than mmap, and when the break
 * moves, stop matching glibc (tried: heap-strace.sh and options.sh then
 * fail their comparisons with glibc).
 *
 * States of a thread's tcache pointer:
 *
 *   &kmm_tcache_empty  the thread has not allocated yet.  Every count reads
 *                      "full" and every bin is empty, so both fast paths
 *                      fall through to the slow path without testing for
 *                      initialisation; the slow path then creates the tcache.
 *   a real tcache      normal operation.
 *   &kmm_tcache_dead   the thread is exiting: its tcache went back to the
 *                      arena, and frees that glibc makes after the thread
 *                      key destructors ran go straight to the arena.
 *
 * A free chunk in a tcache holds {next, key} in its user data.  `key` is a
 * per-process random value: a free that finds it set scans the bin and
 * reports a double free.
 *
 * Where the tcache lives: this header (layout, states, inline put/get),
 * tcache.c (the static tcaches, making and releasing a thread's tcache, the
 * double-free scan), fastpath.h (the inline malloc/free that pop and push
 * without a call), arena.c (kmm_int_malloc refills a bin from the fastbins,
 * small bins and the unsorted bin), remote.c (frees from other threads
 * drained into the owner's tcache), thread.c (which tcache a thread uses).
 */
#ifndef KMM_HEAP_TCACHE_H
#define KMM_HEAP_TCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "chunk.h"
#include "params.h"

struct kmm_tcache_entry {
	struct kmm_tcache_entry *next;
	uintptr_t key;
};

struct kmm_tcache {
	uint16_t counts[KMM_TCACHE_BINS];
	struct kmm_tcache_entry *heads[KMM_TCACHE_BINS];
};

extern struct kmm_tcache kmm_tcache_empty;
extern struct kmm_tcache kmm_tcache_dead;
extern uintptr_t kmm_tcache_key;

KMM_INLINE bool kmm_tcache_is_real(const struct kmm_tcache *tc)
{
	return tc != &kmm_tcache_empty && tc != &kmm_tcache_dead;
}

/* tcache bin of a chunk size (32 -> 0, 48 -> 1, ...). */
KMM_INLINE size_t kmm_csize2tidx(size_t nb) { return (nb - KMM_MINSIZE) >> 4; }

/* tcache bin of a request size, without computing the chunk size:
 * request2size(n) = max(32, (n + 23) & ~15), so the bin is
 * max(0, ((n + 23) >> 4) - 2). */
KMM_INLINE size_t kmm_req2tidx(size_t n)
{
	size_t t = (n + KMM_SIZE_SZ + KMM_ALIGN_MASK) >> 4;
	return t < 2 ? 0 : t - 2;
}

struct kmm_arena;

/* Once per process, before any tcache is used: the random key. */
void kmm_tcache_key_init(void);

/* A new, empty tcache: a chunk of arena a (never a big block), or NULL if
 * memory ran out.  No lock held. */
struct kmm_tcache *kmm_tcache_new(struct kmm_arena *a);

/* Give every chunk of a tcache back to its arena, then the tcache itself;
 * `mine` is the thread's own arena (or NULL).  No lock held. */
void kmm_tcache_release(struct kmm_arena *mine, struct kmm_tcache *tc);

/* A freed block carries the key: abort if it is in bin tidx (a double
 * free); else the key was user data and the free goes on. */
void kmm_tcache_double_free_check(struct kmm_tcache *tc, size_t tidx, void *mem);
/* Whether bin tidx of tc (NULL: none) holds mem: realloc's check for a
 * block freed already (malloc.c).  A broken list says no. */
bool kmm_tcache_holds(struct kmm_tcache *tc, size_t tidx, const void *mem);

/* A tcache list whose next pointer reveals to a misaligned address: a
 * freed block was written to.  Aborts ("malloc(): unaligned tcache chunk
 * detected", glibc's words). */
KMM_NORETURN KMM_COLD void kmm_tcache_corrupt(const void *entry);

/* poison=on (docs/hardening.md): a block entering the tcache or a fastbin
 * has its bytes after the list words filled with KMM_POISON_FREE; one
 * leaving them is checked, and a changed byte is a write after free
 * (abort).  Both exact-size caches hand blocks back whole, so the check
 * never sees bytes malloc itself wrote. */
void kmm_poison_fill(void *mem);
void kmm_poison_check(const void *mem, const char *who);
/* The same for a block of `usable` bytes that is no heap chunk (a slab
 * object of the front end, which keeps the same two list words). */
void kmm_poison_fill_n(void *mem, size_t usable);
void kmm_poison_check_n(const void *mem, size_t usable, const char *who);

/* The list operations themselves, as the fast paths run them (no poison,
 * no valgrind: an observed process never takes them).  push: e becomes the
 * head of bin idx, marked freed with the key.  pop: e, the head of bin idx
 * (not NULL), leaves it; a next pointer that reveals to a misaligned
 * address means a freed block was written to (abort). */
KMM_INLINE void kmm_tcache_push(struct kmm_tcache *tc, size_t idx, struct kmm_tcache_entry *e)
{
	e->next = KMM_PROTECT_PTR(&e->next, tc->heads[idx]);
	e->key = kmm_tcache_key;
	tc->heads[idx] = e;
	tc->counts[idx]++;
}

KMM_INLINE void kmm_tcache_pop(struct kmm_tcache *tc, size_t idx, struct kmm_tcache_entry *e)
{
	struct kmm_tcache_entry *next = KMM_REVEAL_PTR(e->next);
	if (KMM_UNLIKELY(!aligned_ok((uintptr_t)next)))
		kmm_tcache_corrupt(e);
	tc->heads[idx] = next;
	tc->counts[idx]--;
	e->key = 0;
}

/* The slow paths' put and get: the same, with the debug options. */
KMM_INLINE void kmm_tcache_put(struct kmm_tcache *tc, mchunk p, size_t idx)
{
	struct kmm_tcache_entry *e = chunk2mem(p);
	if (KMM_UNLIKELY(kmm_params.poison))
		kmm_poison_fill(e);
	KMM_VG_WRITABLE(e, sizeof *e);
	kmm_tcache_push(tc, idx, e);
}

KMM_INLINE void *kmm_tcache_get(struct kmm_tcache *tc, size_t idx)
{
	struct kmm_tcache_entry *e = tc->heads[idx];
	kmm_tcache_pop(tc, idx, e);
	if (KMM_UNLIKELY(kmm_params.poison))
		kmm_poison_check(e, "malloc()");
	return e;
}

#endif /* KMM_HEAP_TCACHE_H */

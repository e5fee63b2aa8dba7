/*
 * fastpath.h — malloc and free as they run most of the time: a pop from or
 * a push to a list of this thread's: with front=slab (the default) the
 * slab front end's list of the request's class (kernel/uslab.h), with
 * front=tcache the tcache bin.  No lock, no atomic operation, no call;
 * everything else is in the out-of-line slow paths (malloc.c).  free()
 * asks the slab front end first whatever front= says (blocks are told
 * apart by address): the section table lookup costs a heap chunk one load
 * and a compare.  What follows describes the tcache's part.
 *
 * The tcache pointer of a thread that has not allocated yet points at a
 * static tcache whose bins are all empty and all "full" (tcache.h), so
 * malloc needs no initialisation test; free compares the pointer with that
 * tcache before it reads a header, since in an observed process (the trace
 * log, a debug option, memcheck: params.h) every thread keeps it and no
 * header may be read outside chunk.h's accessors (vg.h).
 *
 * free() checks, before it reads a chunk header at all: the pointer is
 * 16-byte aligned and not page aligned (a big block is page aligned and
 * has no header, big.h), and its address lies in this thread's own arena —
 * inside the main arena's span while that is brk memory alone
 * (arena_fast_spans: once brk failed, every free of the main heap takes
 * the slow path), or in a heap of a further arena whose header names the
 * thread's arena (arena_heap.h; the heap the thread last allocated from is
 * remembered, so mostly no lookup is needed).  Then, before caching the
 * chunk: the size is a small multiple of 16, the M bit clear, the A bit
 * that of the heap it lies in, and the chunk does not carry the tcache key
 * (a probable double free, which the slow path confirms).
 *
 * Unlike glibc's, the tcache keeps only chunks of the thread's own arena:
 * a block of another thread's arena goes back to that arena (its remote
 * list, arenas.h), so a thread does not reuse memory that shares cache
 * lines with another thread's blocks (passive false sharing), and memory
 * flows back to where it came from instead of piling up in consumers'
 * caches.
 *
 * Sampling (heap.h): malloc first subtracts the request from the thread's
 * byte countdown (one TLS subtract and a never-taken branch while sampling
 * is off: the countdown is then 2^63 - 1, set by the thread's first malloc);
 * a call that takes it below zero goes to kmm_heap_malloc_sampled.  A
 * sampled block is a big block (page aligned), whose free never takes the
 * fast path above, so frees of ordinary blocks pay nothing.
 */
#ifndef KMM_HEAP_FASTPATH_H
#define KMM_HEAP_FASTPATH_H

#include "arena.h"
#include "arena_heap.h"
#include "heap.h"
#include "tcache.h"
#include "thread.h"
#include "../kernel/uslab.h"

KMM_INLINE void *kmm_malloc_fast(size_t n, const void *caller)
{
	if (KMM_UNLIKELY(kmm_sample_take(&kmm_self, n)))
		return kmm_heap_malloc_sampled(n, caller);
	if (KMM_LIKELY(kmm_params.front == KMM_FRONT_SLAB_)) {
		if (KMM_LIKELY(n <= KMM_USLAB_MAX)) {
			void *obj = kmm_uslab_pop(kmm_uslab_class(n));
			if (KMM_LIKELY(obj != NULL))
				return obj;
		}
	} else if (KMM_LIKELY(n - 1 < KMM_TCACHE_MAX_BYTES)) {   /* (malloc(0): slow path, zero.h) */
		struct kmm_thread *t = &kmm_self;
		size_t idx = kmm_req2tidx(n);
		struct kmm_tcache *tc = t->tc;
		struct kmm_tcache_entry *e = tc->heads[idx];
		if (KMM_LIKELY(e != NULL)) {
			kmm_tcache_pop(tc, idx, e);
			t->c.tc_alloc_hits++;
			return e;
		}
	}
	return kmm_heap_malloc_slow(n, caller);
}

KMM_INLINE void kmm_free_fast(void *mem)
{
	if (KMM_UNLIKELY(mem == NULL))
		return;
	struct kmm_page *slab = kmm_uslab_head_fast((uintptr_t)mem);
	if (slab != NULL) {
		if (KMM_LIKELY(kmm_uslab_free_fast(slab, mem)))
			return;
		goto slow;
	}
	struct kmm_thread *t = &kmm_self;
	mchunk p = mem2chunk(mem);
	uintptr_t in_page = (uintptr_t)mem & (KMM_BIG_ALIGN - 1);
	struct kmm_tcache *tc = t->tc;
	/* (an observed process has no fast paths: not even a header read) */
	if (KMM_LIKELY((in_page & KMM_ALIGN_MASK) == 0 && in_page != 0 && tc != &kmm_tcache_empty)) {
		/* whose chunk it would be, from the address alone: no header
		 * is read before the address is known to be one of this
		 * thread's heaps (a pointer kmm never handed out goes to the
		 * slow path's diagnostic, not to a fault here) */
		struct kmm_arena *mine = t->arena;
		size_t arena_bit;
		uintptr_t h = (uintptr_t)heap_for_ptr(p);
		if (mine == &kmm_main_arena && arena_fast_spans(&kmm_main_arena, p))
			arena_bit = 0;
		else if ((h == t->heap_hint && h != 0) || (kmm_heap_registered(p) && heap_for_ptr(p)->ar == mine))
			arena_bit = KMM_NON_MAIN_ARENA;
		else
			goto slow;
		size_t head = p->head;
		size_t idx = (head >> 4) - 2;
		if (KMM_LIKELY(idx < kmm_params.tcache_bins &&
			       (head & (KMM_IS_MMAPPED | 8 | KMM_NON_MAIN_ARENA)) == arena_bit &&
			       tc->counts[idx] < kmm_params.tcache_count)) {
			struct kmm_tcache_entry *e = mem;
			if (KMM_LIKELY(e->key != kmm_tcache_key)) {
				kmm_tcache_push(tc, idx, e);
				t->c.tc_free_hits++;
				return;
			}
		}
	}
slow:
	kmm_heap_free_slow(mem);
}

#endif /* KMM_HEAP_FASTPATH_H */

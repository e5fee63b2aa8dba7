/*
 * heap.h — the heap side's entry points: what the public kmm_* API
 * (src/api.c), the preload layer (preload/preload.c) and the observed mode
 * (src/observe.c) call.  All hidden;
 * malloc and free themselves are the inline fast paths of fastpath.h.
 *
 * Semantics are glibc's, function by function (see docs/api.md); errors are
 * reported as glibc does: NULL with errno = ENOMEM or EINVAL, or for a
 * corrupted heap or an invalid pointer, a one-line "kmm: ..." diagnostic and
 * abort().
 */
#ifndef KMM_HEAP_HEAP_H
#define KMM_HEAP_HEAP_H

#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "params.h"
#include "../util/compiler.h"

struct kmm_buf;

/* `caller` is the return address of the exported function (for the
 * vmallocinfo report and, later, the trace log). */
void  *kmm_heap_malloc_slow(size_t n, const void *caller);
void   kmm_heap_free_slow(void *mem);
void  *kmm_heap_calloc(size_t n, size_t size, const void *caller);
void  *kmm_heap_realloc(void *mem, size_t n, const void *caller);
void  *kmm_heap_reallocarray(void *mem, size_t n, size_t size, const void *caller);
void  *kmm_heap_memalign(size_t alignment, size_t n, const void *caller);
int    kmm_heap_posix_memalign(void **out, size_t alignment, size_t n, const void *caller);
void  *kmm_heap_aligned_alloc(size_t alignment, size_t n, const void *caller);
void  *kmm_heap_valloc(size_t n, const void *caller);
void  *kmm_heap_pvalloc(size_t n, const void *caller);
size_t kmm_heap_usable_size(const void *mem);
int    kmm_heap_mallopt(int param, int value);
int    kmm_heap_trim(size_t pad);
struct mallinfo2 kmm_heap_mallinfo2(void);
/* Every arena's counters added up, and the sum of their peak system bytes. */
struct kmm_arena_stats;
void kmm_heap_arena_stats_total(struct kmm_arena_stats *sum, size_t *max_system_mem);
/* Bytes of the headers of the further arenas' heaps. */
size_t kmm_heap_headers_total(void);
/* mallinfo2 of the arenas alone (mallinfo2 adds the slab front end's). */
struct mallinfo2 kmm_heap_mallinfo2_arenas(void);
/* One arena's bytes (the live view, src/live.c). */
struct kmm_heap_arena_usage {
	size_t system, in_use, free;
};
/* Each arena's usage, main arena first, at most max rows (the arenas
 * past the last row summed into it); returns the rows filled. */
size_t kmm_heap_arena_usage(struct kmm_heap_arena_usage *out, size_t max);
/* The free memory of each layer of the heap: what the tcaches, the
 * fastbins, the unsorted/small/large bins, the top chunks and the remote
 * lists hold (blocks and bytes: chunk sizes), and the arenas' bytes from
 * the OS.  Each arena is read under its lock, the tcaches while their
 * threads run; called with no kmm lock held (the trace's layer samples,
 * src/trace.c). */
struct kmm_heap_layers {
	size_t arenas, system;
	size_t tcache_n, tcache_bytes;
	size_t fast_n, fast_bytes;
	size_t bin_n[3], bin_bytes[3];   /* unsorted, small, large */
	size_t top_n, top_bytes;         /* arenas with a top chunk; its bytes */
	size_t remote_n, remote_bytes;
};
void kmm_heap_layers(struct kmm_heap_layers *l);
struct mallinfo  kmm_heap_mallinfo(void);
void   kmm_heap_malloc_stats(void);
int    kmm_heap_malloc_info(int options, FILE *fp);

/* ---- the observed mode (malloc.c) ----------------------------------------
 *
 * Observers — the trace log, the leak scanner, memcheck, the debug options
 * — live above the heap (src/observe.c) and see every malloc-family call
 * through one table, installed at start-up.  While kmm_params.observed
 * (KMM_OBSERVE_* bits, params.h) is not 0, the heap's entry points above
 * hand each call to the table instead of serving it, and every thread's
 * fast paths are off (thread.h, `tc`), so no call escapes; the observer
 * has the work done by the *_unobserved functions below, which are the
 * entry points without that test.  With nothing observed the heap pays one
 * never-taken branch per slow-path call and nothing on the fast paths. */
struct kmm_heap_observer {
	void  *(*malloc)(size_t n, const void *caller);
	void   (*free)(void *mem, const void *caller);
	void  *(*calloc)(size_t n, size_t size, const void *caller);
	void  *(*realloc)(void *mem, size_t n, const void *caller);
	void  *(*memalign)(size_t alignment, size_t n, const void *caller);
	size_t (*usable_size)(const void *mem);
	void   (*thread_exit)(void);   /* a thread's exit hook ran (NULL: nothing to do) */
};

/* Install the observer (NULL: none, the heap's own calls).  From kmm's
 * initialisation, before anything is observed. */
void kmm_heap_set_observer(const struct kmm_heap_observer *o);

/* Called at the end of the malloc and free slow paths, with no kmm lock
 * held, while set (NULL: nothing; one load and a branch): the live view's
 * publication clock (src/live.c), which sits in the layer above. */
extern void (*kmm_heap_slow_hook)(void);

/* Start observing: bits into kmm_params.observed, the calling thread's
 * fast paths off (threads set up later start so). */
void kmm_heap_observe(unsigned bits);

/* The observer's thread_exit, if it has one: from the thread-exit hook
 * (thread.c), while anything is observed. */
void kmm_heap_observer_thread_exit(void);

KMM_INLINE bool kmm_heap_observed(void)
{
	return kmm_params.observed != 0;
}

void  *kmm_heap_malloc_unobserved(size_t n, const void *caller);
void   kmm_heap_free_unobserved(void *mem);
void  *kmm_heap_calloc_unobserved(size_t n, size_t size, const void *caller);
void  *kmm_heap_realloc_unobserved(void *mem, size_t n, const void *caller);
void  *kmm_heap_memalign_unobserved(size_t alignment, size_t n, const void *caller);
size_t kmm_heap_usable_size_unobserved(const void *mem);

/* ---- sampling (malloc.c) -----------------------------------------------------
 *
 * A sampler above the heap (src/sample.h: KMM_SAMPLE) sees some of the
 * allocations, chosen by bytes: each thread keeps a countdown
 * (kmm_self.sample_left, thread.h) that malloc, calloc, realloc and
 * memalign decrement by the request; the call that takes it below zero goes to
 * kmm_heap_malloc_sampled (or calloc's and realloc's own), which asks the
 * sampler whether to sample it (the sampler sets the next countdown).  A
 * sampled block is a chunk of the thread's arena with the M bit set
 * (chunk.h), or a big block if the arena finds the request big: the free
 * of either takes the slow path, where the heap clears the bit and tells
 * the sampler of every sampled chunk and big block freed or reallocated
 * (a sampled block that realloc resizes counts as freed; realloc's result
 * has its own turn at the countdown).  A sampled memalign is an aligned
 * chunk with the M bit (big requests: not sampled, served as usual).
 * Without a sampler (or in an observed process) the countdown is set to
 * INT64_MAX.  The heap knows the sampler only through this table. */
struct kmm_heap_sampler {
	/* the calling thread's countdown went below zero with a request of
	 * n bytes: whether to sample it; sets kmm_self.sample_left */
	bool (*due)(size_t n);
	/* the sampled block mem (n bytes asked for) was made */
	void (*made)(void *mem, size_t n, const void *caller);
	/* the sampled chunk, or the big block, mem is freed or reallocated
	 * (a big block may not be a sample) */
	void (*gone)(void *mem);
};

/* Install the sampler (NULL: none).  From kmm's initialisation. */
void kmm_heap_set_sampler(const struct kmm_heap_sampler *s);

/* Whether a sampler is installed (an M bit on an in-use chunk is valid:
 * chunk.h). */
bool kmm_heap_sampling(void);

/* malloc whose request took the countdown below zero (fastpath.h). */
void *kmm_heap_malloc_sampled(size_t n, const void *caller);

/* Bytes the block at mem holds (a heap chunk's or a big block's); aborts
 * with who's name if mem is not a block kmm handed out. */
size_t kmm_heap_block_usable(const void *mem, const char *who);

/* Reports (stats.c): the human-readable summary kmm run --stats prints,
 * and glibc's malloc_info XML. */
void   kmm_heap_report_summary(struct kmm_buf *b);
void   kmm_heap_report_xml(struct kmm_buf *b);

/* Invariant checker (check.c): walks every segment, bin, fastbin and
 * tcache of the heap and checks them against each other.  Returns the
 * number of violations, each described on fd 2 if `verbose`. */
int    kmm_heap_check(int verbose);

#endif /* KMM_HEAP_HEAP_H */

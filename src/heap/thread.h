/*
 * thread.h — what kmm keeps per thread: the tcache pointer, the arena the
 * thread allocates from, and counters.
 *
 * The record lives in initial-exec TLS (one %fs-relative access, no
 * __tls_get_addr, usable from the first malloc that the dynamic loader
 * makes).  Counters are plain increments of this thread's own record; a
 * report sums the records of the live threads (kept on a list) and the
 * totals that exiting threads merged into.
 *
 * Thread exit: a pthread key destructor flushes the tcache to the arena and
 * marks the thread dead (tcache.h).  Fork: the child's list is cut down to
 * the calling thread; the tcaches of the threads that do not exist in the
 * child stay allocated there, as under glibc.
 */
#ifndef KMM_HEAP_THREAD_H
#define KMM_HEAP_THREAD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tcache.h"
#include "../util/lock.h"

struct kmm_arena;

struct kmm_thread_counters {
	uint64_t tc_alloc_hits;     /* malloc served by the tcache */
	uint64_t tc_free_hits;      /* free kept in the tcache */
	uint64_t tc_alloc_misses;   /* malloc that went to the arena */
	uint64_t tc_free_overflow;  /* free of a tcache size with its bin full */
	uint64_t remote_frees;      /* frees of another arena's chunks (remote batch) */
	uint64_t remote_batches;    /* batches pushed on remote lists */
	uint64_t mallocs_slow;      /* every malloc-family call on the slow path */
	uint64_t frees_slow;
};

struct kmm_thread {
	struct kmm_tcache *tc;        /* first: the fast paths load it ... */
	struct kmm_arena *arena;      /* ... and this, on the same line */
	uintptr_t heap_hint;          /* a heap of `arena` (further arenas): a chunk
					 in it is the thread's own without looking
					 up the heap (fastpath.h) */
	int64_t sample_left;          /* bytes malloc may still hand out before the
					 next call goes to the sampler (heap.h,
					 "sampling"); 0 in a new thread: its first
					 malloc asks the sampler for a countdown */
	struct kmm_thread_counters c;
	const void *caller;           /* return address of the current slow-path call */
	/* Remote batch (remote.h): chunks of another arena freed by this
	 * thread, linked through fd, pushed on that arena's remote list
	 * together. */
	struct kmm_arena *rb_arena;
	struct kmm_chunk *rb_head, *rb_tail;
	unsigned rb_count;
	struct kmm_thread *next, *prev;
	pid_t tid;
	bool listed;
	/* The thread's own tcache (or the static empty or dead one).  `tc`
	 * above is what the fast paths use: the same pointer, except in an
	 * observed process (heap.h, kmm_heap_observe), when it is the static
	 * empty tcache, so that every call takes a slow path, which uses this
	 * one. */
	struct kmm_tcache *tcache;
	uint8_t last_path;            /* the path that served or took the last
					 slow-path call (trace.h's numbers): the
					 heap's account, for observers to read */
	uintptr_t stack_hint;         /* an address in the thread's stack, taken when
					 it registered (for readers of thread
					 stacks: the leak scanner's roots) */
};

extern __thread struct kmm_thread kmm_self __attribute__((tls_model("initial-exec")));

/* Counters of threads that have exited, merged. */
extern struct kmm_thread_counters kmm_threads_gone;
extern kmm_lock_t kmm_threads_lock;
extern size_t kmm_threads_live;

/* Create this thread's tcache (a chunk of its arena) and register the
 * thread.  Returns the tcache, or NULL if memory ran out or the thread is
 * already dead.  Caller holds no lock. */
struct kmm_tcache *kmm_thread_tcache_init(void);

/* The calling thread's tcache, creating it on first use; NULL if the
 * thread is exiting or memory ran out. */
/* The sampling countdown (heap.h, "sampling") takes a request of n bytes:
 * whether it went below zero.  The arithmetic wraps (unsigned), so that a
 * request of 2^63 bytes or more, which fails anyway, takes it below zero
 * instead of overflowing a signed integer. */
KMM_INLINE bool kmm_sample_take(struct kmm_thread *t, size_t n)
{
	t->sample_left = (int64_t)((uint64_t)t->sample_left - (uint64_t)n);
	return t->sample_left < 0;
}

/* Give n bytes back to the countdown (a call counted twice). */
KMM_INLINE void kmm_sample_give_back(struct kmm_thread *t, size_t n)
{
	t->sample_left = (int64_t)((uint64_t)t->sample_left + (uint64_t)n);
}

KMM_INLINE struct kmm_tcache *kmm_thread_tcache(struct kmm_thread *t)
{
	struct kmm_tcache *tc = t->tcache;
	if (KMM_LIKELY(kmm_tcache_is_real(tc)))
		return tc;
	if (tc == &kmm_tcache_dead)
		return NULL;
	return kmm_thread_tcache_init();
}

/* Sum of all counters (live threads + exited ones). */
void kmm_thread_counters_total(struct kmm_thread_counters *out);
/* The chunks every thread's tcache holds, and their bytes (chunk sizes),
 * read while their threads run (the trace's layer samples, src/trace.c). */
void kmm_thread_tcache_totals(size_t *blocks, size_t *bytes);

/* Invariant checker of the thread list: links consistent both ways, every
 * member marked listed, the count equal to kmm_threads_live.  Returns the
 * number of violations (described on stderr if verbose). */
int kmm_thread_check(int verbose);

/* The calling thread's fast paths off (an observer came: heap.h,
 * kmm_heap_observe); threads set up later start so. */
void kmm_thread_fast_paths_off(void);

/* fork handlers (after the arena locks) */
void kmm_thread_fork_prepare(void);
void kmm_thread_fork_parent(void);
void kmm_thread_fork_child(void);

/* The first listed thread (then t->next); kmm_threads_lock held. */
struct kmm_thread *kmm_thread_list(void);

/* Listed threads whose arena is a.  kmm_threads_lock held. */
size_t kmm_thread_count_attached(const struct kmm_arena *a);

#endif /* KMM_HEAP_THREAD_H */

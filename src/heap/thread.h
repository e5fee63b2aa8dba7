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
	struct kmm_thread_counters c;
	const void *caller;           /* return address of the current slow-path call */
	/* Remote batch: chunks of another arena freed by this thread, linked
	 * through fd, pushed on that arena's remote list together (one
	 * compare-and-swap per KMM_REMOTE_BATCH frees) when the batch is full,
	 * when a chunk of a different arena comes, and whenever this thread
	 * takes a malloc slow path or exits (api.c). */
	struct kmm_arena *rb_arena;
	struct kmm_chunk *rb_head, *rb_tail;
	unsigned rb_count;
	struct kmm_thread *next, *prev;
	pid_t tid;
	bool listed;
	/* The thread's own tcache (or the static empty or dead one).  `tc`
	 * above is what the fast paths use: the same pointer, except while
	 * a trace is written, when it is the static empty tcache, so that
	 * every call takes a slow path, which uses this one and records the
	 * call (api.c). */
	struct kmm_tcache *tcache;
	uint8_t tpath;                /* trace: the path that served or took the last call */
	size_t tsize;                 /* trace: the size of the block the last free took */
	uint8_t trace_nest;           /* trace: inside a recorded call */
	uintptr_t stack_hint;         /* an address in the thread's stack, taken when
					 it registered (the leak scanner's roots) */
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

/* Whether t's tcache may be used (not empty, not dead). */
KMM_INLINE struct kmm_tcache *kmm_thread_usable_tcache(struct kmm_thread *t)
{
	return kmm_tcache_is_real(t->tcache) ? t->tcache : NULL;
}

/* Sum of all counters (live threads + exited ones). */
void kmm_thread_counters_total(struct kmm_thread_counters *out);

/* Invariant checker of the thread list: links consistent both ways, every
 * member marked listed, the count equal to kmm_threads_live.  Returns the
 * number of violations (described on stderr if verbose). */
int kmm_thread_check(int verbose);

/* Once per process, from kmm_init: the key that marks chunks in a tcache
 * (double-free detection).  The thread-exit hook is made later (thread.c). */
void kmm_thread_init(void);

/* Start the trace log if KMM_TRACE asked for one (from kmm's
 * initialisation): the buffers come from the slab cache "kmm_trace_buf",
 * and the calling thread's fast paths are switched off (tcache above). */
void kmm_thread_trace_start(void);

/* Switch the calling thread's fast paths off if the trace log or a debug
 * option (poison, init_on_alloc, init_on_free) is on. */
void kmm_thread_fast_paths_check(void);

/* fork handlers (after the arena locks) */
void kmm_thread_fork_prepare(void);
void kmm_thread_fork_parent(void);
void kmm_thread_fork_child(void);

/* Give every chunk of a tcache back to its arena, then the tcache itself;
 * `mine` is the thread's own arena (or NULL).  No lock held. */
void kmm_tcache_release(struct kmm_arena *mine, struct kmm_tcache *tc);

/* Free an in-use heap chunk that no tcache takes, from a thread whose
 * arena is `mine`: remote push if other threads use its arena, else into
 * the bins under the arena lock.  No lock held. */
void kmm_free_chunk_to_arena(struct kmm_arena *mine, mchunk p);

/* Push t's remote batch, if any, on its arena's remote list (t is the
 * calling thread, or a thread being torn down). */
void kmm_thread_remote_flush(struct kmm_thread *t);

/* The first listed thread (then t->next); kmm_threads_lock held. */
struct kmm_thread *kmm_thread_list(void);

/* Listed threads whose arena is a.  kmm_threads_lock held. */
size_t kmm_thread_count_attached(const struct kmm_arena *a);

#endif /* KMM_HEAP_THREAD_H */

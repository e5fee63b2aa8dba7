/*
 * trace.h — the allocation trace log writer (KMM_TRACE=FILE).  The format
 * is src/trace_format.h (docs/trace.md describes it); the reader is
 * kmm-trace (tools/trace/).
 *
 * Low in the house: the heap side, the kernel side and the OS layer report
 * to it; it depends on nothing in kmm but sys.h (raw system calls) and
 * util/compiler.h.  The memory for the per-thread buffers comes from a
 * provider kmm's initialisation registers (init.c: a slab cache; all
 * of kmm's metadata comes from slab caches), so no include goes upwards.
 *
 * Every hook is guarded by kmm_trace_on, false unless a trace is being
 * written; the malloc and free fast paths have no hook at all (while
 * tracing, a thread's fast-path tcache pointer is the static empty tcache,
 * so every call takes a slow path, and the observed mode records it:
 * src/observe.c).
 */
#ifndef KMM_TRACE_H
#define KMM_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

/* The format: event types (KMM_TR_*) and paths (KMM_TP_*) are there. */
#include "trace_format.h"

/* Whether a trace is being written (read by every hook; set once). */
extern bool kmm_trace_on;

/* Where the heap side gets and returns the per-thread buffers. */
struct kmm_trace_provider {
	void *(*alloc)(void);         /* KMM_TRACE_BUF_SIZE bytes, or NULL */
	void (*free)(void *buf);
	/* record a layer sample numbered `sample` (layer events; NULL: none),
	 * called with no kmm lock held: trace_layers.h */
	void (*layers)(uint64_t sample);
};
#define KMM_TRACE_BUF_SIZE 65536

/* Start tracing to `path` (KMM_TRACE): creates the file (docs/trace.md,
 * "Files"), writes the header, the info block and a maps snapshot.
 * Called once, from kmm's initialisation; returns false if the file could
 * not be created (tracing stays off).  `depth`: backtrace frames asked
 * for (recorded in the header; 0 = none). */
bool kmm_trace_start(const char *path, unsigned depth, const struct kmm_trace_provider *provider);

/* Record an event (fields: docs/trace.md).  Never allocates from the
 * program's heap; may ask the provider for this thread's buffer. */
KMM_NOINLINE void kmm_trace_event(unsigned type, unsigned path, uint32_t aux, uint64_t a, uint64_t b,
				  uint64_t c, uint64_t d);

/* A sequence number taken now for an event recorded later: a free's and a
 * realloc's are taken before the call can hand its block to another
 * thread, so that the block's next malloc, elsewhere, comes after it
 * (docs/trace.md, "Order"). */
uint64_t kmm_trace_reserve(void);
#define KMM_TRACE_SEQ_NOW UINT64_MAX

/* Record a malloc-family call, numbered `seq` (from kmm_trace_reserve, or
 * KMM_TRACE_SEQ_NOW for a number taken now): with a backtrace of up to the
 * KMM_TRACE_BACKTRACE frames outside kmm, once an unwinder is set
 * (backtrace.h). */
#define KMM_TRACE_MAX_FRAMES 64
KMM_NOINLINE void kmm_trace_call_at(uint64_t seq, unsigned type, unsigned path, uint32_t aux, uint64_t a,
				    uint64_t b, uint64_t c, uint64_t d);

#define KMM_TRACE(type, path, aux, a, b, c, d)                                                      \
	do {                                                                                        \
		if (KMM_UNLIKELY(kmm_trace_on))                                                     \
			kmm_trace_event((type), (path), (aux), (uint64_t)(a), (uint64_t)(b),        \
					(uint64_t)(c), (uint64_t)(d));                              \
	} while (0)

/* At the start of a malloc-family call, with no kmm lock held (observe.c):
 * an rss sample and a layer sample (trace_layers.h) when 10 ms or more
 * have passed since the last ones, later when the last layer sample was
 * slow (at most 2% of the time goes to them). */
void kmm_trace_tick(void);

/* The path of this thread's last vmalloc event (11 new or 12 reused). */
unsigned kmm_trace_last_vmalloc_path(void);

/* This thread ends: record it, write its buffer, give the buffer back. */
void kmm_trace_thread_exit(void);

/* Normal process exit: a maps snapshot, every thread's buffer, the end
 * block.  Events after this are written one block each. */
void kmm_trace_finish(void);

/* fork: the registry lock in prepare; in the child, a file of its own
 * (FILE.PID) and none of the parent's unwritten events. */
void kmm_trace_fork_prepare(void);
void kmm_trace_fork_parent(void);
void kmm_trace_fork_child(void);

#endif /* KMM_TRACE_H */

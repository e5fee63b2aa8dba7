/*
 * backtrace.h — call stacks of the program, taken from inside the
 * allocator: shared by the trace log (trace.c) and the sampled heap
 * profile (sample.c).
 *
 * Contract: the unwinder is libunwind (unw_backtrace, and unw_step for a
 * thread's first stacks: backtrace.c), which the library
 * constructor loads (init.c: dlopen may allocate, so never from inside
 * malloc) when a user of backtraces is on; until then, and in a process
 * without libunwind, kmm_backtrace returns 0 frames.  kmm_backtrace does
 * not allocate itself; the unwinder may (its first call per thread), and
 * a malloc it makes is served normally: a backtrace taken while this
 * thread is taking one already returns 0 frames.  Frames inside kmm's own
 * code (the range given with the unwinder) are left out, innermost first.
 */
#ifndef KMM_BACKTRACE_H
#define KMM_BACKTRACE_H

#include <stdint.h>

/* At most this many frames are asked for beyond `max` (kmm's own ones at
 * the top of the stack, left out). */
#define KMM_BACKTRACE_OWN 16

/* libunwind's step-by-step API (unw_getcontext, unw_init_local, unw_step,
 * unw_get_reg: _Ux86_64_getcontext, _ULx86_64_init_local, ...), walked for
 * a thread's first stacks (backtrace.c says why).  Their context and cursor
 * arguments are opaque here. */
struct kmm_unwind_step {
	int (*getcontext)(void *ctx);
	int (*init_local)(void *cursor, void *ctx);
	int (*step)(void *cursor);
	int (*get_reg)(void *cursor, int reg, uint64_t *value);
};

/* The unwinder (unw_backtrace), its step API (NULL, or one with a NULL
 * member: unw_backtrace always) and the range [lo, hi) of kmm's code. */
void kmm_backtrace_set_unwinder(int (*fn)(void **frames, int max), const struct kmm_unwind_step *step,
				uintptr_t lo, uintptr_t hi);

/* Whether an unwinder is set. */
int kmm_backtrace_available(void);

/* Up to max (at most 64) return addresses of the calling thread's stack
 * outside kmm, innermost first, into frames; returns how many. */
unsigned kmm_backtrace(uint64_t *frames, unsigned max);

#endif /* KMM_BACKTRACE_H */

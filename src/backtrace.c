/*
 * backtrace.c — the program's call stack from inside the allocator (see
 * backtrace.h): libunwind, kmm's own frames skipped, no nested unwinding
 * on one thread.
 *
 * Two ways to walk, both libunwind's:
 *
 *   unw_backtrace   fast per stack (a per-thread cache of frame layouts),
 *                   but a thread's first call builds that cache: a 256 KiB
 *                   mapping, every page of it written, unmapped at thread
 *                   exit (libunwind 1.6, x86_64 Gtrace.c).  In this VM that
 *                   is ~350 us per thread, which made larson (hundreds of
 *                   short threads) 1.22x slower with KMM_SAMPLE=512k.
 *   unw_step        a loop over unw_init_local/unw_step/unw_get_reg: no
 *                   per-thread state (libunwind's global cache), ~5 us per
 *                   stack.
 *
 * A thread's first KMM_BACKTRACE_STEPPED stacks are walked with unw_step,
 * the rest with unw_backtrace: a thread that takes few (most, when
 * sampling) never builds the cache; one that takes many (a trace with
 * backtraces, a long-lived thread) pays ~64 x 5 us once.  Both return the
 * same return addresses for the same stack.
 */
#include "config.h"

#include <stddef.h>
#include <ucontext.h>

#include "backtrace.h"
#include "util/compiler.h"

static int (*unwinder)(void **frames, int max);
static struct kmm_unwind_step stepper;
static uintptr_t own_lo, own_hi;     /* kmm's code: frames there are skipped */
static KMM_TLS uint8_t in_unwind;    /* taking a backtrace now: no nested ones */
static KMM_TLS uint8_t stepped;      /* stacks this thread walked with unw_step */

#define KMM_BACKTRACE_STEPPED 64
#define UNW_IP 16                    /* UNW_REG_IP on x86_64 (UNW_X86_64_RIP) */

void kmm_backtrace_set_unwinder(int (*fn)(void **frames, int max), const struct kmm_unwind_step *step,
				uintptr_t lo, uintptr_t hi)
{
	own_lo = lo;
	own_hi = hi;
	if (step != NULL && step->getcontext && step->init_local && step->step && step->get_reg)
		stepper = *step;
	__atomic_store_n(&unwinder, fn, __ATOMIC_RELEASE);
}

int kmm_backtrace_available(void)
{
	return __atomic_load_n(&unwinder, __ATOMIC_ACQUIRE) != NULL;
}

/* unw_step's walk, as libunwind's own fallback in unw_backtrace does it:
 * the frames above this function's, their instruction pointers. */
static KMM_NOINLINE int step_walk(void **frames, int max)
{
	/* libunwind's unw_context_t is a ucontext_t on x86_64 Linux and its
	 * unw_cursor_t 127 words (UNW_TDEP_CURSOR_LEN): room for both */
	_Alignas(64) unsigned char ctx[sizeof(ucontext_t) + 256];
	_Alignas(64) unsigned char cur[127 * 8 + 256];
	int n = 0;
	if (stepper.getcontext(ctx) < 0 || stepper.init_local(cur, ctx) < 0)
		return 0;
	while (n < max && stepper.step(cur) > 0) {
		uint64_t ip;
		if (stepper.get_reg(cur, UNW_IP, &ip) < 0)
			break;
		frames[n++] = (void *)(uintptr_t)ip;
	}
	return n;
}

unsigned kmm_backtrace(uint64_t *frames, unsigned max)
{
	int (*fn)(void **, int) = __atomic_load_n(&unwinder, __ATOMIC_ACQUIRE);
	void *raw[64 + KMM_BACKTRACE_OWN];
	unsigned n = 0;
	if (max > 64)
		max = 64;
	if (fn == NULL || in_unwind || max == 0)
		return 0;
	in_unwind = 1;
	int got;
	if (stepper.step != NULL && stepped < KMM_BACKTRACE_STEPPED) {
		stepped++;
		got = step_walk(raw, (int)(max + KMM_BACKTRACE_OWN));
	} else
		got = fn(raw, (int)(max + KMM_BACKTRACE_OWN));
	in_unwind = 0;
	int i = 0;
	while (i < got && (uintptr_t)raw[i] >= own_lo && (uintptr_t)raw[i] < own_hi)
		i++;   /* kmm's own frames */
	for (; i < got && n < max; i++)
		frames[n++] = (uint64_t)(uintptr_t)raw[i];
	return n;
}

/*
 * backtrace.c — the program's call stack from inside the allocator (see
 * backtrace.h): libunwind's unw_backtrace, kmm's own frames skipped, no
 * nested unwinding on one thread.
 */
#include "config.h"

#include <stddef.h>

#include "backtrace.h"
#include "util/compiler.h"

static int (*unwinder)(void **frames, int max);
static uintptr_t own_lo, own_hi;     /* kmm's code: frames there are skipped */
static KMM_TLS uint8_t in_unwind;    /* taking a backtrace now: no nested ones */

void kmm_backtrace_set_unwinder(int (*fn)(void **frames, int max), uintptr_t lo, uintptr_t hi)
{
	own_lo = lo;
	own_hi = hi;
	__atomic_store_n(&unwinder, fn, __ATOMIC_RELEASE);
}

int kmm_backtrace_available(void)
{
	return __atomic_load_n(&unwinder, __ATOMIC_ACQUIRE) != NULL;
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
	int got = fn(raw, (int)(max + KMM_BACKTRACE_OWN));
	in_unwind = 0;
	int i = 0;
	while (i < got && (uintptr_t)raw[i] >= own_lo && (uintptr_t)raw[i] < own_hi)
		i++;   /* kmm's own frames */
	for (; i < got && n < max; i++)
		frames[n++] = (uint64_t)(uintptr_t)raw[i];
	return n;
}

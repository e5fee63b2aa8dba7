/*
 * trim.c — when free memory at the top of a heap goes back to the OS
 * (trim_rule, params.h).
 *
 * glibc's rule (trim_rule=glibc, profile=glibc): a free that leaves the top
 * chunk above trim_threshold gives back all of it but top_pad, at once.  A
 * program that frees a batch and allocates it again pays for that every
 * round: the break (or a thread heap) shrinks, grows again, and every page
 * faults in anew (bench/glibc-simple: 1024 blocks of 4 KiB).
 *
 * kmm's rule (trim_rule=decay, profile=kmm):
 *
 *  1. Periods.  A trim decision (a free that leaves the top above
 *     trim_threshold) ends a period; the next carve from the top starts a
 *     new one.  A period is thus an allocation phase and the frees that
 *     follow it.  The arena remembers the highest address its top chunk
 *     started at during the period (top_high, kept by kmm_split_top): how
 *     far into the top the program reached.
 *  2. Every decision keeps that much above the top as well as top_pad (at
 *     most KMM_TRIM_DECAY_MAX): what the period used is likely to be used
 *     again.  Memory the program did not reach for one whole period goes
 *     back at that period's first decision.
 *  3. Growing elsewhere.  Before an arena asks the OS for more memory, the
 *     other arenas' tops that nobody reached into since their last decision
 *     are trimmed to top_pad (kmm_arenas_trim_idle): memory one thread kept
 *     for reuse must not add to what another thread grows by (bench/
 *     glibc-simple runs its batches in the main thread, then in a second
 *     thread with an arena of its own).  Other arenas are only trylocked:
 *     this never waits, so it adds no lock-order edge.
 *
 * malloc_trim and mallopt are not affected: they trim to the pad given.
 */
#include "config.h"

#include "arena.h"
#include "arena_heap.h"
#include "arenas.h"
#include "params.h"

size_t kmm_trim_pad(struct kmm_arena *a)
{
	size_t pad = kmm_params.top_pad;
	if (kmm_params.trim_rule == KMM_TRIM_DECAY) {
		char *top = (char *)a->top;
		size_t reached = a->top_high > top ? (size_t)(a->top_high - top) : 0;
		if (reached > KMM_TRIM_DECAY_MAX)
			reached = KMM_TRIM_DECAY_MAX;
		a->top_period_done = true;
		pad += reached;
	}
	return pad;
}

/* Whether arena b keeps a top above trim_threshold that nothing carved
 * from since its last decision (racy read; rechecked under b's lock). */
static bool idle_top(const struct kmm_arena *b)
{
	return __atomic_load_n(&b->top_period_done, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&b->top, __ATOMIC_RELAXED) != NULL &&
	       top_size(b) >= kmm_trim_threshold();
}

void kmm_arenas_trim_idle(struct kmm_arena *a)
{
	if (kmm_params.trim_rule != KMM_TRIM_DECAY)
		return;
	kmm_for_each_arena(b) {
		if (b == a || !idle_top(b) || !kmm_trylock(&b->lock))
			continue;
		if (idle_top(b)) {
			if (b == &kmm_main_arena)
				kmm_systrim(b, kmm_params.top_pad);
			else
				kmm_arena_heap_trim(b, kmm_params.top_pad, false);
		}
		kmm_unlock(&b->lock);
	}
}

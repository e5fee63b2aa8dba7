/*
 * rescue.h — the rescue heap (rescue.c): what serves the malloc family in
 * a fork child whose heap cannot be trusted.
 *
 * The fork prepare handler (init.c) quiesces the heap by taking every kmm
 * lock.  It cannot when the fork comes from a signal handler that
 * interrupted kmm on the forking thread (kmm_busy, util/lock.h), or when
 * another thread keeps a lock past the deadline (a thread that is itself
 * in a signal handler waiting to fork).  It then takes nothing, and the
 * child starts the rescue heap: from then on the child never touches the
 * heap it inherited.
 */
#ifndef KMM_HEAP_RESCUE_H
#define KMM_HEAP_RESCUE_H

#include <stdbool.h>

#include "params.h"
#include "../util/compiler.h"

/* In a fork child, from the child handler, before anything else: the
 * observed mode's door leads here from now on (KMM_OBSERVE_RESCUE), the
 * thread's fast paths are cut without taking a lock.  Idempotent. */
void kmm_rescue_start(void);

/* Whether this process is a rescued fork child: the entry points that do
 * not go through the door (mallopt, trim, the statistics and reports, the
 * exit handlers, thread exit) answer without touching the heap. */
KMM_INLINE bool kmm_rescued(void)
{
	return KMM_UNLIKELY(kmm_params.observed & KMM_OBSERVE_RESCUE);
}

/* What the rescue heap did (for the rescue tests; glibc's mallinfo2 of a
 * rescued child reads zero). */
struct kmm_rescue_stats {
	unsigned long maps;       /* blocks mapped */
	unsigned long unmaps;     /* of those, freed */
	unsigned long dropped;    /* frees of inherited blocks, left alone */
	unsigned long copied;     /* reallocs of inherited blocks */
};
void kmm_rescue_stats(struct kmm_rescue_stats *st);

#endif /* KMM_HEAP_RESCUE_H */

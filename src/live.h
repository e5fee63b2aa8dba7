/*
 * live.h — the live view (KMM_LIVE=1): this process's counters and
 * report sections published in /dev/shm/kmm.PID for `kmm cat` and
 * `kmm top` (src/live_format.h has the layout, src/live.c the writer).
 *
 * No thread of its own: the malloc and free slow paths call kmm_live_tick_slow(),
 * which, on every 16th slow path of a thread, publishes when at least
 * KMM_LIVE_PERIOD_NS passed since the last publication; the library constructor publishes first, the destructor
 * last, then removes the segment.  A process that stops allocating keeps
 * showing its last publication (readers show its age).
 */
#ifndef KMM_LIVE_H
#define KMM_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"

#define KMM_LIVE_PERIOD_NS 100000000ull   /* 100 ms */

/* True while this process has a segment (read on the slow paths). */
extern bool kmm_live_on;

/* Create the segment and publish once (the library constructor, with
 * KMM_LIVE set; no kmm lock held).  On failure a warning, and no live view. */
void kmm_live_start(void);

/* Publish now if the period has passed and no other thread is publishing.
 * The heap's slow paths call it (kmm_heap_slow_hook, heap/heap.h, set
 * while live) with no kmm lock held. */
void kmm_live_tick_slow(void);

/* The fork child's handler: drop the parent's segment (without writing
 * it); the child's own, /dev/shm/kmm.CHILDPID, is made and published on
 * its first slow path; a rescued child (heap/rescue.h) has none. */
void kmm_live_fork_child(bool rescued);

/* At exit (the library destructor): a last publication, then the segment
 * is removed. */
void kmm_live_exit(void);

/* On a fatal error, before abort(): remove the segment (a system call, no
 * lock, nothing else). */
void kmm_live_unlink(void);

#endif /* KMM_LIVE_H */

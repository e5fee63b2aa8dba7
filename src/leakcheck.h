/*
 * leakcheck.h — the leak scanner, after the kernel's kmemleak
 * (KMM_LEAKCHECK=1, kmm_leak_check(); docs/hardening.md, "The leak
 * scanner").
 *
 * Theory.  While tracking is on (it starts with kmm, never later: a block
 * allocated before would be unknown), every block an outermost
 * malloc-family call hands out is entered in a table (address -> requested
 * size, the caller's return address) and leaves it before it is freed
 * (the observed calls of observe.c).  A scan treats every aligned word of
 * the roots — the writable data and bss of every loaded object but kmm,
 * every kmm thread's stack and static TLS, the scanning thread's registers
 * — as a possible pointer: a word that points into a tracked block (its
 * first byte or any interior byte) marks the block referenced, and a
 * referenced block is scanned in turn (a gray list), until nothing
 * changes.  Blocks never marked are reported: no pointer to them exists
 * anywhere the program could still reach.  The scan is conservative: any
 * word that happens to look like a pointer keeps a block (a false
 * negative); a pointer kmm cannot see (hidden by XOR or tagging, held only
 * in memory the program mapped itself, in another thread's registers)
 * makes a false report.
 *
 * Lock order: util/lock.h (KMM_RANK_LEAK_SCAN, KMM_RANK_LEAK_SHARD).  A
 * scan holds scan_lock (one scan at a time), kmm_threads_lock and every
 * shard lock (in index order).  The track/untrack paths take one shard lock
 * and nothing else but the kernel side (the table grows with kmm_vmalloc).  No lock of this file is held
 * while the dynamic loader's locks are taken (dl_iterate_phdr, dladdr).
 */
#ifndef KMM_LEAKCHECK_H
#define KMM_LEAKCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the table knew about a block (for realloc). */
struct kmm_leak_rec {
	size_t size;
	const void *caller;
};

/* KMM_LEAKCHECK asked for tracking: from kmm's initialisation (or the
 * constructor if the environment came late).  Sets KMM_OBSERVE_LEAKS. */
void kmm_leakcheck_start(void);

/* From the library constructor: what may allocate or look symbols up
 * (the size of the static TLS, a private copy of stderr for the exit
 * report). */
void kmm_leakcheck_constructor(void);

/* From the library destructor: the report at exit, if KMM_LEAKCHECK asked
 * for one. */
void kmm_leakcheck_exit(void);

/* Block mem of n requested bytes was handed out, called from `caller`. */
void kmm_leakcheck_track(void *mem, size_t n, const void *caller);

/* mem is about to be freed or reallocated: out of the table.  Returns
 * whether it was there, and what the table held about it in *rec (rec
 * may be NULL). */
bool kmm_leakcheck_untrack(const void *mem, struct kmm_leak_rec *rec);

/* After realloc(old, n) returned nmem: track nmem; or, if the realloc
 * failed (nmem == NULL, n != 0), the old block again as it was (rec: what
 * kmm_leakcheck_untrack said, NULL if old was not tracked). */
void kmm_leakcheck_realloced(void *old, void *nmem, size_t n, const void *caller,
			     const struct kmm_leak_rec *rec);

/* Scan now (kmm_leak_check): the report goes to fd (-1: none).  Returns
 * the number of unreferenced blocks, or -1 with errno = ENOSYS (tracking
 * is off) or ENOMEM (no memory for the scan's index). */
int kmm_leakcheck_scan(int fd);

/* Blocks in the table now (tests). */
size_t kmm_leakcheck_tracked(void);

/* fork: scan_lock first of all kmm locks; the shard locks after
 * kmm_threads_lock and kmm_big_stats_lock, before the kernel side's */
void kmm_leakcheck_fork_prepare_scan(void);
void kmm_leakcheck_fork_prepare_table(void);
void kmm_leakcheck_fork_parent(void);
void kmm_leakcheck_fork_child(void);

#endif /* KMM_LEAKCHECK_H */

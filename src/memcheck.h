/*
 * memcheck.h — the observed mode's part under valgrind's memcheck
 * (memcheck.c): what observe.c tells memcheck about each block.  The
 * theory is heap/vg.h's; all of this exists only when kmm is built with
 * valgrind's headers (KMM_VALGRIND).
 */
#ifndef KMM_MEMCHECK_H
#define KMM_MEMCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "heap/vg.h"

#if KMM_VALGRIND
/* At start-up, once heap/vg.c found memcheck running (kmm_vg_start): the
 * quarantine's ring, and the observed mode on (KMM_OBSERVE_MEMCHECK). */
void   kmm_memcheck_start(void);

/* The observed calls under memcheck (src/observe.c).  `usable` is what the
 * chunk or big block holds (>= n + KMM_VG_EXTRA). */
void   kmm_vg_alloc(void *mem, size_t n, size_t usable, bool zeroed);
/* The n of a block announced by kmm_vg_alloc. */
size_t kmm_vg_requested(const void *mem, size_t usable);
/* Resize in place to n bytes (n + KMM_VG_EXTRA <= usable). */
void   kmm_vg_resize(void *mem, size_t old_n, size_t n, size_t usable);
/* memcheck=exact: a realloc kmm made as usual moved the block (its
 * bytes copied), or resized it in place. */
void   kmm_vg_moved(void *old, size_t old_usable, bool old_big, void *mem, size_t usable, bool zeroed);
void   kmm_vg_resized(void *mem, size_t old_usable, size_t usable, bool big);
/* Whether memcheck knows mem as a live block: if not, it has reported the
 * invalid use (a realloc of a freed block, say). */
bool   kmm_vg_is_live(void *mem);
/* free: FREELIKE; false if memcheck rejected the free (it said why: a
 * double free, a pointer it never saw allocated). */
bool   kmm_vg_freelike(void *mem);
/* Then into the quarantine; the blocks it pushes out are handed to
 * free_now. */
void   kmm_vg_quarantine(void *mem, size_t usable, void (*free_now)(void *));

/* fork: the quarantine lock (before heap/vg.c's header lock) */
void kmm_memcheck_fork_prepare(void);
void kmm_memcheck_fork_parent(void);
void kmm_memcheck_fork_child(void);
#endif

#endif /* KMM_MEMCHECK_H */

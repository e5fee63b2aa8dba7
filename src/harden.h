/*
 * harden.h — the hardening observers (harden.c), on the observed door
 * (observe.h) like the trace log and memcheck: redzones and the
 * quarantine of freed blocks.  profile=hardened turns both on; each is an
 * option of its own (docs/options.md).
 *
 * redzone=on    every block is asked of the heap 48 bytes bigger
 *               (KMM_REDZONE); the bytes past the request are a canary,
 *               the last word of the block records where the canary
 *               starts.  free and realloc check both: an overflow of up to
 *               40 bytes past the request (or any overwrite of the
 *               trailer) aborts.  malloc_usable_size reports the request.
 * quarantine=N  a freed block waits in a FIFO of at most N bytes before
 *               the heap gets it back: its memory is zeroed (a heap block,
 *               a big block below 64 KiB) or made no-access (a big block
 *               of 64 KiB or more), so that a write after
 *               free is found when it leaves (the zeroes are checked) or
 *               faults at once, a stale pointer keeps reading zeroes, and
 *               malloc does not hand the same address out again soon.  A
 *               second free of a waiting block aborts (redzone=on: its
 *               trailer is gone; a big block: a set of them is kept).
 *               Each allocation also checks the newest block this thread
 *               freed, once, so a write through a pointer freed just
 *               before is found early.  A thread gathers its frees in a
 *               batch of 16 before they join the shared ring (one lock
 *               per 16 frees).
 *
 * Lock order: the quarantine lock is a leaf (KMM_RANK_QUARANTINE): held to
 * push, pop and check one block; blocks pushed out are freed after it is
 * dropped.  Fork takes it (init.c).
 */
#ifndef KMM_HARDEN_H
#define KMM_HARDEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes added to each request under redzone=on: at least 40 of canary and
 * the trailer word. */
#define KMM_REDZONE ((size_t)48)

/* The request an observed allocation makes of the heap for n bytes. */
size_t kmm_redzone_pad(size_t n);

/* A block of `n` bytes was just handed out at mem: write its canary. */
void kmm_redzone_set(void *mem, size_t n);

/* The bytes asked for the live block at mem (its canary checked: a broken
 * one aborts, naming `who`).  A zero-size block or one without a trailer
 * (redzone off when it was made) is taken at its usable size. */
size_t kmm_redzone_check(void *mem, const char *who);

/* The options were read late (a malloc before libc set up `environ`):
 * heap blocks below `end` (the main heap's top then) may have been made
 * without a trailer; one whose trailer does not decode is taken at its
 * usable size, unchecked. */
void kmm_harden_early(uintptr_t end);

/* free() of an observed call under the hardening observers: checks, then
 * the quarantine (or free_now at once when it is off). */
void kmm_harden_free(void *mem, void (*free_now)(void *));

/* realloc under redzone=on (its own, so that the old block goes through
 * the quarantine and the new one gets its canary). */
void *kmm_harden_realloc(void *mem, size_t n, const void *caller);

/* Each observed allocation: the newest quarantined block is checked once. */
void kmm_harden_on_alloc(void);

/* The checker: the quarantine's count and bytes match its ring, every
 * waiting heap block still reads as zero; returns violations. */
int kmm_harden_check(int verbose);

/* The thread is exiting: its batch of freed blocks into the ring; its
 * later frees (glibc's, after the thread-key destructors) go there at once. */
void kmm_harden_thread_exit(void);

void kmm_harden_fork_prepare(void);
void kmm_harden_fork_parent(void);
void kmm_harden_fork_child(void);

#endif /* KMM_HARDEN_H */

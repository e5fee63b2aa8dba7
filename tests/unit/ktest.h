/*
 * ktest.h — helpers shared by the kernel-side unit tests (test_buddy,
 * test_slab, test_vmalloc, test_region) and test_rbtree: a seeded
 * generator whose seed every failure message prints, the byte patterns of
 * pattern.h, and the kernel side's fork handlers.
 */
#ifndef KMM_KTEST_H
#define KMM_KTEST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/kernel.h"
#include "util/lock.h"
#include "pattern.h"

/* These tests link the kernel side and the base layer only, without
 * src/init.c, whose constructor registers kmm's fork handlers in a real
 * process: register the kernel side's here, as init.c does (its locks
 * taken before fork, released in the parent, reset in the child), or a
 * fork while another thread holds a kernel lock leaves the child stuck. */
static void ktest_fork_prepare(void)
{
	struct kmm_fork_log log;
	kmm_lock_witness_fork_prepare();
	kmm_fork_locks_begin(&log);
	kmm_kernel_fork_prepare();
	if (!kmm_fork_locks_end())
		abort();   /* (a kernel lock held for 100 ms in these tests: a bug) */
	kmm_in_fork = true;
}

static void ktest_fork_parent(void)
{
	kmm_in_fork = false;
	kmm_kernel_fork_parent();
	kmm_lock_witness_fork_parent();
}

static void ktest_fork_child(void)
{
	kmm_in_fork = false;
	kmm_busy = 0;   /* (every lock is reset below) */
	kmm_lock_witness_fork_child();
	kmm_kernel_fork_child();
}

__attribute__((constructor)) static void ktest_register_fork_handlers(void)
{
	pthread_atfork(ktest_fork_prepare, ktest_fork_parent, ktest_fork_child);
}

#define PG  ((size_t)4096)
#define MiB ((size_t)1 << 20)

/* splitmix64 */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* uniform in [0, n) (n > 0) */
static inline size_t rng_below(uint64_t *s, size_t n)
{
	return (size_t)(rng_next(s) % n);
}

#endif /* KMM_KTEST_H */

/*
 * testutil.h — shared helpers for kmm's criterion unit tests.
 *
 * The unit tests link the allocator core with its prefixed API (kmm_malloc,
 * ...), next to criterion's own glibc malloc.  kmm's constructor has read
 * the options and set up the (empty) main arena when the binary started;
 * criterion runs each Test() in a fresh child process, so every test starts
 * with no heap and no tcache yet.
 * Both allocators move the same program break; kmm treats glibc's moves as
 * "foreign sbrk" (a new heap segment), which the tests exercise too.
 */
#ifndef KMM_TESTUTIL_H
#define KMM_TESTUTIL_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "kmm.h"
#include "heap/arena.h"
#include "heap/chunk.h"
#include "heap/big.h"
#include "heap/params.h"
#include "heap/tcache.h"
#include "heap/thread.h"
#include "kernel/vmalloc.h"
#include "pattern.h"

/* Every test ends with the invariant checkers. */
#define CHECK_HEAP() cr_assert_eq(kmm_check(1), 0, "heap invariants violated (see stderr)")

static inline struct kmm_arena_stats *arena_stats(void)
{
	return &kmm_main_arena.st;
}

static inline mchunk chunk_of(void *mem)
{
	return mem2chunk(mem);
}

/* Turn the tcache off, so frees reach the arena's bins. */
static inline void tcache_off(void)
{
	cr_assert_eq(kmm_mallopt(KMM_M_TCACHE_COUNT, 0), 1);
}

static inline int in_heap(const void *p)
{
	return arena_spans(&kmm_main_arena, mem2chunk(p)) && !kmm_vmalloc_in_space(p);
}

/* A big block: a vmalloc area of its own, no chunk header (heap/big.h). */
static inline int is_big(const void *p)
{
	return kmm_big_owns(p) && kmm_vmalloc_size(p) != 0;
}

#endif /* KMM_TESTUTIL_H */

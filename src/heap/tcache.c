/*
 * tcache.c — the per-thread cache's out-of-line parts: the two static
 * tcaches and the key, making a thread's tcache, giving one back, and the
 * checks behind the inline put and get.  See tcache.h; the inline fast
 * paths are fastpath.h's, the refills from the bins arena.c's
 * (kmm_int_malloc's stash), the drain of remote frees into it remote.c's.
 */
#include "config.h"

#include <string.h>

#include "tcache.h"
#include "arena.h"
#include "arena_heap.h"
#include "remote.h"
#include "../os.h"
#include "../util/format.h"

/* Both static tcaches read "every bin full, every bin empty". */
struct kmm_tcache kmm_tcache_empty = { .counts = { [0 ... KMM_TCACHE_BINS - 1] = UINT16_MAX } };
struct kmm_tcache kmm_tcache_dead  = { .counts = { [0 ... KMM_TCACHE_BINS - 1] = UINT16_MAX } };
uintptr_t kmm_tcache_key;

KMM_HOT void kmm_tcache_key_init(void)
{
	kmm_tcache_key = (uintptr_t)kmm_os_random();
}

KMM_HOT struct kmm_tcache *kmm_tcache_new(struct kmm_arena *a)
{
	kmm_lock_assert_not_held(&a->lock);
	size_t nb = request2size(sizeof(struct kmm_tcache));
	bool locked = kmm_lock_fork_aware(&a->lock);
	kmm_arena_remote_drain(a);
	a->no_big = true;    /* in the heap, whatever the mmap threshold */
	mchunk p = kmm_int_malloc(a, nb, NULL);
	a->no_big = false;
	kmm_unlock_if(&a->lock, locked);
	if (p == NULL)
		return NULL;
	struct kmm_tcache *tc = chunk2mem(p);
	memset(tc, 0, sizeof *tc);
	return tc;
}

KMM_HOT void kmm_tcache_release(struct kmm_arena *mine, struct kmm_tcache *tc)
{
	/* chunks of our own arena under one lock; the others (cached here
	 * after frees of other threads' blocks) afterwards, one by one */
	mchunk foreign = NULL;
	bool locked = false;
	if (mine != NULL) {
		kmm_lock_assert_not_held(&mine->lock);
		locked = kmm_lock_fork_aware(&mine->lock);
		kmm_arena_remote_drain(mine);
	}
	for (size_t i = 0; i < KMM_TCACHE_BINS; i++) {
		struct kmm_tcache_entry *e = tc->heads[i];
		while (e != NULL) {
			struct kmm_tcache_entry *next = KMM_REVEAL_PTR(e->next);
			if (KMM_UNLIKELY(!aligned_ok((uintptr_t)e)))
				kmm_printerr("tcache_thread_shutdown(): unaligned tcache chunk detected", NULL);
			e->key = 0;
			mchunk p = mem2chunk(e);
			if (mine != NULL && kmm_arena_for_chunk(p) == mine) {
				kmm_int_free(mine, p);
			} else {
				p->fd = foreign;
				foreign = p;
			}
			e = next;
		}
		tc->heads[i] = NULL;
		tc->counts[i] = 0;
	}
	if (mine != NULL)
		kmm_unlock_if(&mine->lock, locked);
	while (foreign != NULL) {
		mchunk next = foreign->fd;
		kmm_free_chunk_to_arena(mine, foreign);
		foreign = next;
	}
	/* the tcache itself: a chunk of the arena the thread had when it
	 * made it */
	kmm_free_chunk_to_arena(mine, mem2chunk(tc));
}

KMM_COLD void kmm_tcache_double_free_check(struct kmm_tcache *tc, size_t tidx, void *mem)
{
	size_t n = 0;
	for (struct kmm_tcache_entry *e = tc->heads[tidx]; e != NULL; e = KMM_REVEAL_PTR(e->next)) {
		if (KMM_UNLIKELY(n++ >= KMM_TCACHE_MAX_COUNT))
			kmm_printerr("free(): too many chunks detected in tcache", NULL);
		if (KMM_UNLIKELY(!aligned_ok((uintptr_t)e)))
			kmm_printerr("free(): unaligned chunk detected in tcache 2", NULL);
		if (e == mem)
			kmm_printerr("free(): double free detected in tcache 2", " (pointer %p)", mem);
	}
	/* not there: the key was a coincidence (user data) — carry on */
}

KMM_COLD bool kmm_tcache_holds(struct kmm_tcache *tc, size_t tidx, const void *mem)
{
	if (tc == NULL || tidx >= KMM_TCACHE_BINS)
		return false;
	size_t n = 0;
	for (struct kmm_tcache_entry *e = tc->heads[tidx]; e != NULL && n++ < KMM_TCACHE_MAX_COUNT;
	     e = KMM_REVEAL_PTR(e->next)) {
		if (!aligned_ok((uintptr_t)e))
			return false;   /* (a broken list: malloc will say so) */
		if (e == mem)
			return true;
	}
	return false;
}

KMM_NORETURN KMM_COLD void kmm_tcache_corrupt(const void *entry)
{
	kmm_printerr("malloc(): unaligned tcache chunk detected", " (the list at %p was overwritten)", entry);
}

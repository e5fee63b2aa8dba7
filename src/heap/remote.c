/*
 * remote.c — frees across arenas: the per-thread batch, the arenas'
 * remote lists and their draining.  See remote.h for the theory.
 */
#include "config.h"

#include "remote.h"
#include "arena_heap.h"
#include "arenas.h"
#include "../util/format.h"

KMM_HOT void kmm_arena_remote_drain_slow(struct kmm_arena *a)
{
	/* A thread of the arena drains into its own tcache first, as the
	 * frees would have gone had they been its own: the next mallocs of
	 * those sizes then need neither the bins nor the lock.  The rest go
	 * into the bins. */
	kmm_arena_assert_locked(a);
	struct kmm_thread *t = &kmm_self;
	struct kmm_tcache *tc = t->arena == a && kmm_tcache_is_real(t->tcache) ? t->tcache : NULL;
	const size_t tcount = kmm_params.tcache_count, tbins = kmm_params.tcache_bins;
	mchunk p = __atomic_exchange_n(&a->remote_head, NULL, __ATOMIC_ACQUIRE);
	while (p != NULL) {
		mchunk next = p->fd;
		if (KMM_UNLIKELY(!aligned_ok((uintptr_t)chunk2mem(p))))
			kmm_fatal("free(): corrupted remote free list of arena %d", a->index);
		a->st.remote_drained++;
		if (KMM_UNLIKELY(chunk_is_sampled(p)))   /* (a sample freed by another thread: malloc.c) */
			set_head(p, chunk_head(p) & ~KMM_SAMPLED);
		size_t tidx = kmm_csize2tidx(chunksize(p));
		if (tc != NULL && tidx < tbins && tc->counts[tidx] < tcount) {
			kmm_tcache_put(tc, p, tidx);   /* keeps the "freed" key */
		} else {
			((struct kmm_tcache_entry *)chunk2mem(p))->key = 0;
			kmm_int_free(a, p);
		}
		p = next;
	}
}

KMM_HOT void kmm_thread_remote_flush(struct kmm_thread *t)
{
	struct kmm_arena *a = t->rb_arena;
	if (t->rb_count == 0 || a == NULL)
		return;
	kmm_arena_remote_push_chain(a, t->rb_head, t->rb_tail);
	t->rb_head = t->rb_tail = NULL;
	t->rb_count = 0;
	t->rb_arena = NULL;
	/* now and then help an owner that has not come by */
	if ((++t->c.remote_batches & 7) == 0 && kmm_trylock(&a->lock)) {
		kmm_arena_remote_drain(a);
		kmm_unlock(&a->lock);
	}
}

KMM_COLD void kmm_remote_double_free_check(struct kmm_thread *t, struct kmm_arena *a, mchunk p)
{
	size_t n = 0;
	for (mchunk q = t->rb_head; q != NULL && n <= KMM_REMOTE_BATCH; q = q->fd, n++)
		if (q == p)
			kmm_fatal("free(): double free detected (remote batch) at %p", chunk2mem(p));
	kmm_remote_list_check(a, p);
	/* Not on a list we may walk: in the tcache of a thread of arena a
	 * (a tcache holds only chunks of its thread's arena, and only a
	 * chunk in a tcache, a batch or a remote list carries the key), or
	 * on another thread's batch.  Only a program that copied the words
	 * of a freed block into this one could make it carry the key
	 * otherwise. */
	kmm_fatal("free(): double free detected (pointer %p of arena %d, probable: it carries the freed "
		  "mark, so it is in another thread's tcache or remote batch)",
		  chunk2mem(p), a->index);
}

KMM_COLD void kmm_remote_list_check(struct kmm_arena *a, mchunk p)
{
	size_t n = 0;
	for (mchunk q = __atomic_load_n(&a->remote_head, __ATOMIC_ACQUIRE); q != NULL && n < 1000000;
	     q = q->fd, n++)
		if (q == p)
			kmm_fatal("free(): double free detected (remote list of arena %d) at %p", a->index,
				  chunk2mem(p));
}

KMM_HOT void kmm_free_chunk_to_arena(struct kmm_arena *mine, mchunk p)
{
	struct kmm_arena *a = kmm_arena_for_chunk(p);
	if (a != mine && __atomic_load_n(&a->attached_threads, __ATOMIC_RELAXED) != 0) {
		kmm_arena_remote_push(a, p);
		return;
	}
	bool locked = kmm_lock_fork_aware(&a->lock);
	kmm_arena_remote_drain(a);
	kmm_int_free(a, p);
	kmm_unlock_if(&a->lock, locked);
}

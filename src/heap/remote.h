/*
 * remote.h — frees across arenas: a thread freeing a chunk of another
 * thread's arena.
 *
 * THEORY
 *
 * A thread freeing a chunk of another thread's arena neither caches it
 * (its tcache keeps its own arena's chunks only: fastpath.h says why) nor
 * takes that arena's lock.  It gathers such chunks in a small per-thread
 * batch (struct kmm_thread's rb_*) and pushes the batch on the arena's
 * remote list with one compare-and-swap:
 *
 *     thread T (arena B) frees chunks of arena A
 *
 *       T's batch:  c3 -> c2 -> c1          (no lock, no atomic)
 *                   |              |
 *                   rb_head        rb_tail
 *         flushed (kmm_thread_remote_flush) when
 *           - it holds KMM_REMOTE_BATCH chunks,
 *           - a chunk of another arena than A comes,
 *           - T takes a malloc slow path (lock_my_arena) or exits
 *
 *       A's remote list:  c3 -> c2 -> c1 -> (older pushes ...)
 *                         ^ one compare-and-swap per batch
 *
 *       drained into A's bins (kmm_arena_remote_drain) by whoever next
 *       holds A's lock: A's own threads on their next trip past the
 *       tcache (into their tcache first), a trim, a report
 *
 * A pusher also drains the list itself now and then (every 8th batch it
 * pushes) if the lock is free at that moment, so that memory does not pile
 * up behind an idle owner; an arena with no thread attached is freed into
 * directly, under its lock.
 *
 * A chunk on a batch or a remote list is in use as far as the bins know;
 * it carries the tcache key in its second word ("freed"): a second free of
 * it from another thread looks for it in the freeing thread's batch and
 * the arena's list (kmm_remote_double_free_check) and aborts, saying where
 * it is, or that it is probably in a tcache of the arena's threads (which
 * only its threads may walk); a second free from a thread of the arena
 * looks in its tcache bin and the arena's list (kmm_remote_list_check).
 *
 * Lock order: pushing takes no lock; draining needs the arena's lock
 * (util/lock.h has the whole chain).
 */
#ifndef KMM_HEAP_REMOTE_H
#define KMM_HEAP_REMOTE_H

#include "arena.h"
#include "tcache.h"
#include "thread.h"
#include "vg.h"
#include "../trace.h"

/* Frees of another arena's chunks are gathered per thread and pushed in
 * batches of this many. */
#define KMM_REMOTE_BATCH 32

/* Push the chunks first .. last (in use, of arena a, linked through fd)
 * on a's remote list. */
KMM_INLINE void kmm_arena_remote_push_chain(struct kmm_arena *a, mchunk first, mchunk last)
{
	mchunk old = __atomic_load_n(&a->remote_head, __ATOMIC_RELAXED);
	do {
		last->fd = old;
	} while (!__atomic_compare_exchange_n(&a->remote_head, &old, first, true, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
}

KMM_INLINE void kmm_arena_remote_push(struct kmm_arena *a, mchunk p)
{
	kmm_arena_remote_push_chain(a, p, p);
}

/* Free every chunk of a's remote list: into the calling thread's tcache
 * if a is its arena, else into the bins.  a's lock held. */
void kmm_arena_remote_drain_slow(struct kmm_arena *a);

KMM_INLINE void kmm_arena_remote_drain(struct kmm_arena *a)
{
	if (KMM_UNLIKELY(__atomic_load_n(&a->remote_head, __ATOMIC_RELAXED) != NULL))
		kmm_arena_remote_drain_slow(a);
}

/* Push t's remote batch, if any, on its arena's remote list (t is the
 * calling thread, or a thread being torn down).  No lock held. */
void kmm_thread_remote_flush(struct kmm_thread *t);

/* A chunk carrying the "freed" key was freed remotely: abort, saying it is
 * in t's batch or on a's remote list if it is (pushers only prepend, so the
 * walk is safe; a drain racing with it makes it miss, never misread), else
 * that it is probably in the tcache of a thread of a (the key is only
 * ever in a freed chunk's second word; a chunk of another arena is never
 * in this thread's tcache).  Does not return. */
KMM_NORETURN void kmm_remote_double_free_check(struct kmm_thread *t, struct kmm_arena *a, mchunk p);

/* A chunk of this thread's arena a carrying the key, not in its tcache
 * bin: abort if it is on a's remote list (freed by another thread
 * already); else the free goes on (the key may be the program's data:
 * glibc's tst-tcfree3 copies it into blocks it then frees). */
void kmm_remote_list_check(struct kmm_arena *a, mchunk p);

/* free() of p, an in-use chunk of arena a, which other threads than t use:
 * into t's batch for a (flushed first if it is for another arena).  No lock
 * held. */
KMM_INLINE void kmm_remote_free(struct kmm_thread *t, struct kmm_arena *a, mchunk p)
{
	struct kmm_tcache_entry *e = chunk2mem(p);
	if (KMM_UNLIKELY(e->key == kmm_tcache_key))
		kmm_remote_double_free_check(t, a, p);
	if (t->rb_arena != a) {
		kmm_thread_remote_flush(t);
		t->rb_arena = a;
	}
	KMM_VG_WRITABLE(e, sizeof *e);
	e->key = kmm_tcache_key;   /* freed: a second free looks */
	p->fd = t->rb_head;
	t->rb_head = p;
	if (t->rb_tail == NULL)
		t->rb_tail = p;
	t->c.remote_frees++;
	t->last_path = KMM_TP_REMOTE;
	if (++t->rb_count >= KMM_REMOTE_BATCH)
		kmm_thread_remote_flush(t);
}

/* Free an in-use heap chunk that no tcache takes, from a thread whose
 * arena is `mine`: remote push if other threads use its arena, else into
 * the bins under the arena lock.  No lock held. */
void kmm_free_chunk_to_arena(struct kmm_arena *mine, mchunk p);

#endif /* KMM_HEAP_REMOTE_H */

/*
 * arenas.c — creating arenas, handing them to threads, fork.
 * See arenas.h for the theory, util/lock.h for the lock order.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "arenas.h"
#include "arena_heap.h"
#include "remote.h"
#include "tcache.h"
#include "thread.h"
#include "../kernel/slab.h"
#include "../os.h"
#include "../util/format.h"

kmm_lock_t kmm_arena_list_lock = KMM_LOCK_INIT_RANK(KMM_RANK_ARENA_LIST);
kmm_lock_t kmm_arena_free_lock = KMM_LOCK_INIT_RANK(KMM_RANK_ARENA_FREE);
size_t kmm_narenas = 1;

static struct kmm_arena *arena_tail = &kmm_main_arena;   /* list lock */
static struct kmm_arena *free_list;                      /* free lock */
static struct kmm_arena *next_to_use;                    /* free lock */
static struct kmm_kmem_cache *arena_cache;               /* list lock */
/* The first thread to ask gets the main arena (in a program, the initial
 * thread: the dynamic loader and libc allocate before any thread starts). */
static bool main_claimed;                                /* free lock */

KMM_HOT size_t kmm_arena_limit(void)
{
	size_t max = __atomic_load_n(&kmm_params.arena_max, __ATOMIC_RELAXED);
	if (max != 0)
		return max;
	size_t n = __atomic_load_n(&kmm_narenas, __ATOMIC_RELAXED);
	if (n <= kmm_params.arena_test)
		return n + 1;
	return 8 * (size_t)kmm_os_ncpus();
}

static inline struct kmm_arena *next_or_main(struct kmm_arena *a)
{
	struct kmm_arena *n = kmm_arena_next(a);
	return n != NULL ? n : &kmm_main_arena;
}

/* Free lock held. */
static void free_list_remove(struct kmm_arena *a)
{
	kmm_lock_assert_held(&kmm_arena_free_lock);
	for (struct kmm_arena **pp = &free_list; *pp != NULL; pp = &(*pp)->next_free) {
		if (*pp == a) {
			*pp = a->next_free;
			a->next_free = NULL;
			return;
		}
	}
}

/* t leaves its arena (if any) and joins `to`.  Free lock held. */
static KMM_HOT void switch_locked(struct kmm_thread *t, struct kmm_arena *to)
{
	kmm_lock_assert_held(&kmm_arena_free_lock);
	struct kmm_arena *from = t->arena;
	if (from == to)
		return;
	if (from != NULL && --from->attached_threads == 0) {
		from->next_free = free_list;
		free_list = from;
	}
	if (to->attached_threads++ == 0)
		free_list_remove(to);
	t->arena = to;
	t->heap_hint = 0;
}

/* glibc's get_free_list: an arena no thread uses, now t's. */
static KMM_HOT struct kmm_arena *from_free_list(struct kmm_thread *t)
{
	if (__atomic_load_n(&free_list, __ATOMIC_RELAXED) == NULL)
		return NULL;
	bool fl = kmm_lock_fork_aware(&kmm_arena_free_lock);
	struct kmm_arena *a = free_list;
	if (a != NULL)
		switch_locked(t, a);
	kmm_unlock_if(&kmm_arena_free_lock, fl);
	return a;
}

/* A new arena in a heap of its own, now t's; NULL when at the limit or the
 * OS refuses.  Takes the list lock. */
static KMM_HOT struct kmm_arena *new_arena(struct kmm_thread *t)
{
	struct kmm_arena *a = NULL;
	kmm_arenas_trim_idle(NULL);   /* a new heap: memory from the OS (trim.c) */
	bool ll = kmm_lock_fork_aware(&kmm_arena_list_lock);
	if (kmm_narenas >= kmm_arena_limit())
		goto out;
	if (arena_cache == NULL) {
		arena_cache = kmm_kmem_cache_create("kmm_arena", sizeof(struct kmm_arena),
						    _Alignof(struct kmm_arena));
		if (arena_cache == NULL)
			goto out;
		/* one arena per page: a handful of arenas, each made by the
		 * thread that needs it, from that thread's active slab (an
		 * order-3 slab would be 32 KiB touched per such thread) */
		kmm_kmem_cache_set_order(arena_cache, 0);
	}
	/* room for the thread's tcache and a first request, plus top_pad */
	struct kmm_heap_info *h = kmm_arena_heap_new(KMM_HEAP_HDR + 2 * sizeof(struct kmm_tcache),
						     kmm_params.top_pad);
	if (h == NULL)
		goto out;
	a = kmm_kmem_cache_zalloc(arena_cache);
	if (a == NULL) {
		kmm_region_del(&h->seg.region);
		kmm_os_unmap(h, KMM_HEAP_MAX);
		goto out;
	}
	kmm_arena_init(a, (int)kmm_narenas);
	kmm_arena_heap_adopt(a, h);

	bool fl = kmm_lock_fork_aware(&kmm_arena_free_lock);
	switch_locked(t, a);
	kmm_unlock_if(&kmm_arena_free_lock, fl);

	__atomic_store_n(&kmm_narenas, kmm_narenas + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&arena_tail->next, a, __ATOMIC_RELEASE);
	arena_tail = a;
out:
	kmm_unlock_if(&kmm_arena_list_lock, ll);
	return a;
}

/* glibc's reused_arena: from the round-robin cursor, the first arena other
 * than `avoid` whose lock is free (returned locked, *locked = true); if all
 * are taken, the one at the cursor (unlocked).  Now t's.  NULL only if
 * `avoid` is the sole arena. */
static struct kmm_arena *reused_arena(struct kmm_thread *t, struct kmm_arena *avoid, bool *locked)
{
	struct kmm_arena *start = __atomic_load_n(&next_to_use, __ATOMIC_RELAXED);
	if (start == NULL)
		start = &kmm_main_arena;
	struct kmm_arena *r = start;
	*locked = false;
	do {
		if (r != avoid && kmm_trylock(&r->lock)) {
			*locked = true;
			goto found;
		}
		r = next_or_main(r);
	} while (r != start);
	if (r == avoid)
		r = next_or_main(r);
	if (r == avoid)
		return NULL;
found:;
	bool fl = kmm_lock_fork_aware(&kmm_arena_free_lock);
	switch_locked(t, r);
	next_to_use = next_or_main(r);
	kmm_unlock_if(&kmm_arena_free_lock, fl);
	return r;
}

KMM_HOT struct kmm_arena *kmm_arena_attach(struct kmm_thread *t)
{
	if (!__atomic_load_n(&main_claimed, __ATOMIC_RELAXED)) {
		bool got = false;
		bool fl = kmm_lock_fork_aware(&kmm_arena_free_lock);
		if (!main_claimed) {
			main_claimed = true;
			switch_locked(t, &kmm_main_arena);
			got = true;
		}
		kmm_unlock_if(&kmm_arena_free_lock, fl);
		if (got)
			return &kmm_main_arena;
	}
	struct kmm_arena *a = from_free_list(t);
	if (a == NULL)
		a = new_arena(t);
	if (a == NULL) {
		bool locked;
		a = reused_arena(t, NULL, &locked);
		if (locked)
			kmm_unlock(&a->lock);
	}
	return a;
}

struct kmm_arena *kmm_arena_lock_contended(struct kmm_thread *t, struct kmm_arena *a)
{
	__atomic_add_fetch(&a->contended, 1, __ATOMIC_RELAXED);
	struct kmm_arena *b = from_free_list(t);
	if (b == NULL)
		b = new_arena(t);
	if (b != NULL) {
		kmm_lock(&b->lock);
		return b;
	}
	bool locked;
	b = reused_arena(t, a, &locked);
	if (b != NULL && locked)
		return b;
	/* everything is busy: wait for the arena t uses now */
	b = t->arena;
	kmm_lock(&b->lock);
	return b;
}

KMM_HOT void kmm_arena_detach(struct kmm_thread *t)
{
	struct kmm_arena *a = t->arena;
	if (a == NULL)
		return;
	bool fl = kmm_lock_fork_aware(&kmm_arena_free_lock);
	bool now_free = --a->attached_threads == 0;
	if (now_free) {
		a->next_free = free_list;
		free_list = a;
	}
	t->arena = NULL;
	t->heap_hint = 0;
	kmm_unlock_if(&kmm_arena_free_lock, fl);
	if (now_free) {
		/* nobody will drain its remote list until it is reused */
		bool locked = kmm_lock_fork_aware(&a->lock);
		kmm_arena_remote_drain(a);
		kmm_unlock_if(&a->lock, locked);
	}
}

/* --- checker --------------------------------------------------------------- */

KMM_COLD int kmm_arenas_check(int verbose)
{
	int errors = 0;
	size_t n = 0;
	kmm_for_each_arena(a) {
		if (a->index != (int)n) {
			errors++;
			if (verbose)
				kmm_warn("check: arena list: arena %d in position %zu", a->index, n);
		}
		if (++n > 1000000)
			break;
	}
	if (n != __atomic_load_n(&kmm_narenas, __ATOMIC_RELAXED)) {
		errors++;
		if (verbose)
			kmm_warn("check: arena list holds %zu arenas, narenas says %zu", n, kmm_narenas);
	}

	/* attached counts against the thread records, free list against the
	 * counts */
	bool fl = kmm_lock_fork_aware(&kmm_arena_free_lock);
	bool tlocked = kmm_lock_fork_aware(&kmm_threads_lock);
	kmm_for_each_arena(a) {
		size_t users = kmm_thread_count_attached(a);
		bool on_free = false;
		size_t k = 0;
		for (struct kmm_arena *f = free_list; f != NULL && k <= n; f = f->next_free, k++)
			if (f == a)
				on_free = true;
		if (users != a->attached_threads) {
			errors++;
			if (verbose)
				kmm_warn("check: arena %d: %zu threads use it, attached_threads says %zu",
					 a->index, users, a->attached_threads);
		}
		/* the main arena waits for its first thread off the list */
		bool unclaimed = a == &kmm_main_arena && !main_claimed;
		if (on_free != (a->attached_threads == 0 && !unclaimed)) {
			errors++;
			if (verbose)
				kmm_warn("check: arena %d: attached_threads %zu but %son the free list",
					 a->index, a->attached_threads, on_free ? "" : "not ");
		}
	}
	kmm_unlock_if(&kmm_threads_lock, tlocked);
	kmm_unlock_if(&kmm_arena_free_lock, fl);
	return errors;
}

/* --- fork ------------------------------------------------------------------ */

void kmm_arenas_fork_prepare(void)
{
	if (!kmm_fork_lock(&kmm_arena_list_lock))
		return;   /* (the fork gave up: util/lock.h) */
	kmm_for_each_arena(a)
		kmm_fork_lock(&a->lock);
	kmm_fork_lock(&kmm_arena_free_lock);
}

void kmm_arenas_fork_parent(void)
{
	kmm_unlock(&kmm_arena_free_lock);
	kmm_for_each_arena(a)
		kmm_unlock(&a->lock);
	kmm_unlock(&kmm_arena_list_lock);
}

void kmm_arenas_fork_child(struct kmm_thread *self)
{
	/* Only the forking thread exists here: every other arena is free
	 * (glibc rebuilds its free list the same way).  Remote lists stay:
	 * pushes are atomic, so each is a well-formed list, drained later. */
	kmm_lock_reset(&kmm_arena_free_lock);
	kmm_lock_reset(&kmm_arena_list_lock);
	free_list = NULL;
	kmm_for_each_arena(a) {
		kmm_lock_reset(&a->lock);
		a->next_free = NULL;
		if (a == self->arena) {
			a->attached_threads = 1;
		} else if (a == &kmm_main_arena && !main_claimed) {
			a->attached_threads = 0;   /* waits for its first thread */
		} else {
			a->attached_threads = 0;
			a->next_free = free_list;
			free_list = a;
		}
	}
}

/*
 * thread.c — per-thread state: registering a thread (its tcache, its
 * arena), thread exit, fork of the thread list.  See thread.h; the lock
 * order is util/lock.h's (on the allocation paths kmm_threads_lock is
 * taken with no other lock held).
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "thread.h"
#include "rescue.h"
#include "arena.h"
#include "arenas.h"
#include "heap.h"
#include "remote.h"
#include "../kernel/kernel.h"
#include "../kernel/uslab.h"
#include "../os.h"
#include "../util/format.h"
#include "../trace.h"

__thread struct kmm_thread kmm_self __attribute__((tls_model("initial-exec"))) = {
	.tc = &kmm_tcache_empty,
	.tcache = &kmm_tcache_empty,
};

struct kmm_thread_counters kmm_threads_gone;
kmm_lock_t kmm_threads_lock = KMM_LOCK_INIT_RANK(KMM_RANK_THREADS);
size_t kmm_threads_live;
static struct kmm_thread *threads_head;

/* The thread-exit hook: a pthread key whose destructor is thread_exit().
 * It is made when the first thread other than the process's main thread
 * sets up its cache (under kmm_threads_lock), not at start-up: a program
 * that never starts a thread never runs libc's pthread key code, whose
 * pages would otherwise count in its RSS (see the top of os.c).  The main
 * thread needs no hook: its cache goes with the process.  (One it would
 * miss: a main thread that ends with pthread_exit() while others run
 * keeps its cached chunks out of use.) */
static pthread_key_t thread_key;
static bool thread_key_ok, thread_key_tried;

static void counters_add(struct kmm_thread_counters *dst, const struct kmm_thread_counters *src)
{
	dst->tc_alloc_hits += src->tc_alloc_hits;
	dst->tc_free_hits += src->tc_free_hits;
	dst->tc_alloc_misses += src->tc_alloc_misses;
	dst->tc_free_overflow += src->tc_free_overflow;
	dst->remote_frees += src->remote_frees;
	dst->remote_batches += src->remote_batches;
	dst->mallocs_slow += src->mallocs_slow;
	dst->frees_slow += src->frees_slow;
}

static void list_add(struct kmm_thread *t)
{
	t->prev = NULL;
	t->next = threads_head;
	if (threads_head != NULL)
		threads_head->prev = t;
	threads_head = t;
	t->listed = true;
	kmm_threads_live++;
}

static void list_del(struct kmm_thread *t)
{
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		threads_head = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
	t->listed = false;
	kmm_threads_live--;
}

static KMM_HOT void thread_exit(void *arg)
{
	struct kmm_thread *t = arg;
	if (kmm_rescued())   /* (the inherited heap is left alone: rescue.h) */
		return;
	struct kmm_tcache *tc = t->tcache;
	kmm_kernel_thread_exit();
	/* first: frees made while we flush (and after) go to the arena; under
	 * the list's lock, so that kmm_thread_tcache_totals never reads a
	 * tcache after its release below */
	bool held = kmm_lock_fork_aware(&kmm_threads_lock);
	__atomic_store_n(&t->tcache, &kmm_tcache_dead, __ATOMIC_RELAXED);
	kmm_unlock_if(&kmm_threads_lock, held);
	t->tc = kmm_heap_observed() ? &kmm_tcache_empty : &kmm_tcache_dead;
	kmm_thread_remote_flush(t);
	if (kmm_tcache_is_real(tc))
		kmm_tcache_release(t->arena, tc);
	kmm_arena_detach(t);
	bool locked = kmm_lock_fork_aware(&kmm_threads_lock);
	counters_add(&kmm_threads_gone, &t->c);
	memset(&t->c, 0, sizeof t->c);
	if (t->listed)
		list_del(t);
	kmm_unlock_if(&kmm_threads_lock, locked);
	if (kmm_heap_observed())
		kmm_heap_observer_thread_exit();
	kmm_trace_thread_exit();
}

/* Called with kmm_threads_lock held. */
static KMM_HOT void thread_key_make(void)
{
	thread_key_tried = true;
	if (pthread_key_create(&thread_key, thread_exit) == 0)
		thread_key_ok = true;
}

KMM_HOT struct kmm_tcache *kmm_thread_tcache_init(void)
{
	struct kmm_thread *t = &kmm_self;
	if (t->tcache == &kmm_tcache_dead)
		return NULL;
	if (kmm_tcache_is_real(t->tcache))
		return t->tcache;

	struct kmm_arena *a = t->arena;
	if (a == NULL)
		a = kmm_arena_attach(t);
	struct kmm_tcache *tc = kmm_tcache_new(a);
	if (tc == NULL) {
		kmm_arena_detach(t);
		return NULL;
	}
	t->tid = kmm_os_gettid();
	t->stack_hint = (uintptr_t)__builtin_frame_address(0);

	bool hook = t->tid != kmm_os_getpid();   /* not the main thread */

	bool locked = kmm_lock_fork_aware(&kmm_threads_lock);
	list_add(t);
	if (hook && !thread_key_tried)
		thread_key_make();
	kmm_unlock_if(&kmm_threads_lock, locked);

	t->tcache = tc;
	t->tc = kmm_heap_observed() ? &kmm_tcache_empty : tc;
	KMM_TRACE(KMM_TR_THREAD_START, 0, 0, 0, 0, 0, 0);
	/* May allocate (keys past the first 32 need a second-level array):
	 * the tcache is in place, so that recursion is an ordinary malloc. */
	if (hook && thread_key_ok)
		pthread_setspecific(thread_key, t);
	return tc;
}

KMM_COLD struct kmm_thread *kmm_thread_list(void)
{
	kmm_lock_assert_held(&kmm_threads_lock);
	return threads_head;
}

KMM_COLD size_t kmm_thread_count_attached(const struct kmm_arena *a)
{
	size_t n = 0;
	kmm_lock_assert_held(&kmm_threads_lock);
	for (struct kmm_thread *t = threads_head; t != NULL; t = t->next)
		if (t->arena == a)
			n++;
	return n;
}

KMM_COLD void kmm_thread_counters_total(struct kmm_thread_counters *out)
{
	bool locked = kmm_lock_fork_aware(&kmm_threads_lock);
	*out = kmm_threads_gone;
	for (struct kmm_thread *t = threads_head; t != NULL; t = t->next)
		counters_add(out, &t->c);
	kmm_unlock_if(&kmm_threads_lock, locked);
}

KMM_COLD void kmm_thread_tcache_totals(size_t *blocks, size_t *bytes)
{
	size_t n = 0, b = 0;
	bool locked = kmm_lock_fork_aware(&kmm_threads_lock);
	for (struct kmm_thread *t = threads_head; t != NULL; t = t->next) {
		/* another thread's counts change under us: each read once
		 * (a moment's value, not a consistent cut) */
		struct kmm_tcache *tc = __atomic_load_n(&t->tcache, __ATOMIC_RELAXED);
		if (!kmm_tcache_is_real(tc))
			continue;
		for (size_t i = 0; i < KMM_TCACHE_BINS; i++) {
			size_t c = __atomic_load_n(&tc->counts[i], __ATOMIC_RELAXED);
			n += c;
			b += c * (KMM_MINSIZE + i * KMM_ALIGNMENT);
		}
	}
	kmm_unlock_if(&kmm_threads_lock, locked);
	*blocks = n;
	*bytes = b;
}

KMM_COLD int kmm_thread_check(int verbose)
{
	int errors = 0;
	size_t n = 0;
	bool locked = kmm_lock_fork_aware(&kmm_threads_lock);
	struct kmm_thread *prev = NULL;
	for (struct kmm_thread *t = threads_head; t != NULL; prev = t, t = t->next) {
		if (++n > kmm_threads_live + 1000000) {
			errors++;
			if (verbose)
				kmm_warn("check: thread list: cycle");
			break;
		}
		if (t->prev != prev || !t->listed) {
			errors++;
			if (verbose)
				kmm_warn("check: thread list: record %p (tid %d) badly linked", (void *)t, (int)t->tid);
		}
	}
	if (n != kmm_threads_live) {
		errors++;
		if (verbose)
			kmm_warn("check: thread list holds %zu records, kmm_threads_live says %zu", n,
				 kmm_threads_live);
	}
	kmm_unlock_if(&kmm_threads_lock, locked);
	return errors;
}

void kmm_thread_fork_prepare(void)
{
	kmm_fork_lock(&kmm_threads_lock);
}

void kmm_thread_fork_parent(void)
{
	kmm_unlock(&kmm_threads_lock);
}

void kmm_thread_fork_child(void)
{
	/* Only the forking thread exists in the child.  The other threads'
	 * tcaches stay allocated, as under glibc: a thread may have been in
	 * the middle of a lock-free push or pop when fork() copied memory, so
	 * their lists cannot be trusted.  Their counters are kept. */
	struct kmm_thread *self = &kmm_self;
	kmm_lock_reset(&kmm_threads_lock);
	struct kmm_thread *t = threads_head;
	while (t != NULL) {
		struct kmm_thread *next = t->next;
		if (t != self) {
			counters_add(&kmm_threads_gone, &t->c);
			list_del(t);
		}
		t = next;
	}
	self->tid = kmm_os_gettid();
}

KMM_COLD void kmm_thread_fast_paths_off(void)
{
	kmm_uslab_fast_paths_off();
	/* a tcache made before stays in use, by the slow paths */
	if (kmm_tcache_is_real(kmm_self.tc))
		kmm_self.tc = &kmm_tcache_empty;
}

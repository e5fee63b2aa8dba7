/*
 * thread.c — per-thread state: tcache creation, thread exit, fork.
 * See thread.h.  Lock order: arena lock before kmm_threads_lock; the two are
 * never held together on the allocation paths.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "thread.h"
#include "arena.h"
#include "arenas.h"
#include "arena_heap.h"
#include "../kernel/kernel.h"
#include "../kernel/slab.h"
#include "../os.h"
#include "../util/format.h"
#include "../options.h"
#include "../trace.h"

__thread struct kmm_thread kmm_self __attribute__((tls_model("initial-exec"))) = {
	.tc = &kmm_tcache_empty,
	.tcache = &kmm_tcache_empty,
};

/* Both static tcaches read "every bin full, every bin empty". */
struct kmm_tcache kmm_tcache_empty = { .counts = { [0 ... KMM_TCACHE_BINS - 1] = UINT16_MAX } };
struct kmm_tcache kmm_tcache_dead  = { .counts = { [0 ... KMM_TCACHE_BINS - 1] = UINT16_MAX } };
uintptr_t kmm_tcache_key;

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

/* Free chunk p (in use, not cached) from a thread whose own arena is
 * `mine` (or NULL): into its arena under the lock, or onto the arena's
 * remote list when other threads use that arena.  No lock held. */
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

KMM_HOT void kmm_tcache_release(struct kmm_arena *mine, struct kmm_tcache *tc)
{
	/* chunks of our own arena under one lock; the others (cached here
	 * after frees of other threads' blocks) afterwards, one by one */
	mchunk foreign = NULL;
	bool locked = false;
	if (mine != NULL) {
		locked = kmm_lock_fork_aware(&mine->lock);
		kmm_arena_remote_drain(mine);
	}
	for (size_t i = 0; i < KMM_TCACHE_BINS; i++) {
		struct kmm_tcache_entry *e = tc->heads[i];
		while (e != NULL) {
			struct kmm_tcache_entry *next = KMM_REVEAL_PTR(e->next);
			if (KMM_UNLIKELY(!aligned_ok((uintptr_t)e)))
				kmm_fatal("tcache_thread_shutdown(): unaligned tcache chunk detected");
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

static KMM_HOT void thread_exit(void *arg)
{
	struct kmm_thread *t = arg;
	struct kmm_tcache *tc = t->tcache;
	kmm_kernel_thread_exit();
	/* first: frees made while we flush (and after) go to the arena */
	t->tcache = &kmm_tcache_dead;
	t->tc = kmm_params.observed ? &kmm_tcache_empty : &kmm_tcache_dead;
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
	kmm_trace_thread_exit();
}

KMM_HOT void kmm_thread_init(void)
{
	kmm_tcache_key = (uintptr_t)kmm_os_random();
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
	size_t nb = request2size(sizeof(struct kmm_tcache));
	bool locked = kmm_lock_fork_aware(&a->lock);
	kmm_arena_remote_drain(a);
	a->no_big = true;    /* in the heap, whatever the mmap threshold */
	mchunk p = kmm_int_malloc(a, nb, NULL);
	a->no_big = false;
	kmm_unlock_if(&a->lock, locked);
	if (p == NULL) {
		kmm_arena_detach(t);
		return NULL;
	}
	struct kmm_tcache *tc = chunk2mem(p);
	memset(tc, 0, sizeof *tc);
	t->tid = kmm_os_gettid();
	t->stack_hint = (uintptr_t)__builtin_frame_address(0);

	bool hook = t->tid != kmm_os_getpid();   /* not the main thread */

	locked = kmm_lock_fork_aware(&kmm_threads_lock);
	list_add(t);
	if (hook && !thread_key_tried)
		thread_key_make();
	kmm_unlock_if(&kmm_threads_lock, locked);

	t->tcache = tc;
	t->tc = kmm_params.observed ? &kmm_tcache_empty : tc;
	KMM_TRACE(KMM_TR_THREAD_START, 0, 0, 0, 0, 0, 0);
	/* May allocate (keys past the first 32 need a second-level array):
	 * the tcache is in place, so that recursion is an ordinary malloc. */
	if (hook && thread_key_ok)
		pthread_setspecific(thread_key, t);
	return tc;
}

KMM_COLD struct kmm_thread *kmm_thread_list(void)
{
	return threads_head;
}

KMM_COLD size_t kmm_thread_count_attached(const struct kmm_arena *a)
{
	size_t n = 0;
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
	kmm_lock(&kmm_threads_lock);
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

/* ---- the trace log's buffers ---------------------------------------------------- */

static struct kmm_kmem_cache *trace_buf_cache;

static void *trace_buf_alloc(void)
{
	return kmm_kmem_cache_alloc(trace_buf_cache);
}

static void trace_buf_free(void *buf)
{
	kmm_kmem_cache_free(trace_buf_cache, buf);
}

KMM_COLD void kmm_thread_trace_start(void)
{
	static const struct kmm_trace_provider provider = { trace_buf_alloc, trace_buf_free };
	if (kmm_options.trace_path[0] == '\0' || kmm_trace_on)
		return;
	trace_buf_cache = kmm_kmem_cache_create("kmm_trace_buf", KMM_TRACE_BUF_SIZE, 64);
	if (trace_buf_cache == NULL || !kmm_trace_start(kmm_options.trace_path, kmm_options.trace_depth, &provider)) {
		kmm_warn("cannot write the trace log %s", kmm_options.trace_path);
		return;
	}
	kmm_params.observed |= KMM_OBSERVE_TRACE;
	kmm_thread_fast_paths_check();
}

KMM_COLD void kmm_thread_fast_paths_check(void)
{
	/* the trace log, the debug options, the leak scanner and memcheck
	 * need every call to take a slow path: this thread's fast paths off (a
	 * tcache made before stays in use, by the slow paths); threads set up
	 * later start so */
	if (kmm_params.observed && kmm_tcache_is_real(kmm_self.tc))
		kmm_self.tc = &kmm_tcache_empty;
}

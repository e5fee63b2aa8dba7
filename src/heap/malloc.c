/*
 * malloc.c — the malloc family on top of the arenas: slow paths of malloc
 * and free, calloc, realloc, the aligned allocators and the glibc extras,
 * and the one door of the observed mode (heap.h: an observer installed by
 * the layer above sees every call; the heap does not know who watches).
 *
 * Locking: each function takes the arena lock around the arena calls and
 * drops it before anything that may take long or call out (memcpy of big
 * blocks happens under the lock only inside kmm_int_realloc, as in glibc).
 * Big blocks (big.h) are allocated and freed without the arena lock: the
 * arena only decides that a request is big (last_path == KMM_PATH_BIG).
 *
 * Telling a big block from a heap chunk: big blocks are page aligned and lie
 * in vmalloc's spaces; nothing in front of one may be read.  So free,
 * realloc and malloc_usable_size look at the address first, and read a
 * chunk header only for what can be a heap chunk.
 * While the process has a single thread (glibc's __libc_single_threaded),
 * the lock is skipped, as glibc does: nobody can contend for it.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#if HAVE_SYS_SINGLE_THREADED_H
#include <sys/single_threaded.h>
#endif

#include "heap.h"
#include "arena.h"
#include "arena_heap.h"
#include "arenas.h"
#include "fastpath.h"
#include "big.h"
#include "remote.h"
#include "rescue.h"
#include "tcache.h"
#include "vg.h"
#include "zero.h"
#include "thread.h"
#include "../init.h"
#include "../kernel/kernel.h"
#include "../kernel/uslab.h"
#include "../trace.h"
#include "../os.h"
#include "../util/format.h"

/* Who watches the calls (the observed mode, at the end of this file). */
static const struct kmm_heap_observer *observer;
/* Who samples (heap.h, "sampling"; NULL: nobody). */
static const struct kmm_heap_sampler *sampler;

static inline bool single_threaded(void)
{
#if HAVE_SYS_SINGLE_THREADED_H
	return __libc_single_threaded;
#else
	return false;
#endif
}

/* Lock an arena unless the process is single-threaded (or this thread is
 * forking and holds it already); returns whether it locked (pass that to
 * arena_unlock).  Whoever holds an arena drains its remote frees. */
static inline bool arena_lock(struct kmm_arena *a)
{
	bool locked = single_threaded() ? false : kmm_lock_fork_aware(&a->lock);
	kmm_arena_remote_drain(a);
	return locked;
}

static inline void arena_unlock(struct kmm_arena *a, bool locked)
{
	kmm_unlock_if(&a->lock, locked);
}

/* The arena lock was taken.  If no other thread uses this arena, the
 * holder is passing through (draining remote frees, reallocating one of our
 * blocks): wait.  If others share it, spin for a few microseconds, then
 * move to another arena for good. */
static KMM_NOINLINE struct kmm_arena *lock_contended(struct kmm_thread *t, struct kmm_arena *a)
{
	if (__atomic_load_n(&a->attached_threads, __ATOMIC_RELAXED) <= 1) {
		kmm_lock(&a->lock);
		return a;
	}
	for (int i = 0; i < 1024; i++) {
		kmm_cpu_relax();
		if (!kmm_lock_is_held(&a->lock) && kmm_trylock(&a->lock))
			return a;
	}
	return kmm_arena_lock_contended(t, a);
}

/* Lock the arena this thread allocates from, attaching it to one on first
 * use and moving on to another if its own is taken (arenas.h).  A thread
 * past its exit (tcache dead) borrows the main arena without attaching. */
static inline struct kmm_arena *lock_my_arena(struct kmm_thread *t, bool *locked)
{
	if (KMM_UNLIKELY(t->rb_count != 0))
		kmm_thread_remote_flush(t);
	struct kmm_arena *a = t->arena;
	if (KMM_UNLIKELY(a == NULL)) {
		/* the thread's first call (memalign, say): registering it
		 * gives it an arena; a thread past its exit borrows */
		kmm_thread_tcache_init();
		a = t->arena;
		if (a == NULL) {
			a = &kmm_main_arena;
			*locked = arena_lock(a);
			return a;
		}
	}
	if (single_threaded()) {
		*locked = false;
	} else if (KMM_LIKELY(kmm_trylock(&a->lock))) {
		*locked = true;
	} else if (kmm_in_fork) {
		*locked = false;
	} else {
		a = lock_contended(t, a);
		*locked = true;
	}
	kmm_arena_remote_drain(a);
	/* the heap this thread allocates from now: its frees need no lookup.
	 * A stale hint (the heap was unmapped and its address reused by
	 * another arena) only lets a foreign chunk into this tcache, as
	 * glibc's tcache always does; it still goes back to its own arena
	 * when the tcache is flushed (arena_for_chunk). */
	if (a != &kmm_main_arena && a->top != NULL)
		t->heap_hint = (uintptr_t)heap_for_ptr(a->top);
	return a;
}

/* glibc's arena_get_retry: a further arena could not grow (no address
 * space for another heap): try the main arena, which can use brk. */
static KMM_NOINLINE mchunk retry_in_main(struct kmm_arena *failed, size_t nb, struct kmm_tcache *tc)
{
	if (failed == &kmm_main_arena)
		return NULL;
	struct kmm_arena *a = &kmm_main_arena;
	bool locked = arena_lock(a);
	mchunk p = kmm_int_malloc(a, nb, tc);
	arena_unlock(a, locked);
	return p;
}

/* A request the arena found big (its lock dropped): a vmalloc area aligned
 * to `align` (0: a page), or if vmalloc fails a heap chunk, as glibc falls
 * back to brk when mmap fails.  align > 16 means a memalign request. */
static KMM_NOINLINE void *big_or_heap(struct kmm_arena *a, size_t n, size_t align, const void *caller)
{
	kmm_uslab_check_tls_lists(4);   /* (uslab.h) */
	void *mem = kmm_big_alloc(n, align, caller);
	if (KMM_LIKELY(mem != NULL))
		return mem;
	__atomic_add_fetch(&kmm_big_stats.fallbacks, 1, __ATOMIC_RELAXED);
	bool locked = arena_lock(a);
	a->no_big = true;
	mchunk p = align > KMM_ALIGNMENT ? kmm_int_memalign(a, align, request2size(n))
					 : kmm_int_malloc(a, request2size(n), NULL);
	a->no_big = false;
	arena_unlock(a, locked);
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	return chunk2mem(p);
}

/* The path of an arena allocation, as the trace log names it (trace.h):
 * growth of the heap is "brk" here, "arena-heap" if the chunk is not in
 * the main arena (the trace observer tells), big blocks vmalloc's (the
 * trace observer again).  The arena's paths up to the top chunk are the
 * trace's, one up: */
_Static_assert(KMM_PATH_TCACHE + 1 == KMM_TP_TCACHE && KMM_PATH_FASTBIN + 1 == KMM_TP_FASTBIN &&
		       KMM_PATH_SMALLBIN + 1 == KMM_TP_SMALLBIN && KMM_PATH_UNSORTED + 1 == KMM_TP_UNSORTED &&
		       KMM_PATH_REMAINDER + 1 == KMM_TP_REMAINDER && KMM_PATH_LARGEBIN + 1 == KMM_TP_LARGEBIN &&
		       KMM_PATH_BINMAP + 1 == KMM_TP_BINMAP && KMM_PATH_TOP + 1 == KMM_TP_TOP,
	       "enum kmm_path (arena.h) and enum kmm_trace_path (trace.h) no longer line up");
static inline uint8_t trace_path_of(enum kmm_path path)
{
	return path <= KMM_PATH_TOP ? (uint8_t)(path + 1) : path == KMM_PATH_SYSMALLOC ? KMM_TP_BRK : KMM_TP_NONE;
}

/* ---- the slab front end (kernel/uslab.h) --------------------------------------
 *
 * front=slab sends requests up to KMM_USLAB_MAX there; the heap keeps the
 * rest, and serves small requests too when the front end cannot (a thread
 * past its exit, no memory for a slab).  Frees, realloc and
 * malloc_usable_size tell a slab object by its address, whatever front=
 * says now. */

KMM_INLINE bool slab_front(size_t n)
{
	/* (guard=SIZE: blocks of SIZE or more are guarded big blocks; an
	 * observed process, so no fast path meets them either) */
	return kmm_params.front == KMM_FRONT_SLAB_ && n <= KMM_USLAB_MAX && n < kmm_params.guard_min;
}

/* An object of class cls for thread t, or NULL (then the heap serves the
 * request).  t's tcache is set up (the thread registered: its exit hook
 * gives its slabs back).  *fresh as kmm_uslab_alloc says. */
static KMM_HOT KMM_NOINLINE void *slab_alloc(struct kmm_thread *t, size_t cls, bool *fresh)
{
	void *obj = kmm_uslab_alloc(cls, !kmm_heap_observed(), fresh);
	if (KMM_LIKELY(obj != NULL)) {
		t->last_path = KMM_TP_SLAB;
		/* poison=on: every free object was filled (freed ones by
		 * free_slow, carved ones by uslab.c) */
		if (KMM_UNLIKELY(kmm_params.poison))
			kmm_poison_check_n(obj, kmm_uslab_classes[cls].size, "malloc()");
	}
	return obj;
}

/* malloc(0) and its kin under zero_guard=on (zero.h): a zero-size block,
 * else (its range full or unmapped) an ordinary block of the smallest size. */
static KMM_NOINLINE void *zero_block(size_t *n)
{
	if (kmm_params.zero_guard) {
		void *mem = kmm_zero_alloc();
		if (mem != NULL) {
			kmm_self.last_path = KMM_TP_ZERO;
			return mem;
		}
	}
	*n = 1;   /* (kmm_uslab_class(0) may be the empty class) */
	return NULL;
}

KMM_INLINE void *malloc_slow(size_t n, const void *caller)
{
	if (KMM_UNLIKELY(n > KMM_MAX_REQUEST)) {
		errno = ENOMEM;
		return NULL;
	}
	kmm_ensure_init();
	if (KMM_UNLIKELY(n == 0)) {
		void *mem = zero_block(&n);
		if (mem != NULL)
			return mem;
	}
	struct kmm_thread *t = &kmm_self;
	struct kmm_tcache *tc = kmm_thread_tcache(t);
	size_t nb = request2size(n);
	size_t tidx = kmm_csize2tidx(nb);

	t->caller = caller;
	t->c.mallocs_slow++;
	if (slab_front(n) && tc != NULL) {
		void *obj = slab_alloc(t, kmm_uslab_class(n), NULL);
		if (KMM_LIKELY(obj != NULL))
			return obj;
	}
	if (tc != NULL && tidx < kmm_params.tcache_bins) {
		/* a new tcache may have been created just now, empty */
		if (tc->heads[tidx] != NULL) {
			t->c.tc_alloc_hits++;
			t->last_path = KMM_TP_TCACHE;
			return kmm_tcache_get(tc, tidx);
		}
		t->c.tc_alloc_misses++;
	}

	bool locked;
	struct kmm_arena *a = lock_my_arena(t, &locked);
	mchunk p = kmm_int_malloc(a, nb, tc);
	enum kmm_path path = a->last_path;
	arena_unlock(a, locked);
	t->last_path = trace_path_of(path);
	if (KMM_UNLIKELY(p == NULL)) {
		if (path == KMM_PATH_BIG)
			return big_or_heap(a, n, 0, caller);
		p = retry_in_main(a, nb, tc);
		if (p == NULL) {
			errno = ENOMEM;
			return NULL;
		}
	}
	return chunk2mem(p);
}

/* ---- sampling (heap.h) ----------------------------------------------------------
 *
 * The call whose request took the thread's countdown below zero: the
 * sampler decides.  A sampled request is a chunk of the thread's arena
 * (never the slab front end's or the tcache's) with the M bit set
 * (chunk.h: "sampled"), which sends its free to the slow path, where the
 * sampler hears of it and the bit is cleared; a request the arena finds
 * big is a big block, whose free takes the slow path anyway.  NULL when
 * the call is not sampled (then the caller serves it as usual). */
/* The sampler, if it takes this call (its countdown went below zero with
 * a request of n bytes), else NULL. */
static const struct kmm_heap_sampler *sampler_takes(size_t n)
{
	const struct kmm_heap_sampler *s = __atomic_load_n(&sampler, __ATOMIC_ACQUIRE);
	if (s == NULL || kmm_params.observed) {
		kmm_self.sample_left = INT64_MAX;
		return NULL;
	}
	if (n > KMM_MAX_REQUEST) {   /* (it fails: not a sample; the countdown as it was) */
		kmm_sample_give_back(&kmm_self, n);
		return NULL;
	}
	if (!s->due(n))
		return NULL;
	return s;
}

/* A sampled block of n bytes for sampler s (which took the call). */
static void *sampled_block(const struct kmm_heap_sampler *s, size_t n, const void *caller)
{
	struct kmm_thread *t = &kmm_self;
	void *mem;
	if (kmm_thread_tcache(t) == NULL)
		return NULL;   /* (a thread past its exit) */
	bool locked;
	struct kmm_arena *a = lock_my_arena(t, &locked);
	mchunk p = kmm_int_malloc(a, request2size(n), NULL);
	enum kmm_path path = a->last_path;
	if (p != NULL)
		set_head(p, chunk_head(p) | KMM_SAMPLED);   /* (under the lock: neighbours write P) */
	arena_unlock(a, locked);
	if (p != NULL) {
		mem = chunk2mem(p);
	} else if (path == KMM_PATH_BIG &&
		   __atomic_load_n(&kmm_big_stats.n_mmaps, __ATOMIC_RELAXED) < (size_t)kmm_params.n_mmaps_max) {
		mem = kmm_big_alloc(n, 0, caller);
		if (mem == NULL)
			return NULL;
	} else {
		return NULL;
	}
	t->c.mallocs_slow++;
	t->last_path = trace_path_of(path);
	s->made(mem, n, caller);
	return mem;
}

static KMM_NOINLINE void *sampled_alloc(size_t n, const void *caller)
{
	const struct kmm_heap_sampler *s = sampler_takes(n);
	return s != NULL ? sampled_block(s, n, caller) : NULL;
}

KMM_NOINLINE void *kmm_heap_malloc_sampled(size_t n, const void *caller)
{
	kmm_ensure_init();
	kmm_busy++;
	void *mem = sampled_alloc(n, caller);
	kmm_busy--;
	return mem != NULL ? mem : kmm_heap_malloc_slow(n, caller);
}

KMM_COLD void kmm_heap_set_sampler(const struct kmm_heap_sampler *s)
{
	__atomic_store_n(&sampler, s, __ATOMIC_RELEASE);
}

bool kmm_heap_sampling(void)
{
	return __atomic_load_n(&sampler, __ATOMIC_RELAXED) != NULL;
}

/* A big block is freed or reallocated: the sampler may know it. */
KMM_INLINE void sampled_gone(void *mem)
{
	const struct kmm_heap_sampler *s = __atomic_load_n(&sampler, __ATOMIC_RELAXED);
	if (KMM_UNLIKELY(s != NULL))
		s->gone(mem);
}

/* A sampled heap chunk is freed or reallocated: its M bit cleared (under
 * its arena's lock: the neighbours' frees write its P bit), then the
 * sampler told. */
static KMM_NOINLINE void sampled_chunk_gone(struct kmm_arena *a, mchunk p)
{
	bool locked = arena_lock(a);
	set_head(p, chunk_head(p) & ~KMM_SAMPLED);
	arena_unlock(a, locked);
	sampled_gone(chunk2mem(p));
}

static KMM_COLD KMM_NORETURN void not_ours(const void *mem, const char *who)
{
	kmm_printerr_ptr(who, "invalid pointer", mem, "not a block kmm handed out");
}

/* The header of what should be a heap chunk, and its arena: aborts unless
 * mem is 16-byte aligned and inside a heap kmm made — the read/write part
 * of a further arena's heap, or the main arena's span but not vmalloc's
 * spaces nor the buddy allocator's sections, where kmm keeps its own
 * metadata (the span of a non-contiguous main heap may enclose them) — all
 * checked before reading anything; then the header's size must be sane,
 * keep the chunk inside that heap, and its A bit must match. */
KMM_INLINE size_t heap_chunk_size(const void *mem, const char *who, struct kmm_arena **ap)
{
	mchunk p = mem2chunk(mem);
	struct kmm_arena *a;
	size_t size;
	if (KMM_UNLIKELY(!aligned_ok((uintptr_t)mem)))
		kmm_printerr_ptr(who, "invalid pointer", mem, "misaligned");
	/* a further arena's heap cannot lie inside a contiguous brk heap */
	if (KMM_UNLIKELY((!arena_spans(&kmm_main_arena, p) || !arena_contiguous(&kmm_main_arena)) &&
			 kmm_heap_registered(p))) {
		a = heap_for_ptr(p)->ar;
		if (KMM_UNLIKELY(!kmm_arena_heap_contains(a, p, KMM_CHUNK_HDR)))
			not_ours(mem, who);
		size = chunksize(p);
		if (KMM_UNLIKELY(!kmm_arena_heap_contains(a, p, size)))
			not_ours(mem, who);
		if (KMM_UNLIKELY(chunk_main_arena(p)))
			kmm_printerr_ptr(who, "invalid pointer", mem, "corrupted chunk header: arena bit clear in a further arena");
	} else {
		a = &kmm_main_arena;
		if (KMM_UNLIKELY(!arena_spans(a, p) || kmm_vmalloc_in_space(mem) ||
				 (!arena_contiguous(a) && kmm_virt_to_page(mem) != NULL)))
			not_ours(mem, who);
		size = chunksize(p);
		if (KMM_UNLIKELY((uintptr_t)p > (uintptr_t)-size || !arena_spans(a, (char *)p + size - 1)))
			not_ours(mem, who);
		if (KMM_UNLIKELY(!chunk_main_arena(p)))
			kmm_printerr_ptr(who, "invalid pointer", mem, "corrupted chunk header: arena bit set in the main heap");
	}
	/* (the M bit: a sampled chunk, chunk.h; corruption when nothing samples) */
	if (KMM_UNLIKELY(size < KMM_MINSIZE || !aligned_ok(size) || (chunk_is_sampled(p) && !kmm_heap_sampling())))
		kmm_printerr_ptr(who, "invalid size", mem, "corrupted chunk header: size out of range");
	*ap = a;
	return size;
}

KMM_INLINE void free_slow(void *mem)
{
	struct kmm_thread *t = &kmm_self;
	t->c.frees_slow++;
	if (KMM_UNLIKELY(kmm_zero_owns(mem))) {
		t->last_path = KMM_TP_ZERO;
		kmm_zero_free(mem, "free()");
		return;
	}
	if (kmm_big_owns(mem)) {
		t->last_path = KMM_TP_VFREE;
		if (KMM_UNLIKELY(kmm_params.init_on_free))
			memset(mem, 0, kmm_big_usable(mem, "free()"));
		sampled_gone(mem);
		kmm_big_free(mem);
		return;
	}
	struct kmm_page *slab = kmm_uslab_head(mem);
	if (slab != NULL) {
		/* init_on_free, poison: past the two list words, which the
		 * free itself writes */
		if (KMM_UNLIKELY(kmm_params.init_on_free | kmm_params.poison)) {
			size_t usable = kmm_uslab_usable(slab, mem, "free()");
			if (kmm_params.poison)
				kmm_poison_fill_n(mem, usable);
			else
				memset((char *)mem + 16, 0, usable - 16);
		}
		t->last_path = kmm_uslab_free(slab, mem, "free()") ? KMM_TP_SLAB : KMM_TP_REMOTE;
		return;
	}
	mchunk p = mem2chunk(mem);
	struct kmm_arena *a;
	size_t size = heap_chunk_size(mem, "free()", &a);
	/* another thread's arena (below) */
	bool remote = a != t->arena && !single_threaded() &&
		      __atomic_load_n(&a->attached_threads, __ATOMIC_RELAXED) != 0;
	if (KMM_UNLIKELY(chunk_is_sampled(p))) {
		if (remote)
			sampled_gone(mem);   /* (the bit is cleared by the drain: remote.c) */
		else
			sampled_chunk_gone(a, p);
	}
	/* init_on_free=on: what the block held does not outlive it (past the
	 * two list words, which the free itself writes) */
	if (KMM_UNLIKELY(kmm_params.init_on_free) && chunk_usable(p) > 16)
		memset((char *)mem + 16, 0, chunk_usable(p) - 16);

	struct kmm_tcache *tc = kmm_thread_tcache(t);

	/* another thread's arena: not into our tcache (fastpath.h says why),
	 * no lock either: into this thread's remote batch for that arena,
	 * pushed on its remote list when full (remote.h) */
	if (remote) {
		kmm_remote_free(t, a, p);
		return;
	}

	size_t tidx = kmm_csize2tidx(size);
	if (tc != NULL && tidx < kmm_params.tcache_bins) {
		struct kmm_tcache_entry *e = mem;
		if (KMM_UNLIKELY(e->key == kmm_tcache_key)) {
			kmm_tcache_double_free_check(tc, tidx, mem);
			kmm_remote_list_check(a, p);
		}
		if (tc->counts[tidx] < kmm_params.tcache_count) {
			kmm_tcache_put(tc, p, tidx);
			t->c.tc_free_hits++;
			t->last_path = KMM_TP_TCACHE;
			return;
		}
		t->c.tc_free_overflow++;
	}

	bool locked = arena_lock(a);
	kmm_int_free(a, p);
	t->last_path = a->last_free;
	arena_unlock(a, locked);
}

KMM_COLD size_t kmm_heap_block_usable(const void *mem, const char *who)
{
	if (kmm_zero_owns(mem))
		return 0;
	if (kmm_big_owns(mem))
		return kmm_big_usable(mem, who);
	struct kmm_page *slab = kmm_uslab_head(mem);
	if (slab != NULL)
		return kmm_uslab_usable(slab, mem, who);
	struct kmm_arena *a;
	return heap_chunk_size(mem, who, &a) - KMM_SIZE_SZ;
}

/* The entry points count the thread busy while they run (util/lock.h,
 * "BUSY"): a fork from a signal handler that interrupted one of them must
 * not trust the heap in the child (rescue.h). */
void (*kmm_heap_slow_hook)(void);

KMM_INLINE void slow_hook(void)
{
	void (*fn)(void) = __atomic_load_n(&kmm_heap_slow_hook, __ATOMIC_RELAXED);
	if (KMM_UNLIKELY(fn != NULL))
		fn();
}

KMM_HOT KMM_NOINLINE void *kmm_heap_malloc_slow(size_t n, const void *caller)
{
	kmm_ensure_init();   /* (the options may turn the observed mode on) */
	kmm_busy++;
	void *mem = KMM_UNLIKELY(kmm_params.observed) ? observer->malloc(n, caller) : malloc_slow(n, caller);
	kmm_busy--;
	slow_hook();   /* (KMM_LIVE: publish every 100 ms, src/live.h) */
	return mem;
}

KMM_HOT KMM_NOINLINE void kmm_heap_free_slow(void *mem)
{
	kmm_busy++;
	if (KMM_UNLIKELY(kmm_params.observed))
		observer->free(mem, __builtin_return_address(0));
	else
		free_slow(mem);
	kmm_busy--;
	slow_hook();
}

/* calloc of a big block: all of it reads as zero (a reused area may be
 * bigger than asked), but only pages that may hold old data are cleared. */
static void *zero_big(void *mem, size_t bytes)
{
	if (KMM_UNLIKELY(kmm_params.perturb_byte != 0))
		return memset(mem, 0, bytes);
	kmm_big_zero(mem, kmm_big_usable(mem, "calloc()"));
	return mem;
}

static KMM_NOINLINE void *calloc_big(struct kmm_arena *a, size_t bytes, const void *caller)
{
	void *mem = big_or_heap(a, bytes, 0, caller);
	if (mem == NULL)
		return NULL;
	if (!kmm_big_owns(mem))   /* the heap fallback */
		return memset(mem, 0, chunk_usable(mem2chunk(mem)));
	return zero_big(mem, bytes);
}

/* calloc's turn at the countdown (heap.h, "sampling"). */
static KMM_NOINLINE void *calloc_sampled(size_t bytes, const void *caller)
{
	void *mem = sampled_alloc(bytes, caller);
	if (mem == NULL)
		return NULL;
	if (kmm_big_owns(mem))
		return zero_big(mem, bytes);
	return memset(mem, 0, chunk_usable(mem2chunk(mem)));
}

static void *calloc_impl(size_t n, size_t size, const void *caller)
{
	size_t bytes;
	if (KMM_UNLIKELY(__builtin_mul_overflow(n, size, &bytes) || bytes > KMM_MAX_REQUEST)) {
		errno = ENOMEM;
		return NULL;
	}
	kmm_ensure_init();
	if (KMM_UNLIKELY(bytes == 0)) {
		void *mem = zero_block(&bytes);
		if (mem != NULL)
			return mem;
	}
	struct kmm_thread *t = &kmm_self;
	size_t nb = request2size(bytes);
	struct kmm_tcache *tc = kmm_thread_tcache(t);

	t->caller = caller;
	t->c.mallocs_slow++;
	if (slab_front(bytes) && tc != NULL) {
		size_t cls = kmm_uslab_class(bytes);
		bool fresh;
		void *obj = kmm_uslab_pop_fresh(cls, &fresh);
		if (obj != NULL)
			t->last_path = KMM_TP_SLAB;
		else
			obj = slab_alloc(t, cls, &fresh);
		if (KMM_LIKELY(obj != NULL)) {
			/* fresh: never handed out, its frames were zero; only
			 * the list words were written (the second one is
			 * cleared already) */
			if (fresh && KMM_LIKELY(kmm_params.perturb_byte == 0)) {
				*(uintptr_t *)obj = 0;
				return obj;
			}
			return memset(obj, 0, kmm_uslab_classes[cls].size);
		}
	}
	/* not from the tcache, as glibc's calloc: its chunks go to the bins
	 * (then to the fastbins once the tcache bin is full), which glibc's
	 * tst-safe-linking relies on (with the slab front end the tcache
	 * never holds a calloc's size anyway) */
	bool locked;
	struct kmm_arena *a = lock_my_arena(t, &locked);
	mchunk p = kmm_int_malloc(a, nb, tc);
	enum kmm_path path = a->last_path;
	char *fresh = a->carve_fresh;
	arena_unlock(a, locked);
	t->last_path = trace_path_of(path);
	if (KMM_UNLIKELY(p == NULL)) {
		if (path == KMM_PATH_BIG)
			return calloc_big(a, bytes, caller);
		p = retry_in_main(a, nb, tc);
		if (p == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		path = KMM_PATH_NR;   /* clear all of it */
	}
	char *mem = chunk2mem(p);
	size_t usable = chunk_usable(p);
	if (KMM_UNLIKELY(kmm_params.perturb_byte != 0))
		return memset(mem, 0, usable);
	if (path == KMM_PATH_TOP || path == KMM_PATH_SYSMALLOC) {
		/* only what lies below the never-used part of the top chunk
		 * can be dirty */
		size_t dirty = fresh > mem ? (size_t)(fresh - mem) : 0;
		if (dirty < usable)
			usable = dirty;
	}
	return memset(mem, 0, usable);
}

KMM_HOT void *kmm_heap_calloc(size_t n, size_t size, const void *caller)
{
	kmm_ensure_init();
	kmm_busy++;
	size_t bytes;
	void *mem = NULL;
	if (KMM_UNLIKELY(!__builtin_mul_overflow(n, size, &bytes) &&
			 kmm_sample_take(&kmm_self, bytes)))
		mem = calloc_sampled(bytes, caller);
	if (mem == NULL)
		mem = KMM_UNLIKELY(kmm_params.observed) ? observer->calloc(n, size, caller)
							 : calloc_impl(n, size, caller);
	kmm_busy--;
	return mem;
}

static void *realloc_impl(void *mem, size_t n, const void *caller);

/* malloc inside realloc, whose request went through the countdown already
 * (realloc_impl). */
KMM_INLINE void *malloc_counted(size_t n, const void *caller)
{
	kmm_sample_give_back(&kmm_self, n);
	return kmm_malloc_fast(n, caller);
}

/* realloc's request took the countdown below zero and sampler s took it.
 * A big block or heap chunk is resized as usual (no copy more than
 * unsampled), then the result made a sample: a big block as it is, a
 * heap chunk with its M bit set; a slab object or a zero-size block
 * (at most 4 KiB to copy) moves into a sampled block.  (A sampled mem
 * counts as freed on the way: heap.h.) */
static KMM_NOINLINE void *realloc_sampled(const struct kmm_heap_sampler *s, void *mem, size_t n,
					  const void *caller)
{
	kmm_sample_give_back(&kmm_self, n);   /* (realloc_impl counts n again) */
	if (kmm_big_owns(mem) || (!kmm_zero_owns(mem) && kmm_uslab_head(mem) == NULL)) {
		void *nmem = realloc_impl(mem, n, caller);
		if (nmem == NULL)
			return NULL;
		if (!kmm_big_owns(nmem)) {
			if (kmm_uslab_head(nmem) != NULL || kmm_zero_owns(nmem))
				return nmem;   /* (not a heap chunk after all: unsampled) */
			struct kmm_arena *a;
			mchunk p = mem2chunk(nmem);
			(void)heap_chunk_size(nmem, "realloc()", &a);
			bool locked = arena_lock(a);
			set_head(p, chunk_head(p) | KMM_SAMPLED);
			arena_unlock(a, locked);
		}
		s->made(nmem, n, caller);
		return nmem;
	}
	size_t old = kmm_heap_block_usable(mem, "realloc()");
	void *nmem = sampled_block(s, n, caller);
	if (nmem == NULL)
		return realloc_impl(mem, n, caller);
	(void)kmm_sample_take(&kmm_self, n);
	memcpy(nmem, mem, old < n ? old : n);
	kmm_free_fast(mem);
	return nmem;
}

/* realloc of a big block: vrealloc grows in place or moves the pages
 * without copying; it stays a big block even when it shrinks below the
 * threshold, as a mapped chunk does in glibc. */
static KMM_NOINLINE void *realloc_big(void *mem, size_t n, const void *caller)
{
	size_t old = kmm_big_usable(mem, "realloc()");
	sampled_gone(mem);   /* (a reallocated sample counts as freed) */
	void *nmem = kmm_big_realloc(mem, n);
	if (nmem != NULL)
		return nmem;
	if (old >= n)   /* could not shrink: still fits */
		return mem;
	nmem = malloc_counted(n, caller);
	if (nmem == NULL)
		return NULL;
	memcpy(nmem, mem, old);
	kmm_big_free(mem);
	return nmem;
}

/* A heap chunk grows past the threshold: copy it to a big block (or, if
 * vmalloc fails, grow it in the heap after all). */
static KMM_NOINLINE void *realloc_heap_to_big(struct kmm_arena *a, mchunk oldp, size_t n,
					      const void *caller)
{
	void *nmem = kmm_big_alloc(n, 0, caller);
	bool locked;
	if (nmem != NULL) {
		memcpy(nmem, chunk2mem(oldp), chunk_usable(oldp));
		locked = arena_lock(a);
		kmm_int_free(a, oldp);
		arena_unlock(a, locked);
		return nmem;
	}
	__atomic_add_fetch(&kmm_big_stats.fallbacks, 1, __ATOMIC_RELAXED);
	locked = arena_lock(a);
	a->no_big = true;
	mchunk newp = kmm_int_realloc(a, oldp, chunksize(oldp), request2size(n));
	a->no_big = false;
	arena_unlock(a, locked);
	if (newp == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	return chunk2mem(newp);
}

/* realloc of a slab object: in place while the new size fits its class
 * (and, shrinking, still fills more than half of an object over 128
 * bytes: a block cut down to a fraction moves to a smaller class), else a
 * new block, a copy and a free. */
static KMM_NOINLINE void *realloc_slab(struct kmm_page *slab, void *mem, size_t n, const void *caller)
{
	size_t old = kmm_uslab_usable(slab, mem, "realloc()");
	/* an object carrying the freed mark is moved, so that its free
	 * below looks for it on the lists (a realloc of a freed block
	 * aborts there, naming realloc; a mark that was the program's data
	 * costs a copy) */
	bool marked = !kmm_vg_on && kmm_uslab_marked(mem);   /* (memcheck: the program's data) */
	if (n <= old && (old <= 128 || n > old / 2) && !marked) {
		kmm_self.last_path = KMM_TP_IN_PLACE;
		return mem;
	}
	void *nmem = malloc_counted(n, caller);
	if (nmem == NULL)
		return NULL;
	memcpy(nmem, mem, old < n ? old : n);
	if (KMM_UNLIKELY(marked))
		kmm_uslab_free(slab, mem, "realloc()");
	else
		kmm_free_fast(mem);
	return nmem;
}

static void *realloc_impl(void *mem, size_t n, const void *caller)
{
	if (mem == NULL)
		return kmm_malloc_fast(n, caller);
	if (n == 0) {
		kmm_free_fast(mem);
		return NULL;
	}
	if (KMM_UNLIKELY(n > KMM_MAX_REQUEST)) {
		errno = ENOMEM;
		return NULL;
	}
	struct kmm_thread *t = &kmm_self;
	t->caller = caller;
	t->c.mallocs_slow++;
	/* the result is an allocation of n bytes, as far as sampling goes
	 * (heap.h): its turn at the countdown */
	if (KMM_UNLIKELY(kmm_sample_take(t, n))) {
		const struct kmm_heap_sampler *s = sampler_takes(n);
		if (s != NULL)
			return realloc_sampled(s, mem, n, caller);
	}

	if (KMM_UNLIKELY(kmm_zero_owns(mem))) {
		/* nothing to copy; a freed one aborts, as free() would */
		if (!kmm_zero_live(mem, "realloc()"))
			kmm_printerr("realloc(): invalid pointer", " %p (a zero-size block, freed already)", mem);
		void *nmem = malloc_counted(n, caller);
		if (nmem != NULL)
			kmm_free_fast(mem);
		return nmem;
	}
	if (kmm_big_owns(mem))
		return realloc_big(mem, n, caller);
	struct kmm_page *slab = kmm_uslab_head(mem);
	if (slab != NULL)
		return realloc_slab(slab, mem, n, caller);

	mchunk oldp = mem2chunk(mem);
	struct kmm_arena *a;
	size_t oldsize = heap_chunk_size(mem, "realloc()", &a);
	size_t nb = request2size(n);
	if (KMM_UNLIKELY(chunk_is_sampled(oldp)))
		sampled_chunk_gone(a, oldp);   /* (a reallocated sample counts as freed) */
	bool locked = arena_lock(a);
	/* a block freed already (glibc does not look, and reads past its
	 * heap or corrupts it): merged into the top, or free in a bin (the
	 * next chunk says so).  (One in a tcache or a fastbin looks in use;
	 * its key word is the program's data, unknown to memcheck.) */
	if (KMM_UNLIKELY(oldp == a->top || !prev_inuse(chunk_at(oldp, oldsize))))
		kmm_printerr("realloc(): invalid pointer", " %p (freed already)", mem);
	/* one in this thread's tcache looks in use: its key word says it may
	 * be, the bin says whether it is (glibc does not look) */
	if (!kmm_vg_on && KMM_UNLIKELY(((struct kmm_tcache_entry *)mem)->key == kmm_tcache_key) &&
	    kmm_tcache_holds(kmm_thread_tcache(t), kmm_csize2tidx(oldsize), mem)) {
		arena_unlock(a, locked);
		kmm_printerr("realloc(): invalid pointer", " %p (freed already: in this thread's tcache)", mem);
	}
	mchunk newp = kmm_int_realloc(a, oldp, oldsize, nb);
	enum kmm_path path = a->last_path;
	arena_unlock(a, locked);
	t->last_path = trace_path_of(path);
	if (KMM_UNLIKELY(newp == NULL)) {
		if (path == KMM_PATH_BIG)
			return realloc_heap_to_big(a, oldp, n, caller);
		errno = ENOMEM;
		return NULL;
	}
	return chunk2mem(newp);
}

KMM_HOT void *kmm_heap_realloc(void *mem, size_t n, const void *caller)
{
	kmm_ensure_init();
	kmm_busy++;
	void *r = KMM_UNLIKELY(kmm_params.observed) ? observer->realloc(mem, n, caller)
						     : realloc_impl(mem, n, caller);
	kmm_busy--;
	return r;
}

void *kmm_heap_reallocarray(void *mem, size_t n, size_t size, const void *caller)
{
	size_t bytes;
	if (KMM_UNLIKELY(__builtin_mul_overflow(n, size, &bytes))) {
		errno = ENOMEM;
		return NULL;
	}
	return kmm_heap_realloc(mem, bytes, caller);
}

/* memalign with glibc's rules: alignments up to 16 are plain mallocs, a
 * non-power-of-two alignment is rounded up to the next power of two, an
 * alignment above SIZE_MAX/2 + 1 is EINVAL. */
/* memalign from the slab front end: the smallest class that holds n and
 * whose size is a multiple of the alignment (its objects are aligned to
 * it: slabs are aligned to 64 KiB), or NULL if there is none or it
 * cannot serve (then the heap does). */
static KMM_NOINLINE void *slab_memalign(size_t alignment, size_t n, const void *caller)
{
	kmm_ensure_init();
	if (alignment == 0)
		alignment = 1;
	if (n < alignment)
		n = alignment;
	size_t cls = kmm_uslab_class(n);
	while (cls < KMM_USLAB_CLASSES && kmm_uslab_classes[cls].size % alignment != 0)
		cls++;
	if (cls == KMM_USLAB_CLASSES)
		return NULL;
	struct kmm_thread *t = &kmm_self;
	t->caller = caller;
	t->c.mallocs_slow++;
	if (kmm_thread_tcache(t) == NULL)
		return NULL;
	void *obj = kmm_uslab_pop(cls);
	if (obj != NULL) {
		t->last_path = KMM_TP_SLAB;
		return obj;
	}
	return slab_alloc(t, cls, NULL);
}

/* memalign's turn at the countdown: a sampled aligned block is a heap
 * chunk of the thread's arena with the M bit set, as sampled_block's;
 * alignment is a power of two above 16 (memalign_impl's rules applied).
 * NULL: not sampled (the caller serves the call as usual). */
static KMM_NOINLINE void *sampled_memalign(size_t alignment, size_t n, const void *caller)
{
	const struct kmm_heap_sampler *s = sampler_takes(n);
	if (s == NULL)
		return NULL;
	struct kmm_thread *t = &kmm_self;
	if (kmm_thread_tcache(t) == NULL)
		return NULL;
	bool locked;
	struct kmm_arena *a = lock_my_arena(t, &locked);
	mchunk p = kmm_int_memalign(a, alignment, request2size(n));
	enum kmm_path path = a->last_path;
	if (p != NULL)
		set_head(p, chunk_head(p) | KMM_SAMPLED);   /* (under the lock: neighbours write P) */
	arena_unlock(a, locked);
	if (p == NULL)
		return NULL;   /* (a big block: served, unsampled, as usual) */
	t->c.mallocs_slow++;
	t->last_path = trace_path_of(path);
	void *mem = chunk2mem(p);
	s->made(mem, n, caller);
	return mem;
}

static void *memalign_impl(size_t alignment, size_t n, const void *caller)
{
	/* the countdown, as malloc's fast path takes it; a sampled call
	 * skips the slab front end */
	bool sample = KMM_UNLIKELY(kmm_sample_take(&kmm_self, n));
	if (!sample && slab_front(n) && alignment <= KMM_USLAB_MAX && (alignment & (alignment - 1)) == 0) {
		void *obj = slab_memalign(alignment, n, caller);
		if (obj != NULL)
			return obj;
	}
	if (alignment <= KMM_ALIGNMENT) {
		kmm_sample_give_back(&kmm_self, n);   /* (kmm_malloc_fast takes the turn) */
		return kmm_malloc_fast(n, caller);
	}
	if (KMM_UNLIKELY(alignment > SIZE_MAX / 2 + 1)) {
		errno = EINVAL;
		return NULL;
	}
	if (alignment & (alignment - 1)) {
		size_t a = KMM_MINSIZE;
		while (a < alignment)
			a <<= 1;
		alignment = a;
	}
	if (alignment < KMM_MINSIZE)
		alignment = KMM_MINSIZE;
	if (KMM_UNLIKELY(kmm_aligned_too_big(alignment, n))) {
		errno = ENOMEM;
		return NULL;
	}
	kmm_ensure_init();
	struct kmm_thread *t = &kmm_self;
	t->caller = caller;
	if (KMM_UNLIKELY(sample)) {
		void *mem = sampled_memalign(alignment, n, caller);
		if (mem != NULL)
			return mem;
	}
	t->c.mallocs_slow++;
	bool locked;
	struct kmm_arena *a = lock_my_arena(t, &locked);
	mchunk p = kmm_int_memalign(a, alignment, request2size(n));
	enum kmm_path path = a->last_path;
	arena_unlock(a, locked);
	t->last_path = trace_path_of(path);
	if (p == NULL) {
		if (path == KMM_PATH_BIG)
			return big_or_heap(a, n, alignment, caller);
		errno = ENOMEM;
		return NULL;
	}
	return chunk2mem(p);
}

void *kmm_heap_memalign(size_t alignment, size_t n, const void *caller)
{
	kmm_ensure_init();
	kmm_busy++;
	void *mem = KMM_UNLIKELY(kmm_params.observed) ? observer->memalign(alignment, n, caller)
						       : memalign_impl(alignment, n, caller);
	kmm_busy--;
	return mem;
}

int kmm_heap_posix_memalign(void **out, size_t alignment, size_t n, const void *caller)
{
	/* a power of two multiple of sizeof(void *) */
	if (alignment % sizeof(void *) != 0 || alignment == 0 ||
	    (alignment & (alignment - 1)) != 0)
		return EINVAL;
	void *mem = kmm_heap_memalign(alignment, n, caller);
	if (mem == NULL)
		return ENOMEM;   /* errno ENOMEM as well, as glibc's (tst-malloc-thread-fail checks it) */
	*out = mem;
	return 0;
}

/* C11: the alignment must be a power of two (glibc >= 2.38 also says EINVAL
 * otherwise). */
void *kmm_heap_aligned_alloc(size_t alignment, size_t n, const void *caller)
{
	if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	return kmm_heap_memalign(alignment, n, caller);
}

void *kmm_heap_valloc(size_t n, const void *caller)
{
	return kmm_heap_memalign(kmm_os_page_size(), n, caller);
}

void *kmm_heap_pvalloc(size_t n, const void *caller)
{
	size_t ps = kmm_os_page_size();
	if (KMM_UNLIKELY(n > SIZE_MAX - ps)) {
		errno = ENOMEM;
		return NULL;
	}
	return kmm_heap_memalign(ps, KMM_ALIGN_UP(n, ps), caller);
}

static size_t usable_size(const void *mem)
{
	if (mem == NULL || kmm_zero_owns(mem))
		return 0;
	if (kmm_big_owns(mem))
		return kmm_big_usable(mem, "malloc_usable_size()");
	struct kmm_page *slab = kmm_uslab_head(mem);
	if (slab != NULL)
		return kmm_uslab_usable(slab, mem, "malloc_usable_size()");
	mchunk p = mem2chunk(mem);
	struct kmm_arena *a;
	size_t size = heap_chunk_size(mem, "malloc_usable_size()", &a);
	if (!inuse(p))
		return 0;
	return size - KMM_SIZE_SZ;
}

size_t kmm_heap_usable_size(const void *mem)
{
	if (KMM_UNLIKELY(kmm_params.observed))
		return observer->usable_size(mem);
	return usable_size(mem);
}

KMM_COLD int kmm_heap_mallopt(int param, int value)
{
	if (kmm_rescued())
		return 0;   /* (rescue.h: the inherited heap is left alone) */
	if (param == KMM_P_REDZONE)
		return 0;   /* start-up only: blocks made without one have no trailer */
	kmm_ensure_init();
	/* as glibc: fastbins are merged first, so that changing M_MXFAST
	 * leaves no chunk in a bin that no longer exists */
	kmm_for_each_arena(o) {
		if (o == &kmm_main_arena)
			continue;
		bool locked = kmm_lock_fork_aware(&o->lock);
		kmm_malloc_consolidate(o);
		kmm_unlock_if(&o->lock, locked);
	}
	struct kmm_arena *a = &kmm_main_arena;
	bool locked = kmm_lock_fork_aware(&a->lock);
	kmm_malloc_consolidate(a);
	int ok = kmm_params_set(param, value);
	kmm_unlock_if(&a->lock, locked);
	return ok;
}

KMM_COLD int kmm_heap_trim(size_t pad)
{
	if (kmm_rescued())
		return 0;
	kmm_ensure_init();
	kmm_thread_remote_flush(&kmm_self);
	int r = 0;
	kmm_for_each_arena(a) {
		bool locked = kmm_lock_fork_aware(&a->lock);
		kmm_arena_remote_drain(a);
		if (kmm_arena_trim(a, pad))
			r = 1;
		kmm_unlock_if(&a->lock, locked);
	}
	/* and the kernel side: lazily freed vmalloc areas, resident free
	 * buddy blocks */
	if (kmm_kernel_trim() > 0)
		r = 1;
	return r;
}

/* ---- the observed mode ---------------------------------------------------------
 *
 * While kmm_params.observed is not 0, every malloc-family call takes a slow
 * path (each thread's fast paths are off: thread.h, `tc`) and goes to the
 * observer's table; the observer calls the unobserved functions below to
 * have the work done.  Until the layer above installs its observer, the
 * table is the heap's own unobserved calls. */

static void free_unobserved(void *mem, const void *caller)
{
	(void)caller;
	free_slow(mem);
}

static const struct kmm_heap_observer unobserved = {
	.malloc = kmm_heap_malloc_unobserved,
	.free = free_unobserved,
	.calloc = kmm_heap_calloc_unobserved,
	.realloc = kmm_heap_realloc_unobserved,
	.memalign = kmm_heap_memalign_unobserved,
	.usable_size = kmm_heap_usable_size_unobserved,
};

static const struct kmm_heap_observer *observer = &unobserved;

void kmm_heap_observer_thread_exit(void)
{
	if (observer->thread_exit != NULL)
		observer->thread_exit();
}

KMM_HOT void kmm_heap_set_observer(const struct kmm_heap_observer *o)
{
	observer = o != NULL ? o : &unobserved;
}

KMM_HOT void kmm_heap_observe(unsigned bits)
{
	kmm_params.observed |= bits;
	if (kmm_params.observed)
		kmm_thread_fast_paths_off();
}

KMM_NOINLINE void *kmm_heap_malloc_unobserved(size_t n, const void *caller)
{
	return malloc_slow(n, caller);
}

KMM_NOINLINE void kmm_heap_free_unobserved(void *mem)
{
	free_slow(mem);
}

void *kmm_heap_calloc_unobserved(size_t n, size_t size, const void *caller)
{
	return calloc_impl(n, size, caller);
}

void *kmm_heap_realloc_unobserved(void *mem, size_t n, const void *caller)
{
	return realloc_impl(mem, n, caller);
}

void *kmm_heap_memalign_unobserved(size_t alignment, size_t n, const void *caller)
{
	return memalign_impl(alignment, n, caller);
}

size_t kmm_heap_usable_size_unobserved(const void *mem)
{
	return usable_size(mem);
}

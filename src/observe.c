/*
 * observe.c — the observed mode: the trace log's recording, the leak
 * scanner's tracking, memcheck's client requests and the debug options'
 * wrappers, around every malloc-family call, above the heap.  See
 * observe.h for who turns it on; heap.h ("the observed mode") for the door.
 *
 * THEORY
 *
 * 1. One door.  The heap knows no observer by name: its entry points test
 *    kmm_params.observed (one never-taken branch when nothing watches) and
 *    hand the call to the table installed here (kmm_heap_set_observer).
 *    While anything is observed every thread's fast paths are off, so
 *    every call comes through here; the work is done by the heap's
 *    *_unobserved entry points.
 *
 * 2. The outermost call is observed, once.  realloc(NULL, n) is a malloc,
 *    posix_memalign a memalign, realloc moving a block a malloc and a
 *    free: the heap makes those inner calls through its public entry
 *    points, which come back here; `nest` (this thread's, initial-exec
 *    TLS) sends them straight to the heap.
 *
 * 3. When.  An allocation is observed when it returns (its block, its
 *    size, the path that served it: struct kmm_thread's last_path, the
 *    heap's account).  A free, and the old block of a realloc, before the
 *    block can be reused: the trace takes its sequence number before the
 *    heap gets the block back (docs/trace.md, "Order"), the leak table
 *    drops the block before another thread can be handed its address.
 *
 * 4. In what order, for an allocation: init_on_alloc zeroes the block,
 *    memcheck is told (MALLOCLIKE: the zeroes are defined), the leak table
 *    enters it, the trace records it.  Under memcheck (vg.h) each request
 *    is padded by the trailer word and a free goes through the quarantine.
 *
 * Lock order: this file takes no lock of its own; the leak table's and
 * memcheck's quarantine lock are taken by their files (util/lock.h).
 */
#include "config.h"

#include <string.h>

#include "observe.h"
#include "leakcheck.h"
#include "memcheck.h"
#include "harden.h"
#include "trace.h"
#include "heap/big.h"
#include "heap/chunk.h"
#include "heap/heap.h"
#include "heap/thread.h"
#include "heap/vg.h"
#include "kernel/uslab.h"

/* Inside an observed call (point 2 above). */
static __thread uint8_t nest __attribute__((tls_model("initial-exec")));

/* ---- what each observer does ------------------------------------------------- */

static KMM_NOINLINE void record_at(uint64_t seq, unsigned type, const void *result, size_t size, uint64_t c,
				   uint32_t aux, const void *caller)
{
	unsigned path = kmm_self.last_path;
	if (type == KMM_TR_REALLOC && result != NULL && (uint64_t)(uintptr_t)result == c)
		path = KMM_TP_IN_PLACE;
	else if (result != NULL && kmm_big_owns(result))
		path = kmm_trace_last_vmalloc_path();
	else if (path == KMM_TP_BRK && result != NULL && !chunk_main_arena(mem2chunk(result)))
		path = KMM_TP_ARENA_HEAP;
	kmm_trace_call_at(seq, type, path, aux, (uintptr_t)result, size, c, (uintptr_t)caller);
}

/* init_on_alloc=on: every block handed out reads as zeroes (the kernel's
 * init_on_alloc).  calloc's already do; realloc's new bytes are not. */
static void init_on_alloc(void *mem)
{
	if (kmm_big_owns(mem))
		kmm_big_zero(mem, kmm_big_usable(mem, "malloc()"));
	else   /* a heap chunk or a slab object */
		memset(mem, 0, kmm_heap_block_usable(mem, "malloc()"));
}

/* What an observed allocation asks the heap for: under memcheck, room
 * for the trailer (vg.h); under redzone=on, for the redzone (harden.h).
 * Requests too big to be served stay so. */
static inline size_t padded(size_t n)
{
	if (kmm_vg_on)
		return !kmm_vg_exact && n <= KMM_MAX_REQUEST ? n + KMM_VG_EXTRA : n;
	return kmm_redzone_pad(n);
}

/* A block of `n` bytes was handed out by an observed call. */
static void observe_alloc(void *mem, size_t n, bool zeroed, const void *caller)
{
	if (kmm_params.init_on_alloc && !zeroed) {
		init_on_alloc(mem);
		zeroed = true;
	}
	if ((kmm_params.observed & KMM_OBSERVE_HARDEN) && !kmm_vg_on) {   /* (memcheck has its own) */
		kmm_redzone_set(mem, n);
		kmm_harden_on_alloc();
	}
#if KMM_VALGRIND
	if (kmm_vg_on)
		kmm_vg_alloc(mem, n, kmm_heap_block_usable(mem, "malloc()"), zeroed);
#endif
	if (kmm_params.observed & KMM_OBSERVE_LEAKS)
		kmm_leakcheck_track(mem, n, caller);
}

/* A block is about to be freed, or reallocated (its old address then
 * taken back by the allocator). */
static void observe_free(void *mem)
{
	if (kmm_params.observed & KMM_OBSERVE_LEAKS)
		kmm_leakcheck_untrack(mem, NULL);
}

/* free() of an observed call: under memcheck, through the quarantine. */
static void free_block(void *mem)
{
#if KMM_VALGRIND
	if (kmm_vg_on) {
		/* memcheck first: it reports a pointer it does not know as
		 * an invalid free, which is then ignored, as its own free
		 * does; memcheck=exact goes on to kmm's own checks */
		if (kmm_vg_freelike(mem) || kmm_vg_exact)
			kmm_vg_quarantine(mem, kmm_heap_block_usable(mem, "free()"), kmm_heap_free_unobserved);
		return;
	}
#endif
	if (kmm_params.observed & KMM_OBSERVE_HARDEN) {
		kmm_harden_free(mem, kmm_heap_free_unobserved);
		return;
	}
	kmm_heap_free_unobserved(mem);
}

/* The size the trace records for a freed block: a heap chunk's (header
 * included), a big block's usable bytes, a slab object's (its class). */
static size_t freed_size(const void *mem)
{
	size_t usable = kmm_heap_block_usable(mem, "free()");
	return kmm_big_owns(mem) || kmm_uslab_head(mem) != NULL ? usable : usable + KMM_SIZE_SZ;
}

#if KMM_VALGRIND
/* realloc under memcheck (vg.h): in place while the chunk holds the new
 * size and the trailer, else a new block, the program's bytes copied (with
 * their definedness) and a free through the quarantine. */
static void *vg_realloc(void *mem, size_t n, const void *caller)
{
	if (kmm_vg_exact && mem != NULL && n != 0) {
		/* as without valgrind; then memcheck learns what happened */
		bool big = kmm_big_owns(mem);
		size_t old = kmm_heap_block_usable(mem, "realloc()");
		void *nmem = kmm_heap_realloc_unobserved(mem, n, caller);
		if (nmem == NULL)
			return NULL;
		size_t usable = kmm_heap_block_usable(nmem, "realloc()");
		if (nmem == mem)
			kmm_vg_resized(mem, old, usable, big);
		else
			kmm_vg_moved(mem, old, big, nmem, usable, true);
		return nmem;
	}
	if (mem == NULL)
		return kmm_heap_malloc_unobserved(padded(n), caller);   /* observe_alloc follows */
	if (n == 0) {
		free_block(mem);
		return NULL;
	}
	size_t usable = kmm_heap_block_usable(mem, "realloc()");
	size_t old_n = kmm_vg_requested(mem, usable);
	/* a freed block (still in the quarantine): memcheck reports it, and
	 * realloc fails, as with memcheck's own */
	if (old_n != 0 && !kmm_vg_is_live(mem))
		return NULL;
	if (n <= KMM_MAX_REQUEST && n + KMM_VG_EXTRA <= usable) {
		kmm_vg_resize(mem, old_n, n, usable);
		return mem;
	}
	void *nmem = kmm_heap_malloc_unobserved(padded(n), caller);
	if (nmem == NULL)
		return NULL;
	kmm_vg_alloc(nmem, n, kmm_heap_block_usable(nmem, "realloc()"), false);
	memcpy(nmem, mem, old_n < n ? old_n : n);
	free_block(mem);
	return nmem;
}
#endif

/* ---- the observed calls (the table the heap calls) ------------------------------- */

/* The trace's samples (the rss and layer events, trace.c) are taken at the
 * start of an outermost call: no kmm lock is held, and the call has not
 * changed anything yet, so the sample a call takes after an idle stretch
 * shows the heap as it was all through that stretch.  Not in a call made
 * by a signal handler that interrupted kmm on this thread (busy beyond
 * the entry point's own count: util/lock.h), whose locks may be held. */
static inline void tick(void)
{
	if (kmm_trace_on && kmm_busy <= 1)
		kmm_trace_tick();
}

static KMM_NOINLINE void *observed_malloc(size_t n, const void *caller)
{
	if (nest)
		return kmm_heap_malloc_unobserved(n, caller);
	tick();
	nest = 1;
	kmm_self.last_path = KMM_TP_NONE;
	void *mem = kmm_heap_malloc_unobserved(padded(n), caller);
	nest = 0;
	if (mem != NULL)
		observe_alloc(mem, n, false, caller);
	if (kmm_trace_on)
		record_at(KMM_TRACE_SEQ_NOW, KMM_TR_MALLOC, mem, n, 0, 0, caller);
	return mem;
}

static KMM_NOINLINE void observed_free(void *mem, const void *caller)
{
	if (nest) {
		kmm_heap_free_unobserved(mem);
		return;
	}
	tick();
	nest = 1;
	kmm_self.last_path = KMM_TP_NONE;
	/* before the block can be reused */
	uint64_t seq = 0;
	size_t size = 0;
	if (kmm_trace_on) {
		size = freed_size(mem);
		seq = kmm_trace_reserve();
	}
	observe_free(mem);
	free_block(mem);
	nest = 0;
	if (kmm_trace_on)
		kmm_trace_call_at(seq, KMM_TR_FREE, kmm_self.last_path, 0, 0, size, (uintptr_t)mem,
				  (uintptr_t)caller);
}

static KMM_NOINLINE void *observed_calloc(size_t n, size_t size, const void *caller)
{
	if (nest)
		return kmm_heap_calloc_unobserved(n, size, caller);
	tick();
	nest = 1;
	kmm_self.last_path = KMM_TP_NONE;
	size_t bytes;
	void *mem = __builtin_mul_overflow(n, size, &bytes) ? kmm_heap_calloc_unobserved(n, size, caller)
							    : kmm_heap_calloc_unobserved(padded(bytes), 1, caller);
	nest = 0;
	if (mem != NULL)
		observe_alloc(mem, n * size, true, caller);
	if (kmm_trace_on)
		record_at(KMM_TRACE_SEQ_NOW, KMM_TR_CALLOC, mem, n * size, n, 0, caller);
	return mem;
}

static KMM_NOINLINE void *observed_realloc(void *mem, size_t n, const void *caller)
{
	if (nest)
		return kmm_heap_realloc_unobserved(mem, n, caller);
	tick();
	nest = 1;
	kmm_self.last_path = KMM_TP_NONE;
	/* before the old block can be reused */
	uint64_t seq = kmm_trace_on ? kmm_trace_reserve() : 0;
	/* the leak table: the old block out before another thread can get
	 * its address, back in as it was if the realloc fails */
	bool leaks = mem != NULL && (kmm_params.observed & KMM_OBSERVE_LEAKS);
	struct kmm_leak_rec old;
	bool old_tracked = leaks && kmm_leakcheck_untrack(mem, &old);
	void *nmem;
#if KMM_VALGRIND
	if (kmm_vg_on)
		nmem = vg_realloc(mem, n, caller);
	else
#endif
	if (kmm_params.observed & KMM_OBSERVE_HARDEN)
		nmem = kmm_harden_realloc(mem, n, caller);
	else
		nmem = kmm_heap_realloc_unobserved(mem, n, caller);
	nest = 0;
	if (mem == NULL && nmem != NULL)   /* a malloc */
		observe_alloc(nmem, n, false, caller);
	else if (leaks)
		kmm_leakcheck_realloced(mem, nmem, n, caller, old_tracked ? &old : NULL);
	if (kmm_trace_on)
		record_at(seq, KMM_TR_REALLOC, nmem, n, (uintptr_t)mem, 0, caller);
	return nmem;
}

static KMM_NOINLINE void *observed_memalign(size_t alignment, size_t n, const void *caller)
{
	if (nest)
		return kmm_heap_memalign_unobserved(alignment, n, caller);
	tick();
	nest = 1;
	kmm_self.last_path = KMM_TP_NONE;
	void *mem = kmm_heap_memalign_unobserved(alignment, padded(n), caller);
	nest = 0;
	if (mem != NULL)
		observe_alloc(mem, n, false, caller);
	if (kmm_trace_on)
		record_at(KMM_TRACE_SEQ_NOW, KMM_TR_MEMALIGN, mem, n, 0,
			  (uint32_t)(alignment > UINT32_MAX ? UINT32_MAX : alignment), caller);
	return mem;
}

static size_t observed_usable_size(const void *mem)
{
	size_t usable = kmm_heap_usable_size_unobserved(mem);
#if KMM_VALGRIND
	if (kmm_vg_on && usable != 0)   /* what memcheck knows: the bytes asked for */
		return kmm_vg_requested(mem, usable);
#endif
	if (kmm_params.redzone && usable != 0 && !kmm_vg_on)   /* the bytes asked for, the redzone checked */
		return kmm_redzone_check((void *)mem, "malloc_usable_size()");
	return usable;
}

static void observed_thread_exit(void)
{
	if (kmm_params.observed & KMM_OBSERVE_HARDEN)
		kmm_harden_thread_exit();
}

static const struct kmm_heap_observer observer = {
	.malloc = observed_malloc,
	.free = observed_free,
	.calloc = observed_calloc,
	.realloc = observed_realloc,
	.memalign = observed_memalign,
	.usable_size = observed_usable_size,
	.thread_exit = observed_thread_exit,
};

KMM_HOT void kmm_observe_install(void)
{
	kmm_heap_set_observer(&observer);
}

KMM_HOT void kmm_observe_start(unsigned bits)
{
	kmm_heap_observe(bits);
}

/*
 * big.c — big blocks in vmalloc areas (see big.h).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "big.h"
#include "params.h"
#include "../os.h"
#include "../util/format.h"

struct kmm_big_stats kmm_big_stats;
kmm_lock_t kmm_big_stats_lock = KMM_LOCK_INIT_RANK(KMM_RANK_BIG_STATS);

#define STATS_LOCK()   bool stats_locked_ = kmm_lock_fork_aware(&kmm_big_stats_lock)
#define STATS_UNLOCK() kmm_unlock_if(&kmm_big_stats_lock, stats_locked_)

#define ADD(field, v) __atomic_add_fetch(&kmm_big_stats.field, (v), __ATOMIC_RELAXED)
#define SUB(field, v) __atomic_sub_fetch(&kmm_big_stats.field, (v), __ATOMIC_RELAXED)

static void raise_max(size_t *max, size_t v)
{
	size_t cur = __atomic_load_n(max, __ATOMIC_RELAXED);
	while (v > cur && !__atomic_compare_exchange_n(max, &cur, v, true,
						       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* glibc's dynamic threshold rule for a released big block of `size` bytes
 * (glibc's size of the mapped chunk it would have made) */
static void raise_threshold(size_t size)
{
	if (!kmm_params.no_dyn_threshold && size > kmm_params.mmap_threshold &&
	    size <= KMM_MMAP_THRESHOLD_MAX) {
		kmm_params.mmap_threshold = size;
		kmm_params.trim_threshold = 2 * size;
		ADD(threshold_raises, 1);
	}
}

bool kmm_big_allowed(void)
{
	if (__atomic_load_n(&kmm_big_stats.n_mmaps, __ATOMIC_RELAXED) <
	    (size_t)kmm_params.n_mmaps_max)
		return true;
	ADD(refused_max, 1);
	return false;
}

void *kmm_big_alloc(size_t n, size_t align, const void *caller)
{
	KMM_ASSERT((align & (align - 1)) == 0);
	void *mem = align > KMM_BIG_ALIGN ? kmm_vmalloc_aligned(n, align, caller) : kmm_vmalloc(n, caller);
	if (mem == NULL)
		return NULL;
	/* a reused area may be bigger than asked: the block takes all of it */
	size_t size = kmm_vmalloc_size(mem);
	STATS_LOCK();
	raise_max(&kmm_big_stats.max_n_mmaps, ADD(n_mmaps, 1));
	raise_max(&kmm_big_stats.max_mmapped_mem, ADD(mmapped_mem, size));
	ADD(maps, 1);
	ADD(map_bytes, size);
	STATS_UNLOCK();
	if (KMM_UNLIKELY(kmm_params.perturb_byte != 0))
		memset(mem, kmm_params.perturb_byte ^ 0xff, n);
	return mem;
}

size_t kmm_big_usable(const void *mem, const char *who)
{
	size_t size = kmm_vmalloc_size(mem);
	if (KMM_UNLIKELY(size == 0))
		kmm_printerr_ptr(who, "invalid pointer", mem, "not a block kmm handed out");
	return size;
}

void kmm_big_free(void *mem)
{
	/* free never fails and leaves errno alone, as glibc's: the system
	 * calls below may fail (out of mappings: glibc's tst-free-errno) */
	int saved = errno;
	/* vfree checks mem against vmalloc's own records (and names a double
	 * free) */
	size_t glibc_size = 0;
	if (kmm_params.threshold_rule == KMM_THRESHOLD_GLIBC) {
		/* glibc's mapped chunk: header, request rounded as a chunk,
		 * whole pages */
		size_t req = kmm_vmalloc_requested(mem);
		glibc_size = KMM_ALIGN_UP(request2size(req) + KMM_SIZE_SZ, kmm_os_page_size());
	}
	size_t size = kmm_vfree(mem);
	STATS_LOCK();
	SUB(n_mmaps, 1);
	SUB(mmapped_mem, size);
	ADD(unmaps, 1);
	STATS_UNLOCK();
	if (glibc_size != 0)
		raise_threshold(glibc_size);
	errno = saved;
}

void *kmm_big_realloc(void *mem, size_t n)
{
	size_t old = kmm_big_usable(mem, "realloc()");
	void *p = kmm_vrealloc(mem, n);
	if (p == NULL)
		return NULL;
	size_t size = kmm_vmalloc_size(p);
	STATS_LOCK();
	ADD(remaps, 1);
	if (p != mem)
		ADD(remap_moves, 1);
	if (size > old)
		raise_max(&kmm_big_stats.max_mmapped_mem, ADD(mmapped_mem, size - old));
	else
		SUB(mmapped_mem, old - size);
	STATS_UNLOCK();
	return p;
}

void kmm_big_zero(void *mem, size_t len)
{
	kmm_vmalloc_zero(mem, mem, len);
}

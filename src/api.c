/*
 * api.c — kmm's public, prefixed API (include/kmm.h).  Each entry point
 * forwards to the heap side; malloc and free are the same inline fast paths
 * the preload layer exports under glibc's names.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "kmm.h"
#include "harden.h"
#include "init.h"
#include "leakcheck.h"
#include "report.h"
#include "sample.h"
#include "heap/fastpath.h"
#include "heap/heap.h"
#include "heap/arenas.h"
#include "heap/big.h"
#include "heap/rescue.h"
#include "kernel/kernel.h"
#include "kernel/uslab.h"

#define API KMM_EXPORT
#define RET __builtin_return_address(0)

API void *kmm_malloc(size_t size)                      { return kmm_malloc_fast(size, RET); }
API void  kmm_free(void *ptr)                          { kmm_free_fast(ptr); }
API void *kmm_calloc(size_t n, size_t size)            { return kmm_heap_calloc(n, size, RET); }
API void *kmm_realloc(void *ptr, size_t size)          { return kmm_heap_realloc(ptr, size, RET); }
API void *kmm_reallocarray(void *ptr, size_t n, size_t size) { return kmm_heap_reallocarray(ptr, n, size, RET); }
API void *kmm_memalign(size_t alignment, size_t size)  { return kmm_heap_memalign(alignment, size, RET); }
API int   kmm_posix_memalign(void **memptr, size_t alignment, size_t size)
{
	return kmm_heap_posix_memalign(memptr, alignment, size, RET);
}
API void *kmm_aligned_alloc(size_t alignment, size_t size) { return kmm_heap_aligned_alloc(alignment, size, RET); }
API void *kmm_valloc(size_t size)                      { return kmm_heap_valloc(size, RET); }
API void *kmm_pvalloc(size_t size)                     { return kmm_heap_pvalloc(size, RET); }
API size_t kmm_malloc_usable_size(void *ptr)           { return kmm_heap_usable_size(ptr); }
API int   kmm_mallopt(int param, int value)            { return kmm_heap_mallopt(param, value); }
API int   kmm_malloc_trim(size_t pad)                  { return kmm_heap_trim(pad); }
API struct mallinfo  kmm_mallinfo(void)                { return kmm_heap_mallinfo(); }
API struct mallinfo2 kmm_mallinfo2(void)               { return kmm_heap_mallinfo2(); }
API void  kmm_malloc_stats(void)                       { kmm_heap_malloc_stats(); }
API int   kmm_malloc_info(int options, FILE *fp)       { return kmm_heap_malloc_info(options, fp); }
API const char *kmm_version(void)                      { return PACKAGE_VERSION; }

API KMM_COLD int kmm_check(int verbose)
{
	if (kmm_rescued())   /* (its heap is not read: heap/rescue.h) */
		return 0;
	kmm_ensure_init();
	return kmm_heap_check(verbose) + kmm_thread_check(verbose) + kmm_kernel_check(verbose) +
	       kmm_harden_check(verbose);
}

API KMM_COLD int kmm_leak_check(int fd)
{
	if (kmm_rescued()) {
		errno = EAGAIN;
		return -1;
	}
	kmm_ensure_init();
	return kmm_leakcheck_scan(fd);
}

API KMM_COLD int kmm_profile_dump(const char *path)
{
	kmm_ensure_init();
	return kmm_sample_dump(path);
}

API int kmm_report(int fd, const char *sections)
{
	if (kmm_rescued()) {
		errno = EAGAIN;
		return -1;
	}
	return kmm_report_sections(fd, sections);
}

API KMM_COLD int kmm_stats_get(struct kmm_stats *st)
{
	struct kmm_arena_stats as;
	struct kmm_thread_counters tc;
	struct mallinfo2 mi;
	const struct kmm_big_stats *m = &kmm_big_stats;

	if (kmm_rescued()) {
		memset(st, 0, sizeof *st);
		errno = EAGAIN;
		return -1;
	}
	kmm_ensure_init();
	mi = kmm_heap_mallinfo2();
	kmm_heap_arena_stats_total(&as, &st->heap_system_peak);
	kmm_thread_counters_total(&tc);

	st->brk_grows = as.brk_grows;
	st->brk_grow_bytes = as.brk_grow_bytes;
	st->brk_trims = as.brk_trims;
	st->brk_trim_bytes = as.brk_trim_bytes;
	st->mmaps = m->maps;
	st->munmaps = m->unmaps;
	st->mremaps = m->remaps;
	st->mmap_bytes = m->map_bytes;
	st->mapped_chunks = m->n_mmaps;
	st->mapped_bytes = m->mmapped_mem;
	st->mapped_chunks_peak = m->max_n_mmaps;
	st->mapped_bytes_peak = m->max_mmapped_mem;
	st->mmap_threshold = kmm_params.mmap_threshold;
	st->trim_threshold = kmm_params.trim_threshold;
	st->heap_system_bytes = mi.arena;
	st->heap_in_use = mi.uordblks;
	st->heap_free = mi.fordblks;
	st->heap_top = mi.keepcost;
	st->tcache_hits = tc.tc_alloc_hits;
	st->tcache_misses = tc.tc_alloc_misses;
	st->tcache_free_cached = tc.tc_free_hits;
	st->tcache_free_full = tc.tc_free_overflow;
	st->heap_headers = kmm_heap_headers_total();
	st->arenas = __atomic_load_n(&kmm_narenas, __ATOMIC_RELAXED);
	st->remote_frees = tc.remote_frees;
	_Static_assert((int)KMM_SERVED_NR == (int)KMM_PATH_NR + 1 && (int)KMM_SERVED_SLAB == (int)KMM_PATH_NR,
		       "served-by lists differ");
	for (int i = 0; i < KMM_PATH_NR; i++)
		st->served[i] = i == KMM_SERVED_TCACHE ? tc.tc_alloc_hits : as.served[i];
	struct kmm_uslab_stats us;
	kmm_uslab_stats(&us);
	st->served[KMM_SERVED_SLAB] = us.allocs;
	st->slab_allocs = us.allocs;
	st->slab_remote_frees = us.remote_frees;
	st->slabs = us.slabs;
	st->slab_bytes = us.bytes;
	st->slab_in_use = us.inuse_bytes;
	return 0;
}

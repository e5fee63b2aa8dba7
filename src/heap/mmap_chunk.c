/*
 * mmap_chunk.c — chunks with a mapping of their own (see mmap_chunk.h).
 *
 * No arena lock is needed here: the mapping belongs to the chunk, and the
 * counters are updated atomically.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>

#include "mmap_chunk.h"
#include "params.h"
#include "../os.h"
#include "../util/format.h"

struct kmm_mmap_stats kmm_mmap_stats;

#define ADD(field, v) __atomic_add_fetch(&kmm_mmap_stats.field, (v), __ATOMIC_RELAXED)
#define SUB(field, v) __atomic_sub_fetch(&kmm_mmap_stats.field, (v), __ATOMIC_RELAXED)

static void raise_max(size_t *max, size_t v)
{
	size_t cur = __atomic_load_n(max, __ATOMIC_RELAXED);
	while (v > cur && !__atomic_compare_exchange_n(max, &cur, v, true,
						       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

mchunk kmm_mmap_chunk(size_t nb)
{
	size_t ps = kmm_os_page_size();
	if (__atomic_load_n(&kmm_mmap_stats.n_mmaps, __ATOMIC_RELAXED) >=
	    (size_t)kmm_params.n_mmaps_max) {
		ADD(refused_max, 1);
		return NULL;
	}
	/* no next chunk to borrow a prev_size from: 8 more bytes */
	size_t size = KMM_ALIGN_UP(nb + KMM_SIZE_SZ, ps);
	if (size <= nb)
		return NULL;   /* wrapped */
	char *mm = kmm_os_map(size, 0);
	if (mm == NULL)
		return NULL;
	mchunk p = (mchunk)mm;
	p->prev_size = 0;
	set_head(p, size | KMM_IS_MMAPPED);

	raise_max(&kmm_mmap_stats.max_n_mmaps, ADD(n_mmaps, 1));
	raise_max(&kmm_mmap_stats.max_mmapped_mem, ADD(mmapped_mem, size));
	ADD(maps, 1);
	ADD(map_bytes, size);
	return p;
}

void kmm_mmap_chunk_check(mchunk p, const char *who)
{
	size_t ps = kmm_os_page_size();
	uintptr_t block = (uintptr_t)p - p->prev_size;
	size_t total = p->prev_size + chunksize(p);
	uintptr_t mem_off = (uintptr_t)chunk2mem(p) & (ps - 1);
	/* the mapping and its length are page aligned, and the user pointer
	 * sits at a power-of-two offset in its page (16 unless memalign) */
	if (KMM_UNLIKELY(((block | total) & (ps - 1)) != 0 || (mem_off & (mem_off - 1)) != 0 ||
			 total < ps || chunksize(p) < KMM_MINSIZE))
		kmm_fatal("%s: invalid pointer %p (not a block kmm handed out)", who, chunk2mem(p));
}

void kmm_munmap_chunk(mchunk p)
{
	kmm_mmap_chunk_check(p, "free()");
	size_t size = chunksize(p);
	uintptr_t block = (uintptr_t)p - p->prev_size;
	size_t total = p->prev_size + size;

	/* glibc's dynamic threshold */
	if (!kmm_params.no_dyn_threshold && size > kmm_params.mmap_threshold &&
	    size <= KMM_MMAP_THRESHOLD_MAX) {
		kmm_params.mmap_threshold = size;
		kmm_params.trim_threshold = 2 * size;
		ADD(threshold_raises, 1);
	}

	SUB(n_mmaps, 1);
	SUB(mmapped_mem, total);
	ADD(unmaps, 1);
	if (KMM_UNLIKELY(kmm_os_unmap((void *)block, total) != 0))
		kmm_fatal("free(): munmap of %p (%zu bytes) failed: not a block kmm handed out",
			  chunk2mem(p), total);
}

mchunk kmm_mremap_chunk(mchunk p, size_t nb)
{
	size_t ps = kmm_os_page_size();
	size_t offset = p->prev_size;
	size_t size = chunksize(p);
	size_t new_size = KMM_ALIGN_UP(nb + offset + KMM_SIZE_SZ, ps);

	if (size + offset == new_size)
		return p;
	char *cp = kmm_os_remap((char *)p - offset, size + offset, new_size);
	if (cp == NULL)
		return NULL;
	ADD(remaps, 1);
	if (cp != (char *)p - offset)
		ADD(remap_moves, 1);
	p = (mchunk)(cp + offset);
	set_head(p, (new_size - offset) | KMM_IS_MMAPPED);
	if (new_size > size + offset)
		raise_max(&kmm_mmap_stats.max_mmapped_mem, ADD(mmapped_mem, new_size - (size + offset)));
	else
		SUB(mmapped_mem, (size + offset) - new_size);
	return p;
}

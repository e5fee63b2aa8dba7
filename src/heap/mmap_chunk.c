/*
 * mmap_chunk.c — big chunks in vmalloc areas (see mmap_chunk.h).
 *
 * No arena lock is needed here: the area belongs to the chunk, vmalloc has
 * its own lock, and the counters are updated atomically.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>

#include "mmap_chunk.h"
#include "params.h"
#include "../kernel/vmalloc.h"
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

/* glibc's dynamic threshold rule for a released big chunk of `size` bytes */
static void raise_threshold(size_t size)
{
	if (!kmm_params.no_dyn_threshold && size > kmm_params.mmap_threshold &&
	    size <= KMM_MMAP_THRESHOLD_MAX) {
		kmm_params.mmap_threshold = size;
		kmm_params.trim_threshold = 2 * size;
		ADD(threshold_raises, 1);
	}
}

mchunk kmm_mmap_chunk(size_t nb, const void *caller)
{
	size_t ps = kmm_os_page_size();
	if (__atomic_load_n(&kmm_mmap_stats.n_mmaps, __ATOMIC_RELAXED) >=
	    (size_t)kmm_params.n_mmaps_max) {
		ADD(refused_max, 1);
		return NULL;
	}
	/* no next chunk to borrow a prev_size from: 8 more bytes */
	size_t want = KMM_ALIGN_UP(nb + KMM_SIZE_SZ, ps);
	if (want <= nb)
		return NULL;   /* wrapped */
	char *area = kmm_vmalloc(want, caller);
	if (area == NULL)
		return NULL;
	/* a reused area may be bigger than asked: the chunk takes all of it */
	size_t size = kmm_vmalloc_size(area);
	mchunk p = (mchunk)area;
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
	uintptr_t area = (uintptr_t)p - p->prev_size;
	size_t total = p->prev_size + chunksize(p);
	/* the area must be one kmm handed out, exactly this size: checked
	 * against vmalloc's own records, not just the header */
	if (KMM_UNLIKELY((area & (ps - 1)) != 0 || chunksize(p) < KMM_MINSIZE ||
			 kmm_vmalloc_size((void *)area) != total))
		kmm_fatal("%s: invalid pointer %p (not a block kmm handed out)", who, chunk2mem(p));
}

void kmm_munmap_chunk(mchunk p)
{
	kmm_mmap_chunk_check(p, "free()");
	size_t size = chunksize(p);
	size_t total = p->prev_size + size;

	SUB(n_mmaps, 1);
	SUB(mmapped_mem, total);
	ADD(unmaps, 1);
	kmm_vfree((char *)p - p->prev_size);
	if (kmm_params.threshold_rule == KMM_THRESHOLD_GLIBC)
		raise_threshold(size);
}

mchunk kmm_mremap_chunk(mchunk p, size_t nb)
{
	size_t ps = kmm_os_page_size();
	size_t offset = p->prev_size;
	size_t size = chunksize(p);
	size_t new_total = KMM_ALIGN_UP(nb + offset + KMM_SIZE_SZ, ps);

	if (size + offset == new_total)
		return p;
	char *old_area = (char *)p - offset;
	char *area = kmm_vrealloc(old_area, new_total);
	if (area == NULL)
		return NULL;
	size_t total = kmm_vmalloc_size(area);
	ADD(remaps, 1);
	if (area != old_area)
		ADD(remap_moves, 1);
	p = (mchunk)(area + offset);
	set_head(p, (total - offset) | KMM_IS_MMAPPED);
	if (total > size + offset)
		raise_max(&kmm_mmap_stats.max_mmapped_mem, ADD(mmapped_mem, total - (size + offset)));
	else
		SUB(mmapped_mem, (size + offset) - total);
	return p;
}

void kmm_mmap_chunk_zero(mchunk p, void *mem, size_t len)
{
	kmm_vmalloc_zero((char *)p - p->prev_size, mem, len);
}

/*
 * arena_heap.c — heaps of the further arenas: made, grown, shrunk, unmapped.
 * See arena_heap.h for the layout.  The arena lock of the heap's arena is
 * held throughout, except while the first heap of a new arena is made.
 *
 * What strace shows for a new heap, as under glibc:
 *
 *   mmap(NULL, 128 MiB, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE)
 *   munmap(the part before the 64 MiB boundary)   munmap(the part after)
 *   mprotect(h, 132 KiB or so, PROT_READ|PROT_WRITE)
 *
 * (the next heap is first tried right after the last one, with a single
 * 64 MiB mapping that is kept only if it happens to be aligned); growth is
 * an mprotect of the next pages — by what is missing plus top_pad, where
 * glibc grows by exactly what is missing, one page at a time for a program
 * allocating small blocks — shrinking an madvise(MADV_DONTNEED) that keeps
 * the pages read/write (growing again into them needs no mprotect), and a
 * heap whose chunks are all free again is unmapped.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "arena_heap.h"
#include "../os.h"
#include "../util/format.h"

/* Where the last heap made by doubling ended: the next heap is tried there
 * first (glibc's aligned_heap_area).  Only a hint, read and written racily. */
static char *aligned_hint;

static void map_set(const void *h, bool on)
{
	uintptr_t i = (uintptr_t)h >> KMM_HEAP_MAX_SHIFT;
	uint64_t bit = (uint64_t)1 << (i % 64);
	if (on)
		__atomic_fetch_or(&kmm_heap_map[i / 64], bit, __ATOMIC_RELEASE);
	else
		__atomic_fetch_and(&kmm_heap_map[i / 64], ~bit, __ATOMIC_RELEASE);
}

/* KMM_HEAP_MAX bytes of address space aligned to KMM_HEAP_MAX, PROT_NONE. */
static char *reserve_aligned(void)
{
	const size_t hm = KMM_HEAP_MAX;
	char *hint = __atomic_exchange_n(&aligned_hint, NULL, __ATOMIC_RELAXED);
	if (hint != NULL) {
		char *p = kmm_os_map_at(hint, hm, PROT_NONE, MAP_NORESERVE);
		if (p != NULL && ((uintptr_t)p & (hm - 1)) == 0)
			return p;
		if (p != NULL)
			kmm_os_unmap(p, hm);
	}
	char *p1 = kmm_os_map_at(NULL, 2 * hm, PROT_NONE, MAP_NORESERVE);
	if (p1 == NULL)
		return NULL;
	char *p = (char *)KMM_ALIGN_UP((uintptr_t)p1, hm);
	size_t lead = (size_t)(p - p1);
	if (lead != 0)
		kmm_os_unmap(p1, lead);
	kmm_os_unmap(p + hm, hm - lead);
	__atomic_store_n(&aligned_hint, p + hm, __ATOMIC_RELAXED);
	return p;
}

KMM_HOT struct kmm_heap_info *kmm_arena_heap_new(size_t size, size_t top_pad)
{
	const size_t ps = kmm_os_page_size();
	if (size > KMM_HEAP_MAX)
		return NULL;
	if (top_pad <= KMM_HEAP_MAX - size)
		size += top_pad;
	if (size < KMM_HEAP_MIN)
		size = KMM_HEAP_MIN;
	size = KMM_ALIGN_UP(size, ps);

	char *p = reserve_aligned();
	if (p == NULL)
		return NULL;
	if (kmm_os_protect(p, size, PROT_READ | PROT_WRITE) != 0) {
		kmm_os_unmap(p, KMM_HEAP_MAX);
		return NULL;
	}
	struct kmm_heap_info *h = (struct kmm_heap_info *)p;
	h->ar = NULL;
	h->prev = NULL;
	h->size = size;
	h->mprotect_size = size;
	struct kmm_segment *s = &h->seg;
	memset(s, 0, sizeof *s);
	s->mem = p;
	s->base = p + KMM_HEAP_HDR;
	s->end = p + size;
	s->from_mmap = 1;
	kmm_region_add(&s->region, KMM_REGION_ARENA_HEAP, (uintptr_t)p, (uintptr_t)p + size,
		       KMM_PROT_R | KMM_PROT_W, KMM_POPULATE_DEMAND);
	map_set(h, true);
	return h;
}

static void heap_delete(struct kmm_heap_info *h)
{
	kmm_region_del(&h->seg.region);
	map_set(h, false);
	kmm_os_unmap(h, KMM_HEAP_MAX);
}

/* The whole of h after its header is the top chunk of a. */
static void heap_make_top(struct kmm_arena *a, struct kmm_heap_info *h)
{
	char *chunk0 = h->seg.base;
	a->top = (mchunk)chunk0;
	set_head(a->top, (size_t)((char *)h + h->size - chunk0) | KMM_PREV_INUSE);
	a->top_fresh = chunk0 + KMM_CHUNK_HDR;
}

KMM_HOT void kmm_arena_heap_adopt(struct kmm_arena *a, struct kmm_heap_info *h)
{
	h->ar = a;
	a->flags |= KMM_ARENA_NONCONTIGUOUS;
	a->seg_first = a->seg_last = &h->seg;
	heap_make_top(a, h);
	a->system_mem = a->max_system_mem = h->size;
	a->st.heaps_new++;
}

static void heap_resized(struct kmm_heap_info *h)
{
	h->seg.end = (char *)h + h->size;
	kmm_region_update(&h->seg.region, (uintptr_t)h, (uintptr_t)h + h->size);
}

/* Make diff more bytes of h read/write (glibc's grow_heap). */
static KMM_HOT int heap_grow(struct kmm_arena *a, struct kmm_heap_info *h, size_t diff)
{
	diff = KMM_ALIGN_UP(diff, kmm_os_page_size());
	if (diff > KMM_HEAP_MAX - h->size)
		return -1;
	size_t new_size = h->size + diff;
	if (new_size > h->mprotect_size) {
		if (kmm_os_protect((char *)h + h->mprotect_size, new_size - h->mprotect_size,
				   PROT_READ | PROT_WRITE) != 0)
			return -1;
		h->mprotect_size = new_size;
	}
	h->size = new_size;
	heap_resized(h);
	a->system_mem += diff;
	a->st.heap_grows++;
	a->st.heap_grow_bytes += diff;
	return 0;
}

/* Give the last diff bytes of h back (glibc's shrink_heap, the madvise
 * variant: the range stays read/write, its pages are dropped). */
static void heap_shrink(struct kmm_arena *a, struct kmm_heap_info *h, size_t diff)
{
	size_t new_size = h->size - diff;
	kmm_os_advise((char *)h + new_size, diff, MADV_DONTNEED);
	h->size = new_size;
	heap_resized(h);
	a->system_mem -= diff;
	if (a->top_fresh > (char *)h + new_size)
		a->top_fresh = (char *)h + new_size;
	a->st.heap_shrinks++;
	a->st.heap_shrink_bytes += diff;
}

KMM_HOT mchunk kmm_arena_heap_sysmalloc(struct kmm_arena *a, size_t nb)
{
	kmm_arena_assert_locked(a);
	mchunk old_top = a->top;
	size_t old_size = top_size(a);
	if (KMM_UNLIKELY(old_top == NULL || old_size < KMM_MINSIZE || !prev_inuse(old_top)))
		kmm_printerr("sysmalloc(): corrupted top chunk", NULL);
	struct kmm_heap_info *h = heap_for_ptr(old_top);
	if (KMM_UNLIKELY(h->ar != a || &h->seg != a->seg_last))
		kmm_fatal("sysmalloc(): top chunk outside its arena's heap");

	/* grow by what is missing plus top_pad, so that growth comes in
	 * strides as in the main arena (glibc grows these heaps by exactly
	 * what is missing: one mprotect per page for a program that
	 * allocates small blocks); exactly what is missing near the end */
	size_t need = nb + KMM_MINSIZE;
	size_t pad = kmm_params.top_pad;
	if (need > old_size &&
	    ((pad <= KMM_HEAP_MAX && heap_grow(a, h, need - old_size + pad) == 0) ||
	     heap_grow(a, h, need - old_size) == 0)) {
		set_head(old_top, (size_t)((char *)h + h->size - (char *)old_top) | KMM_PREV_INUSE);
	} else {
		if (nb > KMM_HEAP_MAX - KMM_MINSIZE - KMM_HEAP_HDR) {
			errno = ENOMEM;
			return NULL;
		}
		struct kmm_heap_info *h2 = kmm_arena_heap_new(nb + KMM_MINSIZE + KMM_HEAP_HDR, kmm_params.top_pad);
		if (h2 == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		h2->ar = a;
		h2->prev = h;
		h->seg.next = &h2->seg;
		h2->seg.prev = &h->seg;
		a->seg_last = &h2->seg;
		a->system_mem += h2->size;
		a->st.heaps_new++;
		heap_make_top(a, h2);
		kmm_close_segment(a, &h->seg, old_top, old_size);
	}
	if (a->system_mem > a->max_system_mem)
		a->max_system_mem = a->system_mem;

	if (chunksize(a->top) >= nb + KMM_MINSIZE) {
		a->st.served[KMM_PATH_SYSMALLOC]++;
		a->last_path = KMM_PATH_SYSMALLOC;
		return kmm_split_top(a, nb, KMM_NON_MAIN_ARENA);
	}
	errno = ENOMEM;
	return NULL;
}

/* The top heap h is all free (its first chunk is the top): unmap it and
 * make the end of the previous heap the top again. */
static void heap_pop(struct kmm_arena *a, struct kmm_heap_info *h)
{
	struct kmm_heap_info *prevh = h->prev;
	struct kmm_segment *ps = &prevh->seg;
	/* the previous heap ends in two fenceposts; before them lies what was
	 * left of its top when it was closed: a free chunk (maybe merged with
	 * its predecessor), an in-use one, or a 16-byte leftover */
	mchunk fp1 = (mchunk)(ps->chunks_end - 2 * KMM_CHUNK_HDR);
	mchunk top = fp1;
	mchunk old = (mchunk)ps->closed_top;
	if (old != NULL && (char *)old + KMM_CHUNK_HDR == (char *)fp1 && chunksize(old) == KMM_CHUNK_HDR)
		top = old;
	if (!prev_inuse(top)) {
		mchunk p = chunk_before(top, top->prev_size);
		if (KMM_UNLIKELY(chunksize(p) != top->prev_size))
			kmm_printerr("heap_trim(): corrupted size vs. prev_size", NULL);
		kmm_unlink_chunk(a, p);
		top = p;
	}
	a->system_mem -= h->size;
	a->st.heaps_deleted++;
	heap_delete(h);

	ps->next = NULL;
	ps->chunks_end = NULL;
	ps->closed_top = NULL;
	a->seg_last = ps;
	a->top = top;
	set_head(top, (size_t)((char *)prevh + prevh->size - (char *)top) | KMM_PREV_INUSE);
	/* nothing below the heap's end is known to be untouched */
	a->top_fresh = (char *)prevh + prevh->size;
	if (a->last_remainder != NULL && (char *)a->last_remainder >= (char *)top &&
	    (char *)a->last_remainder < (char *)prevh + prevh->size)
		a->last_remainder = NULL;
}

KMM_HOT int kmm_arena_heap_trim(struct kmm_arena *a, size_t pad, bool force)
{
	kmm_arena_assert_locked(a);
	int released = 0;
	if (a->top == NULL)
		return 0;
	struct kmm_heap_info *h = heap_for_ptr(a->top);
	while ((char *)a->top == h->seg.base && h->prev != NULL) {
		struct kmm_heap_info *prevh = h->prev;
		heap_pop(a, h);
		h = prevh;
		released = 1;
	}

	size_t tsize = chunksize(a->top);
	if (!force && tsize < kmm_trim_threshold())
		return released;
	if (tsize <= KMM_MINSIZE + 1)
		return released;
	size_t top_area = tsize - KMM_MINSIZE - 1;
	if (top_area <= pad)
		return released;
	size_t extra = KMM_ALIGN_DOWN(top_area - pad, kmm_os_page_size());
	if (extra == 0)
		return released;
	heap_shrink(a, h, extra);
	set_head(a->top, (tsize - extra) | KMM_PREV_INUSE);
	return 1;
}

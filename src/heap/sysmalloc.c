/*
 * sysmalloc.c — getting memory from the OS for an arena, and giving it back.
 *
 * THEORY
 *
 * When no bin and not the top chunk can serve a request of nb bytes:
 *
 *   1. nb >= mmap threshold (128 KiB at start; see big.h for the dynamic
 *      rule): glibc gives the chunk a mapping of its own, kmm a vmalloc
 *      area.  sysmalloc only decides: it returns NULL with last_path =
 *      KMM_PATH_BIG and the caller (malloc.c) allocates the area without the
 *      arena lock.  If vmalloc fails, the caller retries with no_big set
 *      and the request is served by the heap, as glibc falls back to brk
 *      when mmap fails.
 *   2. Otherwise the main arena grows its heap with brk, by
 *          nb + top_pad + MINSIZE - (old top size)   rounded up to pages
 *      so the first malloc of a program (the 0x290-byte tcache, then the
 *      user's request) grows the break by 0x290 + 0x20000 + 0x20 -> 0x21000
 *      bytes — the 132 KiB of the seed slides — and later growth steps come
 *      in top_pad-sized strides, as under glibc.
 *   3. If the new memory does not follow the old top (another part of the
 *      program moved the break: a "foreign sbrk"), or brk failed and a
 *      mapping of at least 1 MiB is used instead, a new segment starts: the
 *      old top is closed with two 16-byte fenceposts and freed, and a
 *      segment header records the run of chunks for the checker.
 *
 *   brk heap (first segment)                           program break
 *   |<- tcache ->|<- chunks ... ->|<------ top ------->|
 *   start_brk                      ^a->top              ^ sbrk(0)
 *
 * Trimming (systrim): when the top exceeds the trim threshold after a big
 * free, the break is lowered to leave top_pad bytes (rounded to pages), but
 * only if the break is still where kmm left it.
 *
 * Arena lock held throughout.  kmm_os_sbrk is the only brk user in kmm.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "arena_heap.h"
#include "big.h"
#include "thread.h"
#include "../os.h"
#include "../util/format.h"

#define SBRK_FAILED ((char *)-1)

static void span_include(struct kmm_arena *a, char *lo, char *hi)
{
	uintptr_t l = (uintptr_t)lo, h = (uintptr_t)hi;
	if (a->span_hi == 0 || l < a->span_lo)
		__atomic_store_n(&a->span_lo, l, __ATOMIC_RELAXED);
	if (h > a->span_hi)
		__atomic_store_n(&a->span_hi, h, __ATOMIC_RELAXED);
	if (arena_contiguous(a)) {
		/* growing: whichever of the two a reader sees first, the range
		 * it gets lies in the heap */
		__atomic_store_n(&a->fast_lo, a->span_lo, __ATOMIC_RELAXED);
		__atomic_store_n(&a->fast_hi, a->span_hi, __ATOMIC_RELAXED);
	} else {
		/* empty from now on, with one store: [hi, hi), never a wider
		 * range on the way */
		__atomic_store_n(&a->fast_lo, a->fast_hi, __ATOMIC_RELAXED);
	}
}

/* Close segment `seg`, whose last chunk was the old top (old_size bytes),
 * with two fenceposts and free what is left of the old top.  a->top is the
 * new segment's top already. */
void kmm_close_segment(struct kmm_arena *a, struct kmm_segment *seg, mchunk old_top, size_t old_size)
{
	kmm_arena_assert_locked(a);
	old_size = (old_size - 2 * KMM_CHUNK_HDR) & ~KMM_ALIGN_MASK;
	set_head(old_top, old_size | KMM_PREV_INUSE | kmm_arena_flag(a));
	mchunk fp1 = chunk_at(old_top, old_size);
	mchunk fp2 = chunk_at(fp1, KMM_CHUNK_HDR);
	set_head(fp1, KMM_CHUNK_HDR | KMM_PREV_INUSE);
	set_head(fp2, KMM_CHUNK_HDR | KMM_PREV_INUSE);
	seg->chunks_end = (char *)fp2 + KMM_CHUNK_HDR;
	seg->closed_top = (char *)old_top;
	if (old_size >= KMM_MINSIZE) {
		/* (not a trim: with a small trim threshold the free would
		 * give back the new top grown for the request, and sysmalloc
		 * would fail; found by the fuzzer, tests/fuzz/) */
		a->no_trim = true;
		kmm_int_free(a, old_top);
		a->no_trim = false;
	}
}

KMM_HOT mchunk kmm_sysmalloc(struct kmm_arena *a, size_t nb)
{
	kmm_arena_assert_locked(a);
	const size_t ps = kmm_os_page_size();

	a->last_path = KMM_PATH_NR;   /* until something serves the request */
	/* 1. a big block: the caller serves it from vmalloc after dropping
	 * the arena lock (big.h) */
	if (nb >= kmm_params.mmap_threshold && !a->no_big && kmm_big_allowed()) {
		a->st.served[KMM_PATH_BIG]++;
		a->last_path = KMM_PATH_BIG;
		return NULL;
	}

	/* memory from the OS: first give back what other arenas keep idle
	 * (trim.c) */
	kmm_arenas_trim_idle(a);
	if (a != &kmm_main_arena)
		return kmm_arena_heap_sysmalloc(a, nb);   /* further arenas: their heaps */

	mchunk old_top = a->top;
	size_t old_size = top_size(a);
	char *old_end = old_top ? (char *)old_top + old_size : NULL;
	if (KMM_UNLIKELY(old_top != NULL && (old_size < KMM_MINSIZE || !prev_inuse(old_top))))
		kmm_printerr("sysmalloc(): corrupted top chunk", NULL);

	/* 2. grow the break */
	size_t size = nb + KMM_MINSIZE;
	if (kmm_params.top_pad <= KMM_MAX_REQUEST - size)
		size += kmm_params.top_pad;
	if (arena_contiguous(a) && old_top != NULL)
		size -= old_size < size ? old_size : size;
	size = KMM_ALIGN_UP(size, ps);

	char *brk = SBRK_FAILED, *snd_brk = SBRK_FAILED;
	bool mapped = false;
	if (size > 0 && size <= (size_t)PTRDIFF_MAX) {
		brk = kmm_os_sbrk((intptr_t)size);
		if (brk != SBRK_FAILED) {
			a->st.brk_grows++;
			a->st.brk_grow_bytes += size;
		}
	}
	if (brk == SBRK_FAILED) {
		/* brk refused (address space collision, RLIMIT_DATA, ...):
		 * use a mapping as a new, non-contiguous segment */
		if (arena_contiguous(a))
			size = KMM_ALIGN_UP(size + old_size, ps);
		if (size < KMM_MMAP_AS_MORECORE_SIZE)
			size = KMM_MMAP_AS_MORECORE_SIZE;
		if (size > nb + KMM_MINSIZE + KMM_SEGMENT_HDR) {
			char *m = kmm_os_map(size, 0);
			if (m != NULL) {
				brk = m;
				snd_brk = m + size;
				mapped = true;
				a->flags |= KMM_ARENA_NONCONTIGUOUS;
				a->st.morecore_maps++;
				a->st.morecore_map_bytes += size;
			}
		}
	}
	if (brk == SBRK_FAILED) {
		errno = ENOMEM;
		return NULL;
	}

	a->system_mem += size;

	if (old_top != NULL && brk == old_end && !mapped) {
		/* the common case: the break moved up right after our top */
		set_head(old_top, (size + old_size) | KMM_PREV_INUSE);
		a->seg_last->end = brk + size;
		span_include(a, a->seg_last->base, brk + size);
		kmm_region_update(&a->seg_last->region, (uintptr_t)a->seg_last->mem, (uintptr_t)brk + size);
	} else if (old_top != NULL && arena_contiguous(a) && brk < old_end) {
		kmm_printerr("sysmalloc(): break adjusted to free malloc space", NULL);
	} else {
		/* 3. a new segment: the very first, after a foreign sbrk, or a
		 * mapping.  The first segment's record is in the arena; later
		 * ones get a header in front of their first chunk. */
		bool first = a->seg0.base == NULL;
		size_t hdr = first ? 0 : KMM_SEGMENT_HDR;
		char *chunk0 = (char *)KMM_ALIGN_UP((uintptr_t)brk + hdr, KMM_ALIGNMENT);
		size_t correction = 0;

		if (!mapped) {
			/* foreign sbrk'd bytes between our segments count as
			 * ours, as in glibc */
			if (old_top != NULL && arena_contiguous(a)) {
				a->system_mem += (size_t)(brk - old_end);
				a->st.foreign_bytes += (size_t)(brk - old_end);
			}
			correction = (size_t)(chunk0 - brk);
			/* size left out the old top, which is lost now */
			if (old_top != NULL && arena_contiguous(a))
				correction += old_size;
			uintptr_t end = (uintptr_t)brk + size + correction;
			correction += KMM_ALIGN_UP(end, ps) - end;
			if (correction > 0) {
				snd_brk = kmm_os_sbrk((intptr_t)correction);
				if (snd_brk == SBRK_FAILED) {
					correction = 0;
					snd_brk = kmm_os_sbrk(0);
				} else {
					a->st.brk_grows++;
					a->st.brk_grow_bytes += correction;
				}
			} else {
				snd_brk = brk + size;
			}
		}
		if (snd_brk == SBRK_FAILED) {
			errno = ENOMEM;
			return NULL;
		}
		char *seg_end = snd_brk + correction;
		a->system_mem += correction;

		struct kmm_segment *seg;
		if (first) {
			seg = &a->seg0;
		} else {
			seg = (struct kmm_segment *)(chunk0 - hdr);
			a->st.segments++;
		}
		seg->closed_top = NULL;
		seg->prev = first ? NULL : a->seg_last;
		seg->mem = brk;
		seg->base = chunk0;
		seg->end = seg_end;
		seg->chunks_end = NULL;
		seg->next = NULL;
		seg->from_mmap = mapped;
		span_include(a, chunk0, seg_end);
		memset(&seg->region, 0, sizeof seg->region);
		kmm_region_add(&seg->region, mapped ? KMM_REGION_HEAP_SEGMENT : KMM_REGION_BRK_HEAP,
			       (uintptr_t)brk, (uintptr_t)seg_end, KMM_PROT_R | KMM_PROT_W, KMM_POPULATE_DEMAND);

		a->top = (mchunk)chunk0;
		set_head(a->top, (size_t)(seg_end - chunk0) | KMM_PREV_INUSE);
		a->top_fresh = chunk0 + KMM_CHUNK_HDR;

		if (!first) {
			struct kmm_segment *prev = a->seg_last;
			a->seg_last = seg;
			prev->next = seg;
			if (old_top != NULL)
				kmm_close_segment(a, prev, old_top, old_size);
		}
	}

	if (a->system_mem > a->max_system_mem)
		a->max_system_mem = a->system_mem;

	if (chunksize(a->top) >= nb + KMM_MINSIZE) {
		a->st.served[KMM_PATH_SYSMALLOC]++;
		a->last_path = KMM_PATH_SYSMALLOC;
		return kmm_split_top(a, nb, 0);
	}
	errno = ENOMEM;
	return NULL;
}

int kmm_systrim(struct kmm_arena *a, size_t pad)
{
	kmm_arena_assert_locked(a);
	const size_t ps = kmm_os_page_size();
	size_t tsize = top_size(a);

	if (tsize <= KMM_MINSIZE + 1 || a->seg_last->from_mmap)
		return 0;
	size_t top_area = tsize - KMM_MINSIZE - 1;
	if (top_area <= pad)
		return 0;
	size_t extra = KMM_ALIGN_DOWN(top_area - pad, ps);
	if (extra == 0)
		return 0;

	/* only if the break is still at the end of our top */
	char *cur = kmm_os_sbrk(0);
	if (cur != (char *)a->top + tsize)
		return 0;
	kmm_os_sbrk(-(intptr_t)extra);
	char *now = kmm_os_sbrk(0);
	if (now == SBRK_FAILED || now >= cur)
		return 0;
	size_t released = (size_t)(cur - now);
	a->system_mem -= released;
	set_head(a->top, (tsize - released) | KMM_PREV_INUSE);
	a->seg_last->end = now;
	kmm_region_update(&a->seg_last->region, (uintptr_t)a->seg_last->mem, (uintptr_t)now);
	/* pages above the new break come back zero-filled */
	if (a->top_fresh > now)
		a->top_fresh = now;
	a->st.brk_trims++;
	a->st.brk_trim_bytes += released;
	return 1;
}

/*
 * check.c — the heap's invariant checker.
 *
 * It recomputes from scratch what the allocator keeps incrementally and
 * compares (an "oracle" in the style of the kernel's debug checks):
 *
 *   walk     every chunk of every segment, first to last: sizes aligned and
 *            inside the segment, each P bit equal to the previous chunk's
 *            state, a free chunk's foot equal to its size, no two free chunks
 *            side by side (they would have been merged), the walk of the
 *            open segment ending exactly at top, top the last chunk, closed
 *            segments ending in two fenceposts;
 *   bins     doubly linked both ways, every chunk free and of the bin's size
 *            class, large bins sorted with a consistent size skip list,
 *            every non-empty bin marked in the binmap;
 *   fastbins chunks of the bin's size, still marked in use, no cycles,
 *            have_fastchunks set when any is non-empty;
 *   tcache   (the calling thread's) counts equal to list lengths, entries
 *            in use, of the bin's size, carrying the key;
 *   counters the free chunks found by the walk are exactly those found in
 *            the bins (count and bytes); system_mem equals the segments'
 *            memory plus the foreign-sbrk gaps; maxima not below currents;
 *   heaps    (further arenas) each segment is a registered heap whose
 *            header names the arena, links back to the previous heap and
 *            agrees with the segment's end; in-use chunks carry the A bit;
 *   remote   every chunk waiting on an arena's remote list is an in-use
 *            chunk of that arena, and the list has no cycle;
 *   arenas   the list is numbered in order and as long as narenas; each
 *            arena's attached_threads equals the threads using it, and it
 *            is on the free list exactly when that is zero (arenas.c);
 *   zero     the zero-size blocks' bitmap counts as many as are live
 *            (zero.c).
 *
 * Every arena is checked in turn under its own lock; the other threads'
 * tcaches are not read (they change without a lock).
 */
#include "config.h"

#include <string.h>

#include "heap.h"
#include "arena.h"
#include "arena_heap.h"
#include "arenas.h"
#include "big.h"
#include "tcache.h"
#include "thread.h"
#include "zero.h"
#include "../util/format.h"

#define MAX_LIST 100000000UL   /* longer than this: a cycle */

struct checker {
	int errors;
	int verbose;
};

static KMM_COLD void KMM_PRINTF(2, 3) bad(struct checker *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kmm_check_vfail(c->verbose, &c->errors, "heap", fmt, ap);
	va_end(ap);
}

static KMM_COLD bool in_arena(struct kmm_arena *a, const void *p)
{
	if (a == &kmm_main_arena)
		return arena_spans(a, p) && !kmm_heap_registered(p);
	return kmm_arena_heap_contains(a, p, KMM_MINSIZE);
}

/* The arena a chunk pointer of unknown origin belongs to, or NULL. */
static KMM_COLD struct kmm_arena *owner_of(const void *p)
{
	if (kmm_heap_registered(p)) {
		struct kmm_arena *a = heap_for_ptr(p)->ar;
		return kmm_arena_heap_contains(a, p, KMM_MINSIZE) ? a : NULL;
	}
	return arena_spans(&kmm_main_arena, p) ? &kmm_main_arena : NULL;
}

static void check_bins(struct kmm_arena *a, struct checker *c, size_t *count, size_t *bytes)
{
	for (unsigned i = 1; i < KMM_NBINS; i++) {
		mchunk bin = bin_at(a, i);
		size_t n = 0, prev_size = SIZE_MAX;
		size_t runs = 0;
		for (mchunk p = bin->fd; p != bin; p = p->fd) {
			if (++n > MAX_LIST) {
				bad(c, "bin %u: cycle", i);
				break;
			}
			if (!in_arena(a, p) || !aligned_ok((uintptr_t)chunk2mem(p))) {
				bad(c, "bin %u: chunk %p outside the heap", i, (void *)p);
				break;
			}
			if (p->fd->bk != p || p->bk->fd != p)
				bad(c, "bin %u: broken links at %p", i, (void *)p);
			size_t size = chunksize(p);
			if (size < KMM_MINSIZE || !aligned_ok(size) || chunk_is_mmapped(p)) {
				bad(c, "bin %u: chunk %p has bad size %zu", i, (void *)p, size);
				continue;
			}
			if (inuse(p))
				bad(c, "bin %u: chunk %p (size %zu) is marked in use", i, (void *)p, size);
			if (next_chunk(p)->prev_size != size)
				bad(c, "bin %u: chunk %p foot %zu != size %zu", i, (void *)p,
				    next_chunk(p)->prev_size, size);
			if (i > 1 && bin_index(size) != i)
				bad(c, "bin %u: chunk %p of size %zu belongs in bin %u", i, (void *)p,
				    size, bin_index(size));
			if (i >= KMM_NSMALLBINS) {
				if (size > prev_size)
					bad(c, "large bin %u: not sorted at %p", i, (void *)p);
				bool leader = size != prev_size;
				if (leader) {
					runs++;
					if (p->fd_nextsize == NULL || p->bk_nextsize == NULL)
						bad(c, "large bin %u: run leader %p has no skip links", i, (void *)p);
					else if (p->fd_nextsize->bk_nextsize != p || p->bk_nextsize->fd_nextsize != p)
						bad(c, "large bin %u: broken skip links at %p", i, (void *)p);
					else if (runs > 1 && chunksize(p->bk_nextsize) <= size)
						bad(c, "large bin %u: skip list out of order at %p", i, (void *)p);
				} else if (p->fd_nextsize != NULL) {
					bad(c, "large bin %u: %p inside a run has skip links", i, (void *)p);
				}
				prev_size = size;
			}
			*count += 1;
			*bytes += size;
		}
		if (i > 1 && n > 0 && !bin_marked(a, i))   /* unsorted: never marked */
			bad(c, "bin %u: %zu chunks but its binmap bit is clear", i, n);
		if (i >= KMM_NSMALLBINS && runs > 0) {
			/* the skip ring has exactly one entry per run */
			size_t ring = 0;
			mchunk first = bin->fd, q = first;
			do {
				q = q->fd_nextsize;
				if (q == NULL || ++ring > runs)
					break;
			} while (q != first);
			if (ring != runs)
				bad(c, "large bin %u: %zu runs but the skip ring has %zu", i, runs, ring);
		}
	}
}

static void check_fastbins(struct kmm_arena *a, struct checker *c, size_t *count)
{
	bool any = false;
	for (unsigned i = 0; i < KMM_NFASTBINS; i++) {
		size_t n = 0;
		for (mchunk p = a->fastbins[i]; p != NULL; p = KMM_REVEAL_PTR(p->fd)) {
			any = true;
			if (++n > MAX_LIST) {
				bad(c, "fastbin %u: cycle", i);
				break;
			}
			if (!in_arena(a, p) || !aligned_ok((uintptr_t)chunk2mem(p))) {
				bad(c, "fastbin %u: chunk %p outside the heap", i, (void *)p);
				break;
			}
			if (fastbin_index(chunksize(p)) != i)
				bad(c, "fastbin %u: chunk %p of size %zu", i, (void *)p, chunksize(p));
			else if (!inuse(p))
				bad(c, "fastbin %u: chunk %p not marked in use", i, (void *)p);
		}
		*count += n;
	}
	if (any && !a->have_fastchunks)
		bad(c, "fastbins hold chunks but have_fastchunks is 0");
}

static void check_tcache(struct checker *c, size_t *count)
{
	struct kmm_tcache *tc = kmm_self.tcache;
	if (!kmm_tcache_is_real(tc))
		return;
	for (size_t i = 0; i < KMM_TCACHE_BINS; i++) {
		size_t n = 0;
		for (struct kmm_tcache_entry *e = tc->heads[i]; e != NULL; e = KMM_REVEAL_PTR(e->next)) {
			if (++n > KMM_TCACHE_MAX_COUNT) {
				bad(c, "tcache bin %zu: cycle", i);
				break;
			}
			mchunk p = mem2chunk(e);
			struct kmm_arena *owner = aligned_ok((uintptr_t)e) ? owner_of(p) : NULL;
			if (owner == NULL) {
				bad(c, "tcache bin %zu: entry %p outside the heap", i, (void *)e);
				break;
			}
			if (kmm_csize2tidx(chunksize(p)) != i)
				bad(c, "tcache bin %zu: entry %p of size %zu", i, (void *)e, chunksize(p));
			if (!inuse(p))
				bad(c, "tcache bin %zu: entry %p not marked in use", i, (void *)e);
			if ((owner == &kmm_main_arena) != (bool)chunk_main_arena(p))
				bad(c, "tcache bin %zu: entry %p in arena %d has the A bit %s", i, (void *)e,
				    owner->index, chunk_main_arena(p) ? "clear" : "set");
			if (e->key != kmm_tcache_key)
				bad(c, "tcache bin %zu: entry %p lost its key", i, (void *)e);
		}
		if (n != tc->counts[i])
			bad(c, "tcache bin %zu: count %u but %zu entries", i, tc->counts[i], n);
		*count += n;
	}
}

/* Walk one segment's chunks from base to `end` (exclusive). */
static void walk_segment(struct kmm_arena *a, struct checker *c, struct kmm_segment *s, char *end,
			 bool closed, size_t *free_count, size_t *free_bytes)
{
	char *p = s->base;
	bool prev_free = false;
	size_t prev_size = 0;
	bool first = true;
	size_t fence_run = 0;

	while (p < end) {
		mchunk ch = (mchunk)p;
		size_t size = chunksize(ch);
		if (size < KMM_CHUNK_HDR || !aligned_ok(size) || p + size > end) {
			bad(c, "walk: chunk %p has bad size %zu (segment ends at %p)", (void *)p, size, (void *)end);
			return;
		}
		if (!first && (bool)prev_inuse(ch) == prev_free)
			bad(c, "walk: chunk %p P bit says previous %s, it is %s", (void *)p,
			    prev_inuse(ch) ? "in use" : "free", prev_free ? "free" : "in use");
		if (first && !prev_inuse(ch))
			bad(c, "walk: first chunk %p of a segment has P clear", (void *)p);
		if (prev_free && ch->prev_size != prev_size)
			bad(c, "walk: chunk %p prev_size %zu != free predecessor size %zu", (void *)p,
			    ch->prev_size, prev_size);
		if (!chunk_main_arena(ch) && a == &kmm_main_arena)
			bad(c, "walk: chunk %p of the main arena has the A bit", (void *)p);

		char *nextp = p + size;
		bool is_free;
		if (nextp >= end) {
			is_free = false;   /* last chunk before top / the last fencepost */
		} else {
			is_free = !prev_inuse((mchunk)nextp);
		}
		/* M: an in-use chunk the sampler chose (chunk.h), never a
		 * free one nor a fencepost, nor any without a sampler */
		if (chunk_is_sampled(ch) && (is_free || size < KMM_MINSIZE || !kmm_heap_sampling()))
			bad(c, "walk: %s chunk %p has the M bit", is_free ? "free" : "16-byte", (void *)p);
		if (size < KMM_MINSIZE) {
			/* only fenceposts (and a leftover 16-byte chunk before
			 * them) are that small, and only at a segment's end */
			fence_run++;
			if (is_free)
				bad(c, "walk: 16-byte chunk %p marked free", (void *)p);
		} else if (fence_run) {
			bad(c, "walk: chunk %p after a fencepost", (void *)p);
		}
		if (!is_free && size >= KMM_MINSIZE && nextp < end && a != &kmm_main_arena &&
		    chunk_main_arena(ch))
			bad(c, "walk: in-use chunk %p of arena %d lacks the A bit", (void *)p, a->index);
		if (is_free) {
			if (prev_free)
				bad(c, "walk: free chunks %p and its predecessor not merged", (void *)p);
			*free_count += 1;
			*free_bytes += size;
		}
		prev_free = is_free;
		prev_size = size;
		first = false;
		p = nextp;
	}
	if (p != end)
		bad(c, "walk: chunks end at %p, segment at %p", (void *)p, (void *)end);
	if (closed && fence_run < 2)
		bad(c, "walk: closed segment %p does not end with two fenceposts", (void *)s->base);
	if (!closed) {
		/* p == top now */
		if (prev_free)
			bad(c, "walk: free chunk right before top (should have merged)");
	}
}

/* Remote frees waiting for the arena: in-use chunks of this arena, no
 * cycle.  Pushers only prepend, so the list behind the head read here is
 * stable while the lock is held. */
static void check_remote(struct kmm_arena *a, struct checker *c)
{
	kmm_arena_assert_locked(a);
	size_t n = 0;
	for (mchunk p = __atomic_load_n(&a->remote_head, __ATOMIC_ACQUIRE); p != NULL; p = p->fd) {
		if (++n > MAX_LIST) {
			bad(c, "arena %d: remote list: cycle", a->index);
			return;
		}
		if (!aligned_ok((uintptr_t)chunk2mem(p)) || owner_of(p) != a) {
			bad(c, "arena %d: remote list: chunk %p not in the arena", a->index, (void *)p);
			return;
		}
		size_t size = chunksize(p);
		if (size < KMM_MINSIZE || !aligned_ok(size) || !inuse(p))
			bad(c, "arena %d: remote list: chunk %p (size %zu) not an in-use chunk", a->index,
			    (void *)p, size);
	}
}

static void check_arena(struct kmm_arena *a, struct checker *c)
{
	bool locked = kmm_lock_fork_aware(&a->lock);

	size_t bin_count = 0, bin_bytes = 0, fast_count = 0, tc_count = 0;
	check_bins(a, c, &bin_count, &bin_bytes);
	check_fastbins(a, c, &fast_count);
	check_remote(a, c);

	size_t walk_free = 0, walk_bytes = 0, seg_mem = 0;
	if (a->top != NULL) {
		struct kmm_segment *prev = NULL;
		for (struct kmm_segment *s = a->seg_first; s != NULL; prev = s, s = s->next) {
			bool closed = s != a->seg_last;
			if (s->prev != prev)
				bad(c, "arena %d: segment %p: prev link %p, expected %p", a->index,
				    (void *)s->base, (void *)s->prev, (void *)prev);
			if (closed != (s->chunks_end != NULL))
				bad(c, "segment %p: closed=%d but chunks_end=%p", (void *)s->base, closed,
				    (void *)s->chunks_end);
			char *end = closed ? s->chunks_end : (char *)a->top;
			if (!closed && ((char *)a->top < s->base || (char *)a->top >= s->end)) {
				bad(c, "top %p is not in the last segment [%p, %p)", (void *)a->top,
				    (void *)s->base, (void *)s->end);
				break;
			}
			if (a != &kmm_main_arena) {
				struct kmm_heap_info *h = heap_for_ptr(s->mem);
				if ((char *)h != s->mem || &h->seg != s || h->ar != a || !kmm_heap_registered(h) ||
				    s->end != (char *)h + h->size || h->size > h->mprotect_size ||
				    h->mprotect_size > KMM_HEAP_MAX ||
				    (prev != NULL && &h->prev->seg != prev) || (prev == NULL && h->prev != NULL))
					bad(c, "arena %d: heap %p: header inconsistent with its segment",
					    a->index, (void *)h);
			}
			walk_segment(a, c, s, end, closed, &walk_free, &walk_bytes);
			seg_mem += (size_t)(s->end - s->mem);
		}
		size_t ts = chunksize(a->top);
		if (ts < KMM_MINSIZE)
			bad(c, "top size %zu below MINSIZE", ts);
		if (!prev_inuse(a->top))
			bad(c, "top has P clear");
		if ((char *)a->top + ts != a->seg_last->end)
			bad(c, "top ends at %p, its segment at %p", (void *)((char *)a->top + ts),
			    (void *)a->seg_last->end);
		if (a->top_fresh < a->seg_last->base || a->top_fresh > a->seg_last->end)
			bad(c, "top_fresh %p outside the open segment", (void *)a->top_fresh);
		if (a->system_mem != seg_mem + a->st.foreign_bytes)
			bad(c, "arena %d: system_mem %zu != segments %zu + foreign %llu", a->index,
			    a->system_mem, seg_mem, (unsigned long long)a->st.foreign_bytes);
	}
	if (walk_free != bin_count || walk_bytes != bin_bytes)
		bad(c, "arena %d: walk found %zu free chunks (%zu bytes), bins hold %zu (%zu bytes)",
		    a->index, walk_free, walk_bytes, bin_count, bin_bytes);
	if (a->max_system_mem < a->system_mem)
		bad(c, "max_system_mem %zu < system_mem %zu", a->max_system_mem, a->system_mem);
	kmm_unlock_if(&a->lock, locked);
	(void)fast_count;
	(void)tc_count;
}

KMM_COLD int kmm_heap_check(int verbose)
{
	struct checker c = { 0, verbose };
	if (!kmm_main_arena.initialized)
		return 0;

	kmm_for_each_arena(a)
		check_arena(a, &c);
	size_t tc_count = 0;
	check_tcache(&c, &tc_count);
	c.errors += kmm_arenas_check(verbose);

	const struct kmm_big_stats *m = &kmm_big_stats;
	bool big_locked = kmm_lock_fork_aware(&kmm_big_stats_lock);
	if (m->n_mmaps > m->max_n_mmaps || m->mmapped_mem > m->max_mmapped_mem)
		bad(&c, "mmap counters above their maxima");
	if (m->unmaps > m->maps)
		bad(&c, "more munmaps (%llu) than mmaps (%llu)", (unsigned long long)m->unmaps,
		    (unsigned long long)m->maps);
	if (m->maps - m->unmaps != m->n_mmaps)
		bad(&c, "mmaps %llu - munmaps %llu != mapped chunks %zu", (unsigned long long)m->maps,
		    (unsigned long long)m->unmaps, m->n_mmaps);
	kmm_unlock_if(&kmm_big_stats_lock, big_locked);
	c.errors += kmm_zero_check(verbose);
	return c.errors;
}

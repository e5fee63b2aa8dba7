/*
 * arena.c — allocation and release inside one arena.
 *
 * THEORY (the order in which kmm_int_malloc looks for a chunk of size nb)
 *
 *   1. fastbin of size nb                           (LIFO, no coalescing)
 *   2. small bin of size nb                         (FIFO)
 *      -- a large request first consolidates the fastbins, so that big
 *         requests see merged free space --
 *   3. sort the unsorted bin, chunk by chunk:
 *        - a small request and a lone "last remainder" big enough: split it
 *          (consecutive small requests then come from one region: locality)
 *        - an exact fit: take it (or, with a tcache, stash it and go on)
 *        - anything else: place it in its small or (sorted) large bin
 *   4. large request: best fit in its own large bin, via the size skip list
 *   5. binmap: the smallest chunk of the next non-empty larger bin, split
 *   6. split the top chunk
 *   7. if fastbins hold chunks: consolidate and retry from 3
 *   8. sysmalloc: an own mapping (nb >= mmap threshold) or grow the heap
 *
 * Split-off remainders and freed chunks go to the unsorted bin; a chunk next
 * to top merges into top.  This is glibc's algorithm; kmm follows it so that
 * programs consume the heap, and move the break, as they do under glibc.
 *
 * Every function here runs with the arena lock held.  Corruption found on
 * the way (broken links, impossible sizes) ends the process with a one-line
 * diagnostic, as glibc does: continuing would hand out overlapping memory.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"
#include "../trace.h"
#include "arena_heap.h"
#include "big.h"
#include "tcache.h"
#include "../os.h"
#include "../util/format.h"

struct kmm_arena kmm_main_arena;

const char *const kmm_path_names[KMM_PATH_NR] = {
	[KMM_PATH_TCACHE]    = "tcache",
	[KMM_PATH_FASTBIN]   = "fastbin",
	[KMM_PATH_SMALLBIN]  = "smallbin",
	[KMM_PATH_UNSORTED]  = "unsorted",
	[KMM_PATH_REMAINDER] = "remainder",
	[KMM_PATH_LARGEBIN]  = "largebin",
	[KMM_PATH_BINMAP]    = "binmap",
	[KMM_PATH_TOP]       = "top",
	[KMM_PATH_SYSMALLOC] = "sysmalloc",
	[KMM_PATH_BIG]       = "vmalloc",
};

KMM_HOT void kmm_arena_init(struct kmm_arena *a, int index)
{
	for (unsigned i = 1; i < KMM_NBINS; i++) {
		mchunk b = bin_at(a, i);
		b->fd = b->bk = b;
	}
	a->index = index;
	kmm_lock_init(&a->lock, KMM_RANK_ARENA, (unsigned)index);
	a->top = NULL;
	a->seg_first = &a->seg0;
	a->seg_last = &a->seg0;
	a->span_lo = a->span_hi = 0;
	a->fast_lo = a->fast_hi = 0;
	a->initialized = true;
}

/* Fill a freshly allocated chunk (n = its usable bytes) / a freed chunk
 * with the M_PERTURB pattern. */
static inline void alloc_perturb(mchunk p, size_t n)
{
	if (KMM_UNLIKELY(kmm_params.perturb_byte))
		memset(chunk2mem(p), kmm_params.perturb_byte ^ 0xff, n);
}

static inline void free_perturb(mchunk p, size_t n)
{
	if (KMM_UNLIKELY(kmm_params.perturb_byte))
		memset(chunk2mem(p), kmm_params.perturb_byte, n);
}

/* Account an allocation to the path that served it. */
static inline void served(struct kmm_arena *a, enum kmm_path path)
{
	a->st.served[path]++;
	a->last_path = path;
}

static inline size_t arena_flag(const struct kmm_arena *a)
{
	return kmm_arena_flag(a);
}

/* Remove a free chunk from whatever bin holds it (not a fastbin). */
KMM_HOT void kmm_unlink_chunk(struct kmm_arena *a, mchunk p)
{
	(void)a;
	if (KMM_UNLIKELY(chunksize(p) != next_chunk(p)->prev_size))
		kmm_printerr("malloc(): corrupted size vs. prev_size", NULL);
	mchunk fd = p->fd, bk = p->bk;
	if (KMM_UNLIKELY(fd->bk != p || bk->fd != p))
		kmm_printerr("malloc(): corrupted double-linked list", NULL);
	fd->bk = bk;
	bk->fd = fd;
	if (!in_smallbin_range(chunksize(p)) && p->fd_nextsize != NULL) {
		/* p leads a run of equal sizes in a large bin */
		if (KMM_UNLIKELY(p->fd_nextsize->bk_nextsize != p || p->bk_nextsize->fd_nextsize != p))
			kmm_printerr("malloc(): corrupted double-linked list (not small)", NULL);
		if (fd->fd_nextsize == NULL) {
			/* the next chunk has the same size: it becomes the leader.
			 * (A bin header's fd_nextsize overlays the next bin's fd,
			 * which is never NULL, so fd is a real chunk here.) */
			if (p->fd_nextsize == p) {
				fd->fd_nextsize = fd->bk_nextsize = fd;
			} else {
				fd->fd_nextsize = p->fd_nextsize;
				fd->bk_nextsize = p->bk_nextsize;
				p->fd_nextsize->bk_nextsize = fd;
				p->bk_nextsize->fd_nextsize = fd;
			}
		} else {
			p->fd_nextsize->bk_nextsize = p->bk_nextsize;
			p->bk_nextsize->fd_nextsize = p->fd_nextsize;
		}
	}
}

/* Put a free chunk at the front of the unsorted bin. */
static inline void unsorted_push(struct kmm_arena *a, mchunk p, size_t size, const char *who)
{
	mchunk bck = unsorted_bin(a);
	mchunk fwd = bck->fd;
	if (KMM_UNLIKELY(fwd->bk != bck))
		kmm_printerr("free(): corrupted unsorted chunks", " (in %s)", who);
	/* the list words: maybe where a merged chunk's header was (vg.h) */
	KMM_VG_WRITABLE(&p->fd, in_smallbin_range(size) ? 2 * sizeof(mchunk) : 4 * sizeof(mchunk));
	if (!in_smallbin_range(size)) {
		p->fd_nextsize = NULL;
		p->bk_nextsize = NULL;
	}
	p->bk = bck;
	p->fd = fwd;
	bck->fd = p;
	fwd->bk = p;
}

/* Insert a free chunk into large bin `idx`, keeping the bin sorted by size
 * (largest at bin->fd) and the skip list of size leaders intact.  A chunk of
 * a size already present goes second in its run, so the leader (and the
 * skip list) need not change. */
static void largebin_insert(struct kmm_arena *a, unsigned idx, mchunk victim, size_t size)
{
	mchunk bin = bin_at(a, idx);
	mchunk fwd, bck;

	if (bin->fd == bin) {
		/* empty bin: a run of one */
		victim->fd_nextsize = victim->bk_nextsize = victim;
		fwd = bin;
		bck = bin;
	} else if (size < chunksize(bin->bk)) {
		/* smaller than everything: new last run */
		mchunk largest = bin->fd;
		victim->fd_nextsize = largest;
		victim->bk_nextsize = largest->bk_nextsize;
		largest->bk_nextsize = victim;
		victim->bk_nextsize->fd_nextsize = victim;
		fwd = bin;
		bck = bin->bk;
	} else {
		/* walk the leaders from the largest down */
		fwd = bin->fd;
		while (size < chunksize(fwd))
			fwd = fwd->fd_nextsize;
		if (size == chunksize(fwd)) {
			fwd = fwd->fd;           /* second position of the run */
			victim->fd_nextsize = victim->bk_nextsize = NULL;
		} else {
			victim->fd_nextsize = fwd;
			victim->bk_nextsize = fwd->bk_nextsize;
			if (KMM_UNLIKELY(fwd->bk_nextsize->fd_nextsize != fwd))
				kmm_printerr("malloc(): largebin double linked list corrupted (nextsize)", NULL);
			fwd->bk_nextsize = victim;
			victim->bk_nextsize->fd_nextsize = victim;
		}
		bck = fwd->bk;
		if (KMM_UNLIKELY(bck->fd != fwd))
			kmm_printerr("malloc(): largebin double linked list corrupted (bk)", NULL);
	}
	mark_bin(a, idx);
	victim->bk = bck;
	victim->fd = fwd;
	fwd->bk = victim;
	bck->fd = victim;
}

static void smallbin_insert(struct kmm_arena *a, unsigned idx, mchunk victim)
{
	mchunk bck = bin_at(a, idx);
	mchunk fwd = bck->fd;
	mark_bin(a, idx);
	victim->bk = bck;
	victim->fd = fwd;
	fwd->bk = victim;
	bck->fd = victim;
}

/* Split `victim` (already unlinked, `size` bytes) into an in-use chunk of nb
 * bytes and a free remainder that goes to the unsorted bin; or hand it out
 * whole if the remainder would be too small to be a chunk. */
static KMM_HOT mchunk split_off(struct kmm_arena *a, mchunk victim, size_t size, size_t nb,
			bool remember, const char *who)
{
	size_t rsize = size - nb;
	if (rsize < KMM_MINSIZE) {
		set_inuse_at(victim, size);
		set_head_bits(victim, arena_flag(a));
		return victim;
	}
	mchunk rem = chunk_at(victim, nb);
	unsorted_push(a, rem, rsize, who);
	if (remember)
		a->last_remainder = rem;
	set_head(victim, nb | KMM_PREV_INUSE | arena_flag(a));
	set_head(rem, rsize | KMM_PREV_INUSE);
	set_foot(rem, rsize);
	return victim;
}

/* Take c, the head of fastbin fidx, off it: its revealed next pointer
 * must be aligned (safe-linking, chunk.h; `unaligned` is the message),
 * and under poison=on its contents unchanged since it was freed. */
static inline void fastbin_pop(struct kmm_arena *a, unsigned fidx, mchunk c, const char *unaligned)
{
	mchunk next = KMM_REVEAL_PTR(c->fd);
	if (KMM_UNLIKELY(!aligned_ok((uintptr_t)next)))
		kmm_printerr(unaligned, NULL);
	a->fastbins[fidx] = next;
	if (KMM_UNLIKELY(kmm_params.poison))
		kmm_poison_check(chunk2mem(c), "malloc()");
}

/* Move chunks of size nb from the arena's bin into the tcache until it is
 * full ("stashing"): the next mallocs of this size need no lock. */
static void stash_fastbin(struct kmm_arena *a, unsigned fidx, struct kmm_tcache *tc, size_t tidx)
{
	size_t limit = kmm_params.tcache_count;
	mchunk c;
	while (tc->counts[tidx] < limit && (c = a->fastbins[fidx]) != NULL) {
		fastbin_pop(a, fidx, c, "malloc(): unaligned fastbin chunk detected 3");
		kmm_tcache_put(tc, c, tidx);
		a->st.tcache_fills++;
	}
}

static void stash_smallbin(struct kmm_arena *a, mchunk bin, size_t nb, struct kmm_tcache *tc, size_t tidx)
{
	size_t limit = kmm_params.tcache_count;
	mchunk c;
	while (tc->counts[tidx] < limit && (c = bin->bk) != bin) {
		mchunk bck = c->bk;
		set_inuse_at(c, nb);
		set_head_bits(c, arena_flag(a));
		bin->bk = bck;
		bck->fd = bin;
		kmm_tcache_put(tc, c, tidx);
		a->st.tcache_fills++;
	}
}

/* Merge free chunk p (size bytes, not in any bin) with its free neighbours
 * and put the result at the front of the unsorted bin, or merge it into the
 * top chunk.  Returns the size of the merged chunk. */
static KMM_HOT size_t coalesce(struct kmm_arena *a, mchunk p, size_t size, bool *into_top, const char *who)
{
	mchunk next = chunk_at(p, size);
	size_t nextsize = chunksize(next);

	if (!prev_inuse(p)) {
		size_t prevsize = p->prev_size;
		size += prevsize;
		p = chunk_before(p, prevsize);
		if (KMM_UNLIKELY(chunksize(p) != prevsize))
			kmm_printerr("corrupted size vs. prev_size while consolidating", " (in %s)", who);
		kmm_unlink_chunk(a, p);
		a->st.merges++;
	}
	if (next != a->top) {
		if (!inuse_at(next, nextsize)) {
			kmm_unlink_chunk(a, next);
			size += nextsize;
			a->st.merges++;
		} else {
			clear_inuse_at(next, 0);
		}
		unsorted_push(a, p, size, who);
		set_head(p, size | KMM_PREV_INUSE);
		set_foot(p, size);
		*into_top = false;
	} else {
		size += nextsize;
		set_head(p, size | KMM_PREV_INUSE);
		a->top = p;
		*into_top = true;
	}
	return size;
}

KMM_HOT void kmm_malloc_consolidate(struct kmm_arena *a)
{
	kmm_arena_assert_locked(a);
	a->have_fastchunks = 0;
	a->st.consolidations++;
	for (unsigned i = 0; i < KMM_NFASTBINS; i++) {
		mchunk p = a->fastbins[i];
		a->fastbins[i] = NULL;
		while (p != NULL) {
			if (KMM_UNLIKELY(fastbin_index(chunksize(p)) != i))
				kmm_printerr("malloc_consolidate(): invalid chunk size", NULL);
			mchunk nextp = KMM_REVEAL_PTR(p->fd);
			if (KMM_UNLIKELY(!aligned_ok((uintptr_t)nextp)))
				kmm_printerr("malloc_consolidate(): unaligned fastbin chunk detected", NULL);
			bool into_top;
			coalesce(a, p, chunksize(p), &into_top, "malloc_consolidate()");
			p = nextp;
		}
	}
}

KMM_HOT mchunk kmm_int_malloc(struct kmm_arena *a, size_t nb, struct kmm_tcache *tc)
{
	kmm_arena_assert_locked(a);
	mchunk victim, bin;
	unsigned idx;
	size_t size;
	const bool tc_ok = tc != NULL && kmm_csize2tidx(nb) < kmm_params.tcache_bins;
	const size_t tidx = kmm_csize2tidx(nb);

	/* 1. fastbin */
	if (nb <= __atomic_load_n(&kmm_params.max_fast, __ATOMIC_RELAXED)) {
		unsigned fidx = fastbin_index(nb);
		victim = a->fastbins[fidx];
		if (victim != NULL) {
			if (KMM_UNLIKELY(fastbin_index(chunksize(victim)) != fidx))
				kmm_printerr("malloc(): memory corruption (fast)", NULL);
			fastbin_pop(a, fidx, victim, "malloc(): unaligned fastbin chunk detected 2");
			if (tc_ok)
				stash_fastbin(a, fidx, tc, tidx);
			served(a, KMM_PATH_FASTBIN);
			alloc_perturb(victim, nb - KMM_SIZE_SZ);
			return victim;
		}
	}

	/* 2. small bin of the exact size */
	if (in_smallbin_range(nb)) {
		idx = smallbin_index(nb);
		bin = bin_at(a, idx);
		victim = bin->bk;
		if (victim != bin) {
			mchunk bck = victim->bk;
			if (KMM_UNLIKELY(bck->fd != victim))
				kmm_printerr("malloc(): smallbin double linked list corrupted", NULL);
			set_inuse_at(victim, nb);
			set_head_bits(victim, arena_flag(a));
			bin->bk = bck;
			bck->fd = bin;
			if (tc_ok)
				stash_smallbin(a, bin, nb, tc, tidx);
			served(a, KMM_PATH_SMALLBIN);
			alloc_perturb(victim, nb - KMM_SIZE_SZ);
			return victim;
		}
	} else {
		/* guard=SIZE: a block of that size or more is a big block, a
		 * vmalloc area between guard pages, whatever the threshold */
		if (KMM_UNLIKELY(nb >= kmm_params.guard_min) && !a->no_big && kmm_big_allowed()) {
			a->st.served[KMM_PATH_BIG]++;
			a->last_path = KMM_PATH_BIG;
			return NULL;
		}
		idx = largebin_index(nb);
		if (a->have_fastchunks)
			kmm_malloc_consolidate(a);
	}

	bool return_cached = false;
	size_t processed = 0;
	mchunk unsorted = unsorted_bin(a);

	for (;;) {
		/* 3. sort the unsorted bin */
		int iters = 0;
		while ((victim = unsorted->bk) != unsorted) {
			mchunk bck = victim->bk;
			size = chunksize(victim);
			mchunk next = chunk_at(victim, size);

			if (KMM_UNLIKELY(size <= KMM_CHUNK_HDR || size > a->system_mem))
				kmm_printerr("malloc(): invalid size (unsorted)", NULL);
			if (KMM_UNLIKELY(chunksize(next) < KMM_CHUNK_HDR || chunksize(next) > a->system_mem))
				kmm_printerr("malloc(): invalid next size (unsorted)", NULL);
			if (KMM_UNLIKELY(next->prev_size != size))
				kmm_printerr("malloc(): mismatching next->prev_size (unsorted)", NULL);
			if (KMM_UNLIKELY(bck->fd != victim || victim->fd != unsorted))
				kmm_printerr("malloc(): unsorted double linked list corrupted", NULL);
			if (KMM_UNLIKELY(prev_inuse(next)))
				kmm_printerr("malloc(): invalid next->prev_inuse (unsorted)", NULL);

			/* a small request served from the last remainder, if that
			 * is the only unsorted chunk */
			if (in_smallbin_range(nb) && bck == unsorted && victim == a->last_remainder &&
			    size > nb + KMM_MINSIZE) {
				size_t rsize = size - nb;
				mchunk rem = chunk_at(victim, nb);
				KMM_VG_WRITABLE(&rem->fd, in_smallbin_range(rsize) ? 2 * sizeof(mchunk)
										  : 4 * sizeof(mchunk));
				unsorted->bk = unsorted->fd = rem;
				rem->bk = rem->fd = unsorted;
				a->last_remainder = rem;
				if (!in_smallbin_range(rsize)) {
					rem->fd_nextsize = NULL;
					rem->bk_nextsize = NULL;
				}
				set_head(victim, nb | KMM_PREV_INUSE | arena_flag(a));
				set_head(rem, rsize | KMM_PREV_INUSE);
				set_foot(rem, rsize);
				served(a, KMM_PATH_REMAINDER);
				alloc_perturb(victim, nb - KMM_SIZE_SZ);
				return victim;
			}

			/* take it off the unsorted list */
			unsorted->bk = bck;
			bck->fd = unsorted;

			if (size == nb) {
				set_inuse_at(victim, size);
				set_head_bits(victim, arena_flag(a));
				if (tc_ok && tc->counts[tidx] < kmm_params.tcache_count) {
					/* keep looking: more exact fits may follow */
					kmm_tcache_put(tc, victim, tidx);
					a->st.tcache_fills++;
					return_cached = true;
					continue;
				}
				served(a, KMM_PATH_UNSORTED);
				alloc_perturb(victim, nb - KMM_SIZE_SZ);
				return victim;
			}

			/* place it in its bin */
			a->st.sorted++;
			if (in_smallbin_range(size))
				smallbin_insert(a, smallbin_index(size), victim);
			else
				largebin_insert(a, largebin_index(size), victim, size);

			if (return_cached && kmm_params.tcache_unsorted_limit > 0 &&
			    ++processed > kmm_params.tcache_unsorted_limit) {
				served(a, KMM_PATH_UNSORTED);
				return mem2chunk(kmm_tcache_get(tc, tidx));
			}
			if (++iters >= KMM_MAX_UNSORTED_ITERS)
				break;
		}

		if (return_cached) {
			served(a, KMM_PATH_UNSORTED);
			return mem2chunk(kmm_tcache_get(tc, tidx));
		}

		/* 4. large request: best fit in its own bin */
		if (!in_smallbin_range(nb)) {
			bin = bin_at(a, idx);
			victim = bin->fd;
			if (victim != bin && chunksize(victim) >= nb) {
				/* from the smallest run upwards */
				victim = victim->bk_nextsize;
				while ((size = chunksize(victim)) < nb)
					victim = victim->bk_nextsize;
				/* prefer the second chunk of a run: the skip list
				 * then need not be rerouted */
				if (victim != bin->bk && chunksize(victim->fd) == size)
					victim = victim->fd;
				kmm_unlink_chunk(a, victim);
				victim = split_off(a, victim, size, nb, false, "malloc()");
				served(a, KMM_PATH_LARGEBIN);
				alloc_perturb(victim, nb - KMM_SIZE_SZ);
				return victim;
			}
		}

		/* 5. the next non-empty larger bin, via the binmap */
		++idx;
		bin = bin_at(a, idx);
		unsigned block = idx2block(idx);
		unsigned map = a->binmap[block];
		unsigned bit = idx2bit(idx);
		for (;;) {
			if (bit > map || bit == 0) {
				/* nothing at or above `bit` in this block */
				do {
					if (++block >= KMM_BINMAPSIZE)
						goto use_top;
				} while ((map = a->binmap[block]) == 0);
				bin = bin_at(a, block << KMM_BINMAP_SHIFT);
				bit = 1;
			}
			while ((bit & map) == 0) {
				bin = next_bin(bin);
				bit <<= 1;
			}
			victim = bin->bk;
			if (victim == bin) {
				/* stale bit: clear it and go on */
				a->binmap[block] = map &= ~bit;
				bin = next_bin(bin);
				bit <<= 1;
				continue;
			}
			size = chunksize(victim);
			kmm_unlink_chunk(a, victim);
			victim = split_off(a, victim, size, nb, in_smallbin_range(nb), "malloc()");
			served(a, KMM_PATH_BINMAP);
			alloc_perturb(victim, nb - KMM_SIZE_SZ);
			return victim;
		}

	use_top:
		/* 6. the top chunk */
		size = top_size(a);
		if (KMM_UNLIKELY(size > a->system_mem))
			kmm_printerr("malloc(): corrupted top size", NULL);
		if (size >= nb + KMM_MINSIZE) {
			victim = kmm_split_top(a, nb, arena_flag(a));
			served(a, KMM_PATH_TOP);
			alloc_perturb(victim, nb - KMM_SIZE_SZ);
			return victim;
		}
		/* 7. merge the fastbins and retry */
		if (a->have_fastchunks) {
			kmm_malloc_consolidate(a);
			idx = in_smallbin_range(nb) ? smallbin_index(nb) : largebin_index(nb);
			continue;
		}
		/* 8. ask the OS */
		victim = kmm_sysmalloc(a, nb);
		if (victim != NULL)
			alloc_perturb(victim, nb - KMM_SIZE_SZ);
		return victim;
	}
}

KMM_HOT void kmm_int_free(struct kmm_arena *a, mchunk p)
{
	kmm_arena_assert_locked(a);
	size_t size = chunksize(p);

	if (KMM_UNLIKELY((uintptr_t)p > (uintptr_t)-size || !aligned_ok((uintptr_t)p)))
		kmm_printerr("free(): invalid pointer", " %p", chunk2mem(p));
	if (KMM_UNLIKELY(size < KMM_MINSIZE || !aligned_ok(size)))
		kmm_printerr("free(): invalid size", " %zu of chunk at %p", size, chunk2mem(p));

	mchunk next = chunk_at(p, size);

	if (size <= __atomic_load_n(&kmm_params.max_fast, __ATOMIC_RELAXED)) {
		if (KMM_UNLIKELY(chunk_head(next) <= KMM_CHUNK_HDR || chunksize(next) >= a->system_mem))
			kmm_printerr("free(): invalid next size (fast)", NULL);
		free_perturb(p, size - KMM_CHUNK_HDR);
		unsigned fidx = fastbin_index(size);
		mchunk old = a->fastbins[fidx];
		if (KMM_UNLIKELY(old == p))
			kmm_printerr("double free or corruption (fasttop)", " at %p", chunk2mem(p));
		if (KMM_UNLIKELY(old != NULL && fastbin_index(chunksize(old)) != fidx))
			kmm_printerr("free(): invalid fastbin entry", NULL);
		if (KMM_UNLIKELY(kmm_params.poison))
			kmm_poison_fill(chunk2mem(p));
		KMM_VG_WRITABLE(&p->fd, sizeof p->fd);
		p->fd = KMM_PROTECT_PTR(&p->fd, old);
		a->fastbins[fidx] = p;
		a->have_fastchunks = 1;
		a->st.frees_fastbin++;
		a->last_free = KMM_TP_FASTBIN;
		return;
	}

	if (KMM_UNLIKELY(p == a->top))
		kmm_printerr("double free or corruption (top)", " at %p", chunk2mem(p));
	if (KMM_UNLIKELY(arena_contiguous(a) && a->top != NULL &&
			 (char *)next >= (char *)a->top + chunksize(a->top)))
		kmm_printerr("double free or corruption (out)", " at %p", chunk2mem(p));
	if (KMM_UNLIKELY(!prev_inuse(next)))
		kmm_printerr("double free or corruption (!prev)", " at %p", chunk2mem(p));
	size_t nextsize = chunksize(next);
	if (KMM_UNLIKELY(chunk_head(next) <= KMM_CHUNK_HDR || nextsize >= a->system_mem))
		kmm_printerr("free(): invalid next size (normal)", NULL);

	free_perturb(p, size - KMM_CHUNK_HDR);

	bool into_top;
	size = coalesce(a, p, size, &into_top, "free()");
	a->last_free = into_top ? KMM_TP_TOP : KMM_TP_UNSORTED;
	if (into_top)
		a->st.frees_top++;
	else
		a->st.frees_unsorted++;

	/* A big free: merge the fastbins and see whether the top should be
	 * returned to the OS. */
	if (size >= KMM_FASTBIN_CONSOLIDATION_THRESHOLD && !a->no_trim) {
		if (a->have_fastchunks)
			kmm_malloc_consolidate(a);
		if (top_size(a) < kmm_trim_threshold()) {
			if (a != &kmm_main_arena)   /* empty heaps below the top still go */
				kmm_arena_heap_trim(a, kmm_params.top_pad, false);
		} else if (a != &kmm_main_arena) {
			kmm_arena_heap_trim(a, kmm_trim_pad(a), false);
		} else {
			kmm_systrim(a, kmm_trim_pad(a));
		}
	}
}


KMM_HOT mchunk kmm_int_realloc(struct kmm_arena *a, mchunk oldp, size_t oldsize, size_t nb)
{
	kmm_arena_assert_locked(a);
	mchunk newp;
	size_t newsize;
	mchunk next = chunk_at(oldp, oldsize);

	if (KMM_UNLIKELY(chunk_head(oldp) <= KMM_CHUNK_HDR || oldsize >= a->system_mem))
		kmm_printerr("realloc(): invalid old size", NULL);
	if (KMM_UNLIKELY(chunk_head(next) <= KMM_CHUNK_HDR || chunksize(next) >= a->system_mem))
		kmm_printerr("realloc(): invalid next size", NULL);

	if (oldsize >= nb) {
		newp = oldp;
		newsize = oldsize;
	} else {
		size_t nextsize = chunksize(next);
		if (next == a->top && oldsize + nextsize >= nb + KMM_MINSIZE) {
			/* grow into top */
			set_head_size(oldp, nb);
			kmm_set_top(a, chunk_at(oldp, nb), oldsize + nextsize - nb);
			served(a, KMM_PATH_TOP);
			return oldp;
		}
		if (next != a->top && !inuse_at(next, nextsize) && oldsize + nextsize >= nb) {
			/* grow into the free chunk that follows */
			newp = oldp;
			newsize = oldsize + nextsize;
			kmm_unlink_chunk(a, next);
			a->st.merges++;
		} else {
			/* allocate, copy, free */
			newp = kmm_int_malloc(a, nb, NULL);
			if (newp == NULL)
				return NULL;
			if (newp != next) {
				memcpy(chunk2mem(newp), chunk2mem(oldp), oldsize - KMM_SIZE_SZ);
				kmm_int_free(a, oldp);
				return newp;
			}
			/* we got the chunk right after ours: merge in place */
			newsize = oldsize + chunksize(newp);
			newp = oldp;
		}
	}

	/* give back what is not needed, if it is big enough to be a chunk */
	size_t rsize = newsize - nb;
	if (rsize < KMM_MINSIZE) {
		set_head_size(newp, newsize);
		set_inuse_at(newp, newsize);
	} else {
		mchunk rem = chunk_at(newp, nb);
		set_head_size(newp, nb);
		set_head(rem, rsize | KMM_PREV_INUSE | arena_flag(a));
		set_inuse_at(rem, rsize);
		kmm_int_free(a, rem);
	}
	return newp;
}

mchunk kmm_int_memalign(struct kmm_arena *a, size_t alignment, size_t nb)
{
	kmm_arena_assert_locked(a);
	/* Over-allocate, then give back the misaligned front and the tail. */
	if (kmm_aligned_too_big(alignment, nb)) {
		a->last_path = KMM_PATH_NR;
		errno = ENOMEM;
		return NULL;
	}
	mchunk p = kmm_int_malloc(a, nb + alignment + KMM_MINSIZE, NULL);
	if (p == NULL)
		return NULL;
	uintptr_t mem = (uintptr_t)chunk2mem(p);
	if (mem % alignment != 0) {
		/* first aligned spot at least MINSIZE past the start, so the
		 * front can be freed as a chunk of its own */
		char *brk = (char *)mem2chunk((void *)((mem + alignment - 1) & -(uintptr_t)alignment));
		if ((size_t)(brk - (char *)p) < KMM_MINSIZE)
			brk += alignment;
		mchunk newp = (mchunk)brk;
		size_t lead = (size_t)(brk - (char *)p);
		size_t newsize = chunksize(p) - lead;
		set_head(newp, newsize | KMM_PREV_INUSE | arena_flag(a));
		set_inuse_at(newp, newsize);
		set_head_size(p, lead);
		kmm_int_free(a, p);
		p = newp;
	}
	size_t size = chunksize(p);
	if (size > nb + KMM_MINSIZE) {
		size_t rsize = size - nb;
		mchunk rem = chunk_at(p, nb);
		set_head(rem, rsize | KMM_PREV_INUSE | arena_flag(a));
		set_head_size(p, nb);
		set_inuse_at(rem, rsize);
		kmm_int_free(a, rem);
	}
	return p;
}

/* malloc_trim: consolidate, then madvise(MADV_DONTNEED) the whole pages
 * inside every free chunk, and trim the top. */
int kmm_arena_trim(struct kmm_arena *a, size_t pad)
{
	kmm_arena_assert_locked(a);
	size_t ps = kmm_os_page_size();
	int released = 0;

	kmm_malloc_consolidate(a);
	for (unsigned i = 1; i < KMM_NBINS; i++) {
		mchunk bin = bin_at(a, i);
		for (mchunk p = bin->fd; p != bin; p = p->fd) {
			size_t size = chunksize(p);
			/* keep the chunk's header and all its links: fd, bk and,
			 * in a large bin, the skip links (sizeof *p, 48 bytes,
			 * as glibc's mtrim; KMM_MINSIZE, 32, let the page
			 * boundary fall before the skip links and zeroed them) */
			uintptr_t lo = KMM_ALIGN_UP((uintptr_t)p + sizeof *p, ps);
			uintptr_t hi = KMM_ALIGN_DOWN((uintptr_t)p + size, ps);
			if (hi > lo) {
				if (kmm_os_advise((void *)lo, hi - lo, MADV_DONTNEED) == 0) {
					a->st.madvised_bytes += hi - lo;
					released = 1;
				}
			}
		}
	}
	if (a == &kmm_main_arena ? kmm_systrim(a, pad) : kmm_arena_heap_trim(a, pad, true))
		released = 1;
	return released;
}

/* The bytes after the list words (next and key, or fd and bk): 16. */
#define POISON_FROM 16

void kmm_poison_fill(void *mem)
{
	kmm_poison_fill_n(mem, chunk_usable(mem2chunk(mem)));
}

void kmm_poison_fill_n(void *mem, size_t usable)
{
	if (usable > POISON_FROM)
		memset((char *)mem + POISON_FROM, KMM_POISON_FREE, usable - POISON_FROM);
}

void kmm_poison_check(const void *mem, const char *who)
{
	kmm_poison_check_n(mem, chunk_usable(mem2chunk(mem)), who);
}

void kmm_poison_check_n(const void *mem, size_t usable, const char *who)
{
	const unsigned char *b = mem;
	const uint64_t pattern = 0x0101010101010101ull * KMM_POISON_FREE;
	size_t i = POISON_FROM;
	for (; i + 8 <= usable; i += 8) {   /* a word at a time, then the byte */
		uint64_t w;
		memcpy(&w, b + i, sizeof w);
		if (KMM_UNLIKELY(w != pattern))
			break;
	}
	for (; i < usable; i++)
		if (KMM_UNLIKELY(b[i] != KMM_POISON_FREE))
			kmm_fatal("%s: write after free in the %zu-byte block at %p: byte %zu is %#x, not the poison %#x",
				  who, usable, mem, i, b[i], KMM_POISON_FREE);
}

/*
 * stats.c — what the heap reports about itself: mallinfo/mallinfo2,
 * malloc_stats, malloc_info (glibc's XML) and kmm's summary report.
 *
 * Every report takes a snapshot under the arena lock (a walk of the bins,
 * like glibc's int_mallinfo), drops the lock, then formats the text into a
 * fixed buffer that flushes to a file descriptor or a stdio stream: nothing
 * is formatted or written while a kmm lock is held.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "heap.h"
#include "arena.h"
#include "arena_heap.h"
#include "arenas.h"
#include "big.h"
#include "rescue.h"
#include "thread.h"
#include "../init.h"
#include "../kernel/uslab.h"
#include "../os.h"
#include "../util/format.h"

/* glibc's malloc_info groups free chunks by fastbin and by bin */
struct size_row {
	size_t from, to, total, count;
};

struct heap_snapshot {
	size_t system_mem, max_system_mem;
	size_t top;                   /* top chunk size */
	size_t fast_count, fast_bytes;
	size_t bin_count[3], bin_bytes[3];   /* unsorted, small, large */
	size_t nblocks, avail;        /* free chunks incl. top (ordblks), free bytes */
	char  *heap_start, *heap_end; /* first segment; end of the current one */
	unsigned segments;
	bool   contiguous;
	size_t aspace, aspace_mprotect;  /* further arenas: heap bytes, made read/write */
	size_t threads;               /* attached */
	size_t remote_count, remote_bytes;
	uint64_t contended;
	struct kmm_arena_stats st;
	struct size_row rows[KMM_NFASTBINS + KMM_NBINS];
};

static KMM_COLD void snapshot(struct kmm_arena *a, struct heap_snapshot *s, bool rows)
{
	memset(s, 0, sizeof *s);
	bool locked = kmm_lock_fork_aware(&a->lock);
	s->system_mem = a->system_mem;
	s->max_system_mem = a->max_system_mem;
	s->top = top_size(a);
	s->nblocks = 1;          /* the top always counts, as in glibc */
	s->avail = s->top;
	for (unsigned i = 0; i < KMM_NFASTBINS; i++) {
		size_t n = 0, sz = 0;
		for (mchunk p = a->fastbins[i]; p != NULL; p = KMM_REVEAL_PTR(p->fd)) {
			n++;
			sz = chunksize(p);
		}
		s->fast_count += n;
		s->fast_bytes += n * sz;
		if (rows && n > 0) {
			s->rows[i].from = sz - (KMM_ALIGNMENT - 1);
			s->rows[i].to = sz;
			s->rows[i].count = n;
			s->rows[i].total = n * sz;
		}
	}
	s->avail += s->fast_bytes;
	for (unsigned i = 1; i < KMM_NBINS; i++) {
		mchunk bin = bin_at(a, i);
		struct size_row *r = &s->rows[KMM_NFASTBINS - 1 + i];
		size_t lo = SIZE_MAX, hi = 0, n = 0, total = 0;
		for (mchunk p = bin->fd; p != bin; p = p->fd) {
			/* glibc's malloc_info reads bin chunk sizes with their
			 * flag bits (chunksize_nomask: a free chunk's P bit is
			 * always set, so +1); kmm prints the same numbers */
			size_t sz = rows ? chunk_head(p) : chunksize(p);
			n++;
			total += sz;
			if (sz < lo) lo = sz;
			if (sz > hi) hi = sz;
		}
		int kind = i == 1 ? 0 : (i < KMM_NSMALLBINS ? 1 : 2);
		s->bin_count[kind] += n;
		s->bin_bytes[kind] += total;
		s->nblocks += n;
		s->avail += total;
		if (rows && n > 0) {
			r->from = lo;
			r->to = hi;
			r->count = n;
			r->total = total;
		}
	}
	s->heap_start = a->seg_first->base;
	s->heap_end = a->seg_last->end;
	s->contiguous = arena_contiguous(a);
	s->segments = a->seg_first->base ? 1 : 0;
	for (struct kmm_segment *g = a->seg_first->next; g != NULL; g = g->next)
		s->segments++;
	if (a == &kmm_main_arena) {
		s->aspace = s->aspace_mprotect = a->system_mem;
	} else {
		for (struct kmm_segment *g = a->seg_first; g != NULL; g = g->next) {
			struct kmm_heap_info *h = heap_for_ptr(g->mem);
			s->aspace += h->size;
			s->aspace_mprotect += h->mprotect_size;
		}
	}
	for (mchunk p = a->remote_head; p != NULL; p = p->fd) {
		s->remote_count++;
		s->remote_bytes += chunksize(p);
	}
	s->contended = __atomic_load_n(&a->contended, __ATOMIC_RELAXED);
	s->st = a->st;
	kmm_unlock_if(&a->lock, locked);
	s->threads = __atomic_load_n(&a->attached_threads, __ATOMIC_RELAXED);
}

/* Bytes not free: in chunks handed out, cached in a tcache, waiting on a
 * remote list, fenceposts, and (as glibc counts its heap_info and arena
 * struct) the header of each heap of a further arena, so that system =
 * in use + free as in glibc's mallinfo. */
static size_t in_use(const struct heap_snapshot *s)
{
	return s->system_mem - s->avail;
}

/* Header bytes of the further arenas' heaps (counted in use). */
KMM_COLD size_t kmm_heap_headers_total(void)
{
	size_t n = 0;
	kmm_for_each_arena(a) {
		if (a == &kmm_main_arena)
			continue;
		bool locked = kmm_lock_fork_aware(&a->lock);
		for (struct kmm_segment *g = a->seg_first; g != NULL; g = g->next)
			n += KMM_HEAP_HDR;
		kmm_unlock_if(&a->lock, locked);
	}
	return n;
}

/* Counters of every arena, added up. */
static void stats_sum(struct kmm_arena_stats *sum, const struct kmm_arena_stats *st)
{
	const uint64_t *src = (const uint64_t *)st;
	uint64_t *dst = (uint64_t *)sum;
	_Static_assert(sizeof *st % sizeof(uint64_t) == 0, "kmm_arena_stats holds only uint64_t");
	for (size_t i = 0; i < sizeof *st / sizeof(uint64_t); i++)
		dst[i] += src[i];
}

KMM_COLD void kmm_heap_arena_stats_total(struct kmm_arena_stats *sum, size_t *max_system_mem)
{
	memset(sum, 0, sizeof *sum);
	size_t peak = 0;
	kmm_for_each_arena(a) {
		bool locked = kmm_lock_fork_aware(&a->lock);
		stats_sum(sum, &a->st);
		peak += a->max_system_mem;
		kmm_unlock_if(&a->lock, locked);
	}
	if (max_system_mem != NULL)
		*max_system_mem = peak;
}

/* Summed over the arenas, as glibc's mallinfo2, and the slab front
 * end's slabs counted as heap (arena = uordblks + fordblks still: a slab's
 * objects not free are in use, the rest of it free); keepcost is the main
 * arena's top (glibc's is whichever arena it visited last). */
KMM_COLD struct mallinfo2 kmm_heap_mallinfo2(void)
{
	if (kmm_rescued())   /* (the inherited heap is not read: rescue.h) */
		return (struct mallinfo2){ 0 };
	struct mallinfo2 m = kmm_heap_mallinfo2_arenas();
	struct kmm_uslab_stats us;
	kmm_uslab_stats(&us);
	m.arena += us.bytes;
	m.uordblks += us.inuse_bytes;
	m.fordblks += us.bytes - us.inuse_bytes;
	return m;
}

/* The arenas alone. */
KMM_COLD struct mallinfo2 kmm_heap_mallinfo2_arenas(void)
{
	struct mallinfo2 m;
	struct heap_snapshot s;
	kmm_ensure_init();
	memset(&m, 0, sizeof m);
	kmm_for_each_arena(a) {
		snapshot(a, &s, false);
		m.arena += s.system_mem;
		m.ordblks += s.nblocks;
		m.smblks += s.fast_count;
		m.fsmblks += s.fast_bytes;
		m.uordblks += in_use(&s);
		m.fordblks += s.avail;
		if (a == &kmm_main_arena)
			m.keepcost = s.top;
	}
	m.hblks = __atomic_load_n(&kmm_big_stats.n_mmaps, __ATOMIC_RELAXED);
	m.hblkhd = __atomic_load_n(&kmm_big_stats.mmapped_mem, __ATOMIC_RELAXED);
	m.usmblks = 0;
	return m;
}

/* The heap's layers, summed over the arenas and the threads (heap.h). */
KMM_COLD void kmm_heap_layers(struct kmm_heap_layers *l)
{
	struct heap_snapshot s;
	memset(l, 0, sizeof *l);
	kmm_for_each_arena(a) {
		snapshot(a, &s, false);
		l->arenas++;
		l->system += s.system_mem;
		l->fast_n += s.fast_count;
		l->fast_bytes += s.fast_bytes;
		for (int k = 0; k < 3; k++) {
			l->bin_n[k] += s.bin_count[k];
			l->bin_bytes[k] += s.bin_bytes[k];
		}
		l->top_n += s.top > 0;
		l->top_bytes += s.top;
		l->remote_n += s.remote_count;
		l->remote_bytes += s.remote_bytes;
	}
	kmm_thread_tcache_totals(&l->tcache_n, &l->tcache_bytes);
}

/* Each arena's system, in-use and free bytes, as the summary's arena
 * rows give them (the live view): at most max rows, the arenas past the
 * last row summed into it.  Returns the rows filled. */
KMM_COLD size_t kmm_heap_arena_usage(struct kmm_heap_arena_usage *out, size_t max)
{
	struct heap_snapshot s;
	size_t n = 0;
	if (max == 0)
		return 0;
	memset(out, 0, max * sizeof *out);
	kmm_for_each_arena(a) {
		snapshot(a, &s, false);
		struct kmm_heap_arena_usage *u = &out[n < max ? n : max - 1];
		u->system += s.system_mem;
		u->in_use += in_use(&s);
		u->free += s.avail;
		n++;
	}
	return n < max ? n : max;
}

KMM_COLD struct mallinfo kmm_heap_mallinfo(void)
{
	struct mallinfo2 m2 = kmm_heap_mallinfo2();
	struct mallinfo m;
	/* the old interface's int fields wrap, as in glibc */
	m.arena = (int)m2.arena;
	m.ordblks = (int)m2.ordblks;
	m.smblks = (int)m2.smblks;
	m.hblks = (int)m2.hblks;
	m.hblkhd = (int)m2.hblkhd;
	m.usmblks = (int)m2.usmblks;
	m.fsmblks = (int)m2.fsmblks;
	m.uordblks = (int)m2.uordblks;
	m.fordblks = (int)m2.fordblks;
	m.keepcost = (int)m2.keepcost;
	return m;
}

KMM_COLD void kmm_heap_malloc_stats(void)
{
	struct heap_snapshot s;
	char out[1024];
	struct kmm_buf b;
	if (kmm_rescued()) {
		static const char msg[] = "kmm: malloc_stats: a rescued fork child (its heap is not read)\n";
		kmm_os_write_all(2, msg, sizeof msg - 1);
		return;
	}
	kmm_ensure_init();
	size_t mmapped = __atomic_load_n(&kmm_big_stats.mmapped_mem, __ATOMIC_RELAXED);
	size_t system = 0, used = 0;

	kmm_buf_init(&b, out, sizeof out, 2);
	/* glibc's layout, field for field, one block per arena */
	kmm_for_each_arena(a) {
		snapshot(a, &s, false);
		system += s.system_mem;
		used += in_use(&s);
		kmm_buf_printf(&b, "Arena %d:\n", a->index);
		kmm_buf_printf(&b, "system bytes     = %10u\n", (unsigned)s.system_mem);
		kmm_buf_printf(&b, "in use bytes     = %10u\n", (unsigned)(in_use(&s)));
	}
	struct kmm_uslab_stats us;
	kmm_uslab_stats(&us);
	if (us.slabs != 0) {
		/* kmm's: the slab front end, as one more block */
		kmm_buf_printf(&b, "Slabs:\n");
		kmm_buf_printf(&b, "system bytes     = %10u\n", (unsigned)us.bytes);
		kmm_buf_printf(&b, "in use bytes     = %10u\n", (unsigned)us.inuse_bytes);
		system += us.bytes;
		used += us.inuse_bytes;
	}
	kmm_buf_printf(&b, "Total (incl. mmap):\n");
	kmm_buf_printf(&b, "system bytes     = %10u\n", (unsigned)(system + mmapped));
	kmm_buf_printf(&b, "in use bytes     = %10u\n", (unsigned)(used + mmapped));
	kmm_buf_printf(&b, "max mmap regions = %10u\n",
		       (unsigned)__atomic_load_n(&kmm_big_stats.max_n_mmaps, __ATOMIC_RELAXED));
	kmm_buf_printf(&b, "max mmap bytes   = %10lu\n",
		       (unsigned long)__atomic_load_n(&kmm_big_stats.max_mmapped_mem, __ATOMIC_RELAXED));
	kmm_buf_flush(&b);
}

/* glibc's malloc_info: a <heap> per arena, then the totals. */
KMM_COLD void kmm_heap_report_xml(struct kmm_buf *b)
{
	struct heap_snapshot *s;
	/* the snapshot holds 138 rows: keep it off small thread stacks */
	static struct heap_snapshot snap;
	static kmm_lock_t snap_lock = KMM_LOCK_INIT_RANK(KMM_RANK_STATS_SNAP);
	size_t fast_count = 0, fast_bytes = 0, rest_count = 0, rest_bytes = 0;
	size_t system = 0, system_max = 0, aspace = 0, aspace_mprotect = 0;

	kmm_ensure_init();
	kmm_lock(&snap_lock);
	s = &snap;
	kmm_buf_puts(b, "<malloc version=\"1\">\n");
	kmm_for_each_arena(a) {
		snapshot(a, s, true);
		kmm_buf_printf(b, "<heap nr=\"%d\">\n<sizes>\n", a->index);
		for (unsigned i = 0; i < KMM_NFASTBINS + KMM_NBINS - 1; i++) {
			struct size_row *r = &s->rows[i];
			if (r->count != 0 && i != KMM_NFASTBINS)
				kmm_buf_printf(b, "  <size from=\"%zu\" to=\"%zu\" total=\"%zu\" count=\"%zu\"/>\n",
					       r->from, r->to, r->total, r->count);
		}
		if (s->rows[KMM_NFASTBINS].count != 0) {
			struct size_row *r = &s->rows[KMM_NFASTBINS];
			kmm_buf_printf(b, "  <unsorted from=\"%zu\" to=\"%zu\" total=\"%zu\" count=\"%zu\"/>\n",
				       r->from, r->to, r->total, r->count);
		}
		size_t rc = s->nblocks, rest = s->avail - s->fast_bytes;
		kmm_buf_puts(b, "</sizes>\n");
		kmm_buf_printf(b, "<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n", s->fast_count,
			       s->fast_bytes);
		kmm_buf_printf(b, "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n", rc, rest);
		kmm_buf_printf(b, "<system type=\"current\" size=\"%zu\"/>\n", s->system_mem);
		kmm_buf_printf(b, "<system type=\"max\" size=\"%zu\"/>\n", s->max_system_mem);
		kmm_buf_printf(b, "<aspace type=\"total\" size=\"%zu\"/>\n", s->aspace);
		kmm_buf_printf(b, "<aspace type=\"mprotect\" size=\"%zu\"/>\n", s->aspace_mprotect);
		if (a != &kmm_main_arena)
			kmm_buf_printf(b, "<aspace type=\"subheaps\" size=\"%u\"/>\n", s->segments);
		/* kmm's additions (glibc's readers ignore unknown elements) */
		kmm_buf_printf(b, "<threads count=\"%zu\"/>\n", s->threads);
		kmm_buf_printf(b, "<remote count=\"%zu\" size=\"%zu\" drained=\"%llu\"/>\n", s->remote_count,
			       s->remote_bytes, (unsigned long long)s->st.remote_drained);
		kmm_buf_puts(b, "</heap>\n");
		fast_count += s->fast_count;
		fast_bytes += s->fast_bytes;
		rest_count += rc;
		rest_bytes += rest;
		system += s->system_mem;
		system_max += s->max_system_mem;
		aspace += s->aspace;
		aspace_mprotect += s->aspace_mprotect;
	}
	struct kmm_uslab_stats us;
	kmm_uslab_stats(&us);
	if (us.slabs != 0) {
		/* kmm's: the slab front end (glibc's readers ignore it); its
		 * bytes count in the totals below, as a heap's would */
		kmm_buf_printf(b, "<slabs count=\"%zu\" size=\"%zu\" inuse=\"%zu\" classes=\"%zu\"/>\n", us.slabs,
			       us.bytes, us.inuse_bytes, us.classes);
		rest_bytes += us.bytes - us.inuse_bytes;
		system += us.bytes;
		system_max += us.bytes;
		aspace += us.bytes;
		aspace_mprotect += us.bytes;
	}
	kmm_buf_printf(b, "<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n", fast_count, fast_bytes);
	kmm_buf_printf(b, "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n", rest_count, rest_bytes);
	kmm_buf_printf(b, "<total type=\"mmap\" count=\"%d\" size=\"%zu\"/>\n",
		       (int)__atomic_load_n(&kmm_big_stats.n_mmaps, __ATOMIC_RELAXED),
		       __atomic_load_n(&kmm_big_stats.mmapped_mem, __ATOMIC_RELAXED));
	kmm_buf_printf(b, "<system type=\"current\" size=\"%zu\"/>\n", system);
	kmm_buf_printf(b, "<system type=\"max\" size=\"%zu\"/>\n", system_max);
	kmm_buf_printf(b, "<aspace type=\"total\" size=\"%zu\"/>\n", aspace);
	kmm_buf_printf(b, "<aspace type=\"mprotect\" size=\"%zu\"/>\n", aspace_mprotect);
	kmm_buf_puts(b, "</malloc>\n");
	kmm_unlock(&snap_lock);
}

static KMM_COLD void file_sink(void *ctx, const char *data, size_t len)
{
	fwrite(data, 1, len, (FILE *)ctx);
}

KMM_COLD int kmm_heap_malloc_info(int options, FILE *fp)
{
	char out[2048];
	struct kmm_buf b;
	if (options != 0) {
		errno = EINVAL;
		return -1;
	}
	/* stdio may allocate: the text is produced in a local buffer and
	 * handed to fwrite with no kmm lock held */
	kmm_buf_init_sink(&b, out, sizeof out, file_sink, fp);
	if (kmm_rescued())
		kmm_buf_puts(&b, "<malloc version=\"1\">\n<!-- a rescued fork child: its heap is not read -->\n</malloc>\n");
	else
		kmm_heap_report_xml(&b);
	kmm_buf_flush(&b);
	return 0;
}

static void pct(struct kmm_buf *b, uint64_t part, uint64_t whole)
{
	if (whole == 0) {
		kmm_buf_puts(b, "-");
		return;
	}
	uint64_t tenths = (part * 1000 + whole / 2) / whole;
	kmm_buf_printf(b, "%llu.%llu%%", (unsigned long long)(tenths / 10),
		       (unsigned long long)(tenths % 10));
}

/* One line per arena: threads attached, memory, heaps, remote frees. */
static void report_arenas(struct kmm_buf *b, const struct kmm_thread_counters *tc)
{
	struct heap_snapshot s;
	kmm_buf_printf(b, "arenas (%zu, at most %zu now; threads move on when theirs is busy)\n",
		       __atomic_load_n(&kmm_narenas, __ATOMIC_RELAXED), kmm_arena_limit());
	kmm_for_each_arena(a) {
		snapshot(a, &s, false);
		kmm_buf_printf(b, "  arena %-3d %s  %'zu thread%s  system ", a->index,
			       a == &kmm_main_arena ? "brk " : "heap", s.threads, s.threads == 1 ? ", " : "s,");
		kmm_buf_size(b, s.system_mem);
		kmm_buf_puts(b, ", in use ");
		kmm_buf_size(b, in_use(&s));
		kmm_buf_printf(b, ", free %'zu chunks (", s.nblocks);
		kmm_buf_size(b, s.avail);
		kmm_buf_puts(b, ")");
		if (a != &kmm_main_arena)
			kmm_buf_printf(b, ", %u heap%s (made %'llu, unmapped %'llu)", s.segments,
				       s.segments == 1 ? "" : "s", (unsigned long long)s.st.heaps_new,
				       (unsigned long long)s.st.heaps_deleted);
		kmm_buf_printf(b, ", remote frees %'llu", (unsigned long long)s.st.remote_drained);
		if (s.remote_count)
			kmm_buf_printf(b, " (+%'zu waiting)", s.remote_count);
		if (s.contended)
			kmm_buf_printf(b, ", found busy %'llu", (unsigned long long)s.contended);
		kmm_buf_putc(b, '\n');
	}
	kmm_buf_printf(b, "  frees of other arenas' blocks pushed without their lock: %'llu\n",
		       (unsigned long long)tc->remote_frees);
}

KMM_COLD void kmm_heap_report_summary(struct kmm_buf *b)
{
	struct heap_snapshot s;
	struct kmm_thread_counters tc;
	kmm_ensure_init();
	struct kmm_arena_stats tot;
	snapshot(&kmm_main_arena, &s, false);
	kmm_thread_counters_total(&tc);
	kmm_heap_arena_stats_total(&tot, NULL);
	const struct kmm_big_stats *m = &kmm_big_stats;
	const struct kmm_arena_stats *st = &s.st;

	kmm_buf_puts(b, "heap (main arena, over brk)\n");
	if (s.heap_start != NULL) {
		kmm_buf_printf(b, "  heap               %p .. %p  (", (void *)s.heap_start, (void *)s.heap_end);
		kmm_buf_size(b, (unsigned long long)(s.heap_end - s.heap_start));
		kmm_buf_printf(b, ")%s, %u segment%s\n", s.contiguous ? "" : ", non-contiguous",
			       s.segments, s.segments == 1 ? "" : "s");
	} else {
		kmm_buf_puts(b, "  heap               not created (no small allocation yet)\n");
	}
	kmm_buf_printf(b, "  break growth       %'llu call%s, ", (unsigned long long)st->brk_grows,
		       st->brk_grows == 1 ? "" : "s");
	kmm_buf_size(b, st->brk_grow_bytes);
	kmm_buf_printf(b, "; trims %'llu, ", (unsigned long long)st->brk_trims);
	kmm_buf_size(b, st->brk_trim_bytes);
	kmm_buf_putc(b, '\n');
	if (st->morecore_maps || st->segments)
		kmm_buf_printf(b, "  segments           %'llu new segment%s; mmap fallback %'llu time%s\n",
			       (unsigned long long)st->segments, st->segments == 1 ? "" : "s",
			       (unsigned long long)st->morecore_maps, st->morecore_maps == 1 ? "" : "s");
	kmm_buf_puts(b, "  system bytes       ");
	kmm_buf_size(b, s.system_mem);
	kmm_buf_puts(b, " (peak ");
	kmm_buf_size(b, s.max_system_mem);
	kmm_buf_puts(b, "), in use ");
	kmm_buf_size(b, in_use(&s));
	kmm_buf_puts(b, ", free ");
	kmm_buf_size(b, s.avail);
	kmm_buf_printf(b, " in %'zu chunks\n", s.nblocks);
	kmm_buf_puts(b, "  free chunks        top ");
	kmm_buf_size(b, s.top);
	kmm_buf_printf(b, "; fastbins %'zu (", s.fast_count);
	kmm_buf_size(b, s.fast_bytes);
	kmm_buf_printf(b, "); unsorted %'zu (", s.bin_count[0]);
	kmm_buf_size(b, s.bin_bytes[0]);
	kmm_buf_printf(b, "); small %'zu (", s.bin_count[1]);
	kmm_buf_size(b, s.bin_bytes[1]);
	kmm_buf_printf(b, "); large %'zu (", s.bin_count[2]);
	kmm_buf_size(b, s.bin_bytes[2]);
	kmm_buf_puts(b, ")\n");
	if (st->madvised_bytes) {
		kmm_buf_puts(b, "  malloc_trim        madvise(DONTNEED) ");
		kmm_buf_size(b, st->madvised_bytes);
		kmm_buf_putc(b, '\n');
	}

	report_arenas(b, &tc);

	kmm_buf_puts(b, "big blocks (at or above the mmap threshold: vmalloc areas)\n");
	kmm_buf_printf(b, "  live now           %'zu (", __atomic_load_n(&m->n_mmaps, __ATOMIC_RELAXED));
	kmm_buf_size(b, __atomic_load_n(&m->mmapped_mem, __ATOMIC_RELAXED));
	kmm_buf_printf(b, "), peak %'zu (", m->max_n_mmaps);
	kmm_buf_size(b, m->max_mmapped_mem);
	kmm_buf_puts(b, ")\n");
	kmm_buf_printf(b, "  calls              vmalloc %'llu (", (unsigned long long)m->maps);
	kmm_buf_size(b, m->map_bytes);
	kmm_buf_printf(b, "), vfree %'llu, realloc %'llu (%'llu moved)\n",
		       (unsigned long long)m->unmaps, (unsigned long long)m->remaps,
		       (unsigned long long)m->remap_moves);
	kmm_buf_puts(b, "  thresholds         mmap ");
	kmm_buf_size(b, kmm_params.mmap_threshold);
	if (kmm_params.no_dyn_threshold)
		kmm_buf_puts(b, " (fixed by an option)");
	else if (kmm_params.threshold_rule == KMM_THRESHOLD_GLIBC)
		kmm_buf_printf(b, " (glibc's dynamic rule, raised %'llu time%s)",
			       (unsigned long long)m->threshold_raises, m->threshold_raises == 1 ? "" : "s");
	else
		kmm_buf_puts(b, " (freed big blocks are cached, not moved to the heap)");
	kmm_buf_puts(b, ", trim ");
	if (kmm_trim_threshold() == SIZE_MAX)
		kmm_buf_puts(b, "off");
	else
		kmm_buf_size(b, kmm_trim_threshold());
	if (kmm_trim_threshold() != kmm_params.trim_threshold)
		kmm_buf_puts(b, " (front=slab: the heap holds blocks above 4 KiB only)");
	kmm_buf_puts(b, ", top_pad ");
	kmm_buf_size(b, kmm_params.top_pad);
	kmm_buf_putc(b, '\n');

	struct kmm_uslab_stats us;
	kmm_uslab_stats(&us);
	kmm_buf_printf(b, "slab front end (front=%s, requests up to %zu bytes; per-thread slabs of 64 KiB)\n",
		       kmm_params.front == KMM_FRONT_SLAB_ ? "slab" : "tcache", KMM_USLAB_MAX);
	kmm_buf_printf(b, "  slabs              %'zu (", us.slabs);
	kmm_buf_size(b, us.bytes);
	kmm_buf_printf(b, ", peak %'zu) in %zu class%s, touched ", us.slabs_peak, us.classes,
		       us.classes == 1 ? "" : "es");
	kmm_buf_size(b, us.resident);
	kmm_buf_puts(b, ", objects in use ");
	kmm_buf_size(b, us.inuse_bytes);
	kmm_buf_printf(b, "; made %'llu, freed %'llu\n", (unsigned long long)us.slabs_made,
		       (unsigned long long)us.slabs_freed);
	kmm_buf_printf(b, "  malloc             %'llu (slow path %'llu: list refilled or slab changed)\n",
		       (unsigned long long)us.allocs, (unsigned long long)us.alloc_slow);
	kmm_buf_printf(b, "  free               by other threads %'llu (remote lists); slow own %'llu; full slabs "
		       "parked %'llu, returned by a remote free %'llu\n",
		       (unsigned long long)us.remote_frees, (unsigned long long)us.free_slow,
		       (unsigned long long)us.parked, (unsigned long long)us.returned);
	kmm_buf_puts(b, "  pages given back   ");
	kmm_buf_size(b, us.released);
	kmm_buf_printf(b, " now, in partly used slabs; %'llu pages ever, %'llu madvise calls\n",
		       (unsigned long long)us.pages_released, (unsigned long long)us.page_releases);
	kmm_buf_printf(b, "  owner records      %'zu (%'zu idle, waiting for a new thread)\n", us.owners,
		       us.idle_owners);

	uint64_t lookups = tc.tc_alloc_hits + tc.tc_alloc_misses;
	kmm_buf_printf(b, "tcache (%zu per bin, requests up to %zu bytes)\n",
		       kmm_params.tcache_count, kmm_params.tcache_max_bytes);
	kmm_buf_printf(b, "  malloc             hits %'llu, misses %'llu (hit rate ",
		       (unsigned long long)tc.tc_alloc_hits, (unsigned long long)tc.tc_alloc_misses);
	pct(b, tc.tc_alloc_hits, lookups);
	kmm_buf_puts(b, ")\n");
	kmm_buf_printf(b, "  free               cached %'llu, bin full %'llu\n",
		       (unsigned long long)tc.tc_free_hits, (unsigned long long)tc.tc_free_overflow);
	kmm_buf_printf(b, "  threads            %'zu live\n", kmm_threads_live);

	kmm_buf_puts(b, "allocations served by\n ");
	uint64_t total = tc.tc_alloc_hits + us.allocs;
	for (int i = 1; i < KMM_PATH_NR; i++)
		total += tot.served[i];
	for (int i = 0; i <= KMM_PATH_NR; i++) {
		uint64_t n = i == KMM_PATH_NR ? us.allocs : i == KMM_PATH_TCACHE ? tc.tc_alloc_hits : tot.served[i];
		kmm_buf_printf(b, " %s %'llu (", i == KMM_PATH_NR ? "slab" : kmm_path_names[i], (unsigned long long)n);
		pct(b, n, total);
		kmm_buf_puts(b, ")");
		if (i == 4)
			kmm_buf_puts(b, "\n ");
	}
	kmm_buf_putc(b, '\n');
	kmm_buf_printf(b, "frees\n  tcache %'llu, fastbin %'llu, unsorted %'llu, into top %'llu, vfree %'llu;"
		       " merges %'llu, consolidations %'llu, chunks sorted %'llu, tcache refills %'llu\n",
		       (unsigned long long)tc.tc_free_hits, (unsigned long long)tot.frees_fastbin,
		       (unsigned long long)tot.frees_unsorted, (unsigned long long)tot.frees_top,
		       (unsigned long long)m->unmaps, (unsigned long long)tot.merges,
		       (unsigned long long)tot.consolidations, (unsigned long long)tot.sorted,
		       (unsigned long long)tot.tcache_fills);
}

/*
 * at.c — kmm-trace at WHEN: the heap at one moment of the log.
 *
 * WHEN is a time since the trace started (1.5s, 250ms, 40us, 1200ns; with
 * several logs, since the earliest of them started), #SEQ (after the
 * event with that sequence number), peak (after the event of the peak of
 * live bytes) or end.  The log's events are run in sequence order up to
 * that moment (the first event past it is not applied), then printed:
 *
 *   - the live blocks: bytes and count, and the top N allocation sites
 *     (by caller) of the blocks live then;
 *   - the layers the events say: blocks freed into the thread caches
 *     (tcache), the fastbins, the slab front end's lists or another
 *     thread's remote list and not handed out again since (each free says
 *     where its block went and each allocation which block it returned: a
 *     block leaves such a layer when it is returned again); their sizes
 *     are the usable sizes the frees recorded; fastbin and slab counts are
 *     upper bounds (consolidation and returning empty slabs move their
 *     blocks without an event).  The frees to the bins and the top, the
 *     vfrees, the live vmalloc areas; the resident set size of the last
 *     rss event before the moment.
 *   - what merging, splitting, consolidation and trimming did, which no
 *     event says: the last layer sample before the moment (layer events,
 *     trace_format.h: tcaches, fastbins, unsorted/small/large bins, top
 *     chunks, remote lists, slab free slots, buddy free and free-resident
 *     pages, the vmalloc lazy-free cache, the arenas' bytes), with how many
 *     events it is older than the moment; "none" when there is none.
 *   - kmm's own memory then: the break's growth, bytes mapped, committed
 *     regions by kind, live vmalloc areas, kmm's slab objects.
 *
 * Memory: the live-block table, a table of the blocks in the layers above
 * (both bounded by the blocks of the heap, not by the events) and the
 * distinct stacks (stackid.c: the live blocks are added up by site without
 * reading their records again).
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

#include <errno.h>
#include <stdarg.h>

int kt_parse_when(const char *s, struct kt_when *w)
{
	memset(w, 0, sizeof *w);
	w->text = s;
	if (!strcmp(s, "peak")) {
		w->kind = KT_AT_PEAK;
		return 0;
	}
	if (!strcmp(s, "end")) {
		w->kind = KT_AT_END;
		return 0;
	}
	char *end;
	errno = 0;
	if (s[0] == '#') {
		if (!s[1] || s[1] == '-')
			return -1;
		w->v = strtoull(s + 1, &end, 10);
		if (*end || errno)
			return -1;
		w->kind = KT_AT_SEQ;
		return 0;
	}
	if (!(s[0] >= '0' && s[0] <= '9') && s[0] != '.')
		return -1;
	double v = strtod(s, &end);
	static const struct { const char *unit; double ns; } units[] = {
		{"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(end, units[i].unit) && end != s && v >= 0 && v * units[i].ns < 1.8e19) {
			w->kind = KT_AT_TIME;
			w->v = (uint64_t)(v * units[i].ns + 0.5);
			return 0;
		}
	return -1;
}

/* ---- the blocks in the layers: ptr -> usable size, layer, freeing thread ---------- */

enum { Y_TCACHE, Y_FASTBIN, Y_SLAB, Y_REMOTE, Y_N };
static const char *const layer_names[Y_N] = {"tcache", "fastbins", "slab front end lists", "remote lists"};

struct cent { uint64_t ptr, size; uint32_t tid; int layer; };

struct at {
	struct cent *t;
	size_t cap, n;
	uint64_t nb[Y_N], bytes[Y_N];
	uint64_t exit_n, exit_bytes; /* tcache blocks of threads that exited */
	uint64_t to_bins, to_bins_bytes, to_top, to_top_bytes, vfrees, vfree_bytes;
};

static size_t c_home(const struct at *A, uint64_t p)
{
	return (size_t)(hash64(p) & (A->cap - 1));
}

static void c_del_at(struct at *A, size_t i)
{
	A->nb[A->t[i].layer]--;
	A->bytes[A->t[i].layer] -= A->t[i].size;
	/* backward-shift deletion */
	size_t mask = A->cap - 1, j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!A->t[j].ptr)
			break;
		size_t k = c_home(A, A->t[j].ptr);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		A->t[i] = A->t[j];
		i = j;
	}
	A->t[i].ptr = 0;
	A->n--;
}

static void c_del(struct at *A, uint64_t p)
{
	if (!A->cap || !p)
		return;
	size_t i = c_home(A, p);
	while (A->t[i].ptr && A->t[i].ptr != p)
		i = (i + 1) & (A->cap - 1);
	if (A->t[i].ptr)
		c_del_at(A, i);
}

static void c_put(struct at *A, uint64_t p, uint64_t size, uint32_t tid, int layer)
{
	c_del(A, p);
	if (2 * (A->n + 1) > A->cap) {
		struct at g = *A;
		g.cap = A->cap ? 2 * A->cap : 4096;
		g.t = kt_xcalloc(g.cap, sizeof *g.t);
		for (size_t i = 0; i < A->cap; i++)
			if (A->t[i].ptr) {
				size_t k = c_home(&g, A->t[i].ptr);
				while (g.t[k].ptr)
					k = (k + 1) & (g.cap - 1);
				g.t[k] = A->t[i];
			}
		free(A->t);
		A->t = g.t;
		A->cap = g.cap;
	}
	size_t i = c_home(A, p);
	while (A->t[i].ptr)
		i = (i + 1) & (A->cap - 1);
	A->t[i] = (struct cent){p, size, tid, layer};
	A->n++;
	A->nb[layer]++;
	A->bytes[layer] += size;
}

/* a thread's exit: its tcache's blocks leave it (to where is not recorded) */
static void c_thread_exit(struct at *A, uint32_t tid)
{
	for (size_t i = 0; i < A->cap;) {
		if (A->t[i].ptr && A->t[i].layer == Y_TCACHE && A->t[i].tid == tid) {
			A->exit_n++;
			A->exit_bytes += A->t[i].size;
			c_del_at(A, i); /* another entry may have shifted into i */
		} else
			i++;
	}
}

static void at_event(struct at *A, const struct ev *e)
{
	switch (e->type) {
	case KMM_TR_MALLOC:
	case KMM_TR_CALLOC:
	case KMM_TR_MEMALIGN:
	case KMM_TR_REALLOC:
		if (e->a) /* the block is handed out: it left whatever layer held it */
			c_del(A, e->a);
		break;
	case KMM_TR_FREE:
		switch (e->path) {
		case KMM_TP_TCACHE: c_put(A, e->c, e->b, e->tid, Y_TCACHE); break;
		case KMM_TP_FASTBIN: c_put(A, e->c, e->b, e->tid, Y_FASTBIN); break;
		case KMM_TP_SLAB: c_put(A, e->c, e->b, e->tid, Y_SLAB); break;
		case KMM_TP_REMOTE: c_put(A, e->c, e->b, e->tid, Y_REMOTE); break;
		case KMM_TP_UNSORTED:
			A->to_bins++;
			A->to_bins_bytes += e->b;
			break;
		case KMM_TP_TOP:
			A->to_top++;
			A->to_top_bytes += e->b;
			break;
		case KMM_TP_VFREE:
			A->vfrees++;
			A->vfree_bytes += e->b;
			break;
		default: break;
		}
		break;
	case KMM_TR_THREAD_EXIT:
		c_thread_exit(A, e->tid);
		break;
	default: break;
	}
}

/* ---- the live blocks by site ----------------------------------------------------------- */

struct srow { uint64_t caller, bytes, count; };

static int cmp_caller(const void *x, const void *y)
{
	uint64_t a = ((const struct srow *)x)->caller, b = ((const struct srow *)y)->caller;
	return a < b ? -1 : a > b;
}

static int cmp_bytes(const void *x, const void *y)
{
	const struct srow *a = x, *b = y;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return a->count > b->count ? -1 : a->count < b->count;
}

/* the live blocks by caller: added up by the stack ids their events gave
 * them (lent.pad), so that their records are not read again */
static void print_sites(struct kt_stackids *ids, struct stats *s, unsigned top)
{
	for (size_t i = 0; i < s->ltcap; i++) /* none without one, but to be sure */
		if (s->lt[i].ptr && s->lt[i].rec && !s->lt[i].pad)
			s->lt[i].pad = kt_stackid(ids, s->lt[i].rec);
	struct srow *v = kt_xcalloc(ids->n + 1, sizeof *v);
	size_t n = ids->n;
	for (size_t k = 0; k < n; k++)
		v[k].caller = rec_caller(ids->rec[k]);
	for (size_t i = 0; i < s->ltcap; i++)
		if (s->lt[i].ptr && s->lt[i].rec) {
			v[s->lt[i].pad - 1].bytes += s->lt[i].size;
			v[s->lt[i].pad - 1].count++;
		}
	if (n)
		qsort(v, n, sizeof *v, cmp_caller);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].count)
			continue;
		if (m && v[m - 1].caller == v[i].caller) {
			v[m - 1].bytes += v[i].bytes;
			v[m - 1].count += v[i].count;
		} else
			v[m++] = v[i];
	}
	if (m)
		qsort(v, m, sizeof *v, cmp_bytes);
	size_t shown = m < top ? m : top;
	for (size_t i = 0; i < shown; i++)
		kt_sym_want(v[i].caller);
	kt_sym_resolve();
	printf("\nlive blocks by allocation site (%zu site%s; the top %zu by bytes)\n", m, m == 1 ? "" : "s", shown);
	printf("%16s %10s  %s\n", "bytes", "blocks", "caller");
	for (size_t i = 0; i < shown; i++) {
		const char *d = kt_sym_desc(v[i].caller);
		printf("%16" PRIu64 " %10" PRIu64 "  0x%" PRIx64 "%s%s\n", v[i].bytes, v[i].count, v[i].caller,
		       d[0] ? " " : "", d);
	}
	free(v);
}

/* ---- the command ------------------------------------------------------------------------- */

static void row(const char *name, uint64_t n, uint64_t bytes, const char *note)
{
	printf("  %-28s %8" PRIu64 " %14" PRIu64 "  %s\n", name, n, bytes, note);
}

static void not_recorded(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void not_recorded(const char *name, const char *fmt, ...)
{
	va_list ap;
	printf("  %-28s %8s %14s  ", name, "-", "not recorded");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

int kt_cmd_at(struct log *L, const struct kt_when *w, unsigned top, uint64_t base_mono)
{
	char t1[48], t2[48];
	uint64_t stop_seq = UINT64_MAX, stop_time = UINT64_MAX;
	if (w->kind == KT_AT_PEAK) {
		struct stats *p = kt_xcalloc(1, sizeof *p);
		kt_analyze(L, p);
		stop_seq = p->peak ? p->peak_seq : 0;
		if (!p->peak)
			stop_time = 0;
		kt_stats_free(p);
	} else if (w->kind == KT_AT_SEQ)
		stop_seq = w->v;
	else if (w->kind == KT_AT_TIME) {
		uint64_t off = L->start_mono > base_mono ? L->start_mono - base_mono : 0;
		printf("kmm-trace at %s: %s, pid %" PRIu32 " (%s)\n", w->text, L->path, L->pid, kt_prog_name(L));
		if (w->v < off) {
			printf("not started yet: the log starts at +%ss (since the earliest log started)\n",
			       kt_hsecs(off, t1, sizeof t1));
			return 0;
		}
		stop_time = w->v - off;
	}
	if (w->kind != KT_AT_TIME)
		printf("kmm-trace at %s: %s, pid %" PRIu32 " (%s)\n", w->text, L->path, L->pid, kt_prog_name(L));

	struct stats *s = kt_xcalloc(1, sizeof *s);
	struct at A = {0};
	struct kt_stackids ids = {0};
	uint64_t rss_time = 0;
	struct merge M;
	struct ev e, last = {0};
	int any = 0, more = 0;
	kt_merge_init(&M, L);
	int after = 0; /* the layer sample shown was taken after the moment */
	while (kt_merge_next(&M, &e)) {
		if (e.seq > stop_seq || e.time > stop_time) {
			more = 1;
			/* samples taken at the start of the next call, with no
			 * event between the moment and them, show the heap as it
			 * was at the moment (an idle stretch): read them too */
			uint64_t before = s->layer_samples;
			do {
				if (e.type == KMM_TR_LAYER)
					kt_layer_event(s, &e);
				else if (e.type != KMM_TR_RSS)
					break;
			} while (s->layer_samples == before && kt_merge_next(&M, &e));
			after = s->layer_samples != before;
			break;
		}
		kt_analyze_event(s, &e);
		at_event(&A, &e);
		if (e.type == KMM_TR_RSS)
			rss_time = e.time;
		if (kmm_trace_is_call(e.type) && e.type != KMM_TR_FREE && e.a) {
			struct lent *l = kt_lt_get(s, e.a);
			if (l)
				l->pad = kt_stackid(&ids, e.rec);
		}
		last = e;
		any = 1;
	}
	kt_merge_free(&M);

	if (w->kind == KT_AT_TIME)
		printf("moment      +%ss since the log started\n", kt_hsecs(stop_time, t1, sizeof t1));
	if (any)
		printf("state       after event #%" PRIu64 " at +%ss: %" PRIu64 " of the log's %" PRIu64 " events%s\n",
		       last.seq, kt_hsecs(last.time, t2, sizeof t2), s->nevents, L->nevents,
		       more ? "" : " (its last: the state at its end)");
	else
		printf("state       before the log's first event (nothing allocated yet)\n");
	if (w->kind == KT_AT_SEQ && any && last.seq != w->v)
		printf("            (no event #%" PRIu64 " in this log: the last one before it)\n", w->v);

	char h[48];
	printf("\nlayers, from the events (as they were at the moment)\n  %-28s %8s %14s\n", "", "blocks", "bytes");
	row("live (the program's blocks)", s->live_blocks, s->live, kt_hbytes((double)s->live, h, sizeof h));
	row("peak so far", s->peak_blocks, s->peak, kt_hbytes((double)s->peak, h, sizeof h));
	static const char *const notes[Y_N] = {
		"freed to a thread's cache, not handed out again",
		"freed to a fastbin, not handed out again (at most: consolidation makes no event)",
		"freed to its slab's lists, not handed out again (at most: returning empty slabs makes no event)",
		"pushed to another thread's remote list, not handed out again",
	};
	for (int k = 0; k < Y_N; k++)
		row(layer_names[k], A.nb[k], A.bytes[k], notes[k]);
	if (A.exit_n)
		row("tcache of exited threads", A.exit_n, A.exit_bytes, "left with their thread (to where: no event says)");
	row("frees to the bins", A.to_bins, A.to_bins_bytes, "since the start (merging and splitting make no events)");
	row("frees into the top chunk", A.to_top, A.to_top_bytes, "since the start");
	uint64_t areas = s->vm_new + s->vm_reused > s->vm_frees ? s->vm_new + s->vm_reused - s->vm_frees : 0;
	row("vmalloc areas (big blocks)", areas, s->vm_live > 0 ? (uint64_t)s->vm_live : 0,
	    "live, with their guard pages");
	row("vfrees", A.vfrees, A.vfree_bytes, "since the start (to the lazy-free cache or unmapped)");
	if (s->rss_samples)
		printf("  %-28s %8s %14" PRIu64 "  the last sample before it, at +%ss (%" PRIu64 " of them shared or file-backed)\n",
		       "resident set size (RSS)", "", s->rss, kt_hsecs(rss_time, t1, sizeof t1), s->rss_shared);
	else
		not_recorded("resident set size (RSS)", "%s", "no rss sample before it in the log");

	/* what the events cannot say (what merging, splitting, consolidation
	 * and trimming did): the last layer sample before the moment */
	if (s->layer_samples) {
		uint64_t later = after ? 0 : s->nevents - s->lay_nevents;
		if (after)
			printf("\nlayers, at the layer sample right after it (#%" PRIu64 " at +%ss, before the next call: no\n"
			       "event between the moment and it, so the heap was so at the moment)\n",
			       s->lay_no, kt_hsecs(s->lay_time, t1, sizeof t1));
		else
			printf("\nlayers, at the last layer sample before it (#%" PRIu64 " at +%ss; %" PRIu64 " event%s came between)\n",
			       s->lay_no, kt_hsecs(s->lay_time, t1, sizeof t1), later, later == 1 ? "" : "s");
		printf("  %-28s %8s %14s\n", "", "blocks", "bytes");
		/* by layer: a layer added to trace_format.h without a row here
		 * fails the assertion (when it is the highest) or prints no row */
		static const struct { const char *name, *note; } lay[] = {
			[KMM_TL_TCACHE] = {"tcache", "chunks in the threads' caches"},
			[KMM_TL_FASTBINS] = {"fastbins", "chunks"},
			[KMM_TL_UNSORTED] = {"unsorted bin", "chunks"},
			[KMM_TL_SMALLBINS] = {"small bins", "chunks"},
			[KMM_TL_LARGEBINS] = {"large bins", "chunks"},
			[KMM_TL_TOP] = {"top chunk", "arenas with one; its bytes"},
			[KMM_TL_REMOTE] = {"remote lists", "chunks other threads freed, not yet taken back"},
			[KMM_TL_SLAB_FREE] = {"slab front end free slots", "object slots free in its slabs"},
			[KMM_TL_BUDDY_FREE] = {"buddy free", "pages"},
			[KMM_TL_BUDDY_RESIDENT] = {"buddy free, still resident", "pages not given back to the OS"},
			[KMM_TL_VMALLOC_LAZY] = {"vmalloc lazy-free cache", "areas freed and kept for reuse (guard pages in)"},
			[KMM_TL_ARENAS] = {"arenas (from the OS)", "arenas; their bytes"},
		};
		_Static_assert(sizeof lay / sizeof lay[0] == KMM_TL_NR, "at.c: a row per layer");
		for (unsigned k = 1; k < KMM_TL_NR; k++)
			if (lay[k].name)
				row(lay[k].name, s->lay_blocks[k], s->lay_bytes[k], lay[k].note);
	} else
		printf("\nlayers, at the last layer sample before it: none (bins, top chunk, buddy and vmalloc lazy-free\n"
		       "  cache: not recorded; samples come at the start of malloc-family calls, every 10 ms at most)\n");

	printf("\nkmm's memory then\n");
	printf("  break growth    %" PRIu64 " bytes (%s)\n", s->brk_seen ? s->brk_cur - s->brk_first : 0,
	       kt_hbytes((double)(s->brk_seen ? s->brk_cur - s->brk_first : 0), h, sizeof h));
	printf("  mapped          %" PRId64 " bytes (mmap less munmap, with mremap; reservations included)\n", s->mapped);
	printf("  committed       ");
	int first = 1;
	for (int k = 0; k < KMM_REGION_KIND_NR; k++)
		if (s->reg_bytes[k]) {
			printf("%s%s %" PRId64, first ? "" : ", ", kmm_region_kind_names[k], s->reg_bytes[k]);
			first = 0;
		}
	printf("%s (bytes of kmm's live regions)\n", first ? "none" : "");
	printf("  kmm's slab      %" PRId64 " bytes of its own objects\n", s->slab_live);

	print_sites(&ids, s, top);
	kt_stackids_free(&ids);
	free(A.t);
	kt_stats_free(s);
	return 0;
}

/*
 * massif.c — kmm-trace export --format=massif: the live heap over time in
 * valgrind massif's output format (massif.out), for ms_print and
 * massif-visualizer.
 *
 * Contract:
 *   - One log.  The header: desc: (the log), cmd: (its command line),
 *     time_unit: ms; times are milliseconds since the trace started, with
 *     microseconds as decimals (massif writes whole ones; ms_print and
 *     massif-visualizer read either).
 *   - Snapshots: number 0 at time 0, then one after the first event and
 *     after each 46th of the log's events (where the heap changes, as
 *     massif takes its snapshots: a burst of calls gets as many as a slow
 *     phase of as many calls), one after its last event, and one after
 *     the event of the peak of live bytes (heap_tree=peak): at most 50.  mem_heap_B is the requested
 *     bytes of the program's live blocks (kmm-trace summary's live heap;
 *     the peak snapshot's is the summary's peak); mem_heap_extra_B is 0
 *     (the log records the sizes asked for, not the usable sizes);
 *     mem_stacks_B is 0.
 *   - Every 10th snapshot (9, 19, ...) is detailed, and the peak one: the
 *     tree of the live blocks by call stack, massif's way: the root, then
 *     the innermost frame (the caller of malloc), its callers below it,
 *     children sorted by bytes, largest first; children under 1% of the
 *     snapshot's bytes are one "in N places, all below massif's threshold
 *     (1.00%)" line.  A node: "nCHILDREN: BYTES 0xADDR: FUNCTION
 *     (FILE:LINE)", without a line "0xADDR: FUNCTION" (OBJECT+0xOFF where no
 *     symbol holds it), "0xADDR: ???" unknown.  The stack
 *     is the backtrace (KMM_TRACE_BACKTRACE) or, without one, the caller.
 *   - Memory: the live-block table, the distinct stacks (each allocation
 *     gets a stack id as it is read: a detailed snapshot adds the live
 *     blocks up by id without reading their records again); nothing per
 *     event.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

#define STEPS 46
#define DETAIL_EVERY 10
#define THRESHOLD 1.0 /* percent, as massif's default */

struct mblk { const uint8_t *rec; uint64_t size; }; /* a stack, its live bytes */

struct mctx {
	const struct log *L;
	FILE *o;
	uint64_t peak_seq;
	uint64_t nev, next_n; /* the events, the count of the next step */
	unsigned step, snaps;
	uint64_t last_seq; /* of the last snapshot's event */
	uint64_t ev_seq;   /* of the last event */
	struct kt_stackids ids; /* the live blocks' stacks: lent.pad */
	int any;
};

/* frame k of a live block's stack (innermost first), and its depth */
static unsigned depth_of(const uint8_t *rec)
{
	unsigned n = rec_nframes(rec);
	return n ? n : 1;
}

static uint64_t frame_of(const uint8_t *rec, unsigned k)
{
	if (!rec_nframes(rec))
		return rec_caller(rec);
	return rd64(rec_frames(rec) + KMM_TRACE_FRAME_SIZE * (size_t)k);
}

static int cmp_mblk(const void *x, const void *y)
{
	const uint8_t *a = ((const struct mblk *)x)->rec, *b = ((const struct mblk *)y)->rec;
	unsigned da = depth_of(a), db = depth_of(b);
	for (unsigned k = 0; k < da && k < db; k++) {
		uint64_t fa = frame_of(a, k), fb = frame_of(b, k);
		if (fa != fb)
			return fa < fb ? -1 : 1;
	}
	return da < db ? -1 : da > db;
}

struct child { size_t lo, hi; uint64_t bytes; };

static int cmp_child(const void *x, const void *y)
{
	const struct child *a = x, *b = y;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return a->lo < b->lo ? -1 : 1;
}

/* the node text of address a: "0xADDR: FUNCTION (FILE:LINE)" */
static void node_text(FILE *o, uint64_t a)
{
	struct kt_symline l;
	if (!kt_sym_lines(a, &l, 1)) {
		fprintf(o, "0x%" PRIX64 ": ???\n", a);
		return;
	}
	if (l.file[0] && l.line)
		fprintf(o, "0x%" PRIX64 ": %s (%s:%u)\n", a, l.func, l.file, l.line);
	else
		fprintf(o, "0x%" PRIX64 ": %s\n", a, l.func);
}

/* The children of the node holding blocks [lo, hi) at depth k (their
 * frame k), each line indented by k + 1 spaces, and theirs below. */
static void emit_children(FILE *o, const struct mblk *v, size_t lo, size_t hi, unsigned k, uint64_t total)
{
	struct child *c = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = lo; i < hi;) {
		if (depth_of(v[i].rec) <= k) { /* the stack ends here */
			i++;
			continue;
		}
		uint64_t f = frame_of(v[i].rec, k), sum = 0;
		size_t j = i;
		while (j < hi && depth_of(v[j].rec) > k && frame_of(v[j].rec, k) == f)
			sum += v[j++].size;
		GROW(c, n, cap);
		c[n].lo = i;
		c[n].hi = j;
		c[n++].bytes = sum;
		i = j;
	}
	if (n)
		qsort(c, n, sizeof *c, cmp_child);
	size_t sig = 0;
	uint64_t insig_bytes = 0;
	for (size_t i = 0; i < n; i++) {
		if (total && (double)c[i].bytes * 100.0 < THRESHOLD * (double)total)
			insig_bytes += c[i].bytes;
		else
			sig++;
	}
	for (size_t i = 0; i < sig; i++) {
		/* its children's count: the significant ones, and one line
		 * for the others */
		size_t gsig = 0, ginsig = 0;
		for (size_t x = c[i].lo; x < c[i].hi;) {
			if (depth_of(v[x].rec) <= k + 1) {
				x++;
				continue;
			}
			uint64_t f = frame_of(v[x].rec, k + 1), sum = 0;
			while (x < c[i].hi && depth_of(v[x].rec) > k + 1 && frame_of(v[x].rec, k + 1) == f)
				sum += v[x++].size;
			if (total && (double)sum * 100.0 < THRESHOLD * (double)total)
				ginsig++;
			else
				gsig++;
		}
		fprintf(o, "%*sn%zu: %" PRIu64 " ", (int)(k + 1), "", gsig + (ginsig > 0), c[i].bytes);
		node_text(o, frame_of(v[c[i].lo].rec, k));
		emit_children(o, v, c[i].lo, c[i].hi, k + 1, total);
	}
	if (sig < n)
		fprintf(o, "%*sn0: %" PRIu64 " in %zu place%s, all below massif's threshold (%.2f%%)\n", (int)(k + 1), "",
			insig_bytes, n - sig, n - sig == 1 ? "" : "s", THRESHOLD);
	free(c);
}

/* the live blocks of s as massif's tree */
/* the live blocks of s added up by stack into *out, from the stack ids
 * the events gave them (their records are not read again); how many */
static size_t live_stacks(struct kt_stackids *ids, struct stats *s, struct mblk **out)
{
	for (size_t i = 0; i < s->ltcap; i++) /* none without one, but to be sure */
		if (s->lt[i].ptr && s->lt[i].rec && !s->lt[i].pad)
			s->lt[i].pad = kt_stackid(ids, s->lt[i].rec);
	uint64_t *sum = kt_xcalloc(ids->n + 1, sizeof *sum), *cnt = kt_xcalloc(ids->n + 1, sizeof *cnt);
	for (size_t i = 0; i < s->ltcap; i++) {
		const struct lent *l = &s->lt[i];
		if (!l->ptr || !l->rec)
			continue;
		sum[l->pad - 1] += l->size;
		cnt[l->pad - 1]++;
	}
	struct mblk *v = kt_xcalloc(ids->n + 1, sizeof *v);
	size_t m = 0;
	for (size_t k = 0; k < ids->n; k++)
		if (cnt[k]) {
			v[m].rec = ids->rec[k];
			v[m++].size = sum[k];
		}
	free(sum);
	free(cnt);
	*out = v;
	return m;
}

static void emit_tree(FILE *o, struct kt_stackids *ids, struct stats *s)
{
	struct mblk *v;
	size_t n = live_stacks(ids, s, &v);
	if (n)
		qsort(v, n, sizeof *v, cmp_mblk);
	/* the root's children: the distinct innermost frames, by threshold */
	size_t sig = 0, insig = 0;
	for (size_t i = 0; i < n;) {
		uint64_t f = frame_of(v[i].rec, 0), sum = 0;
		while (i < n && frame_of(v[i].rec, 0) == f)
			sum += v[i++].size;
		if (s->live && (double)sum * 100.0 < THRESHOLD * (double)s->live)
			insig++;
		else
			sig++;
	}
	fprintf(o, "n%zu: %" PRIu64 " (heap allocation functions) malloc/new/new[], --alloc-fns, etc.\n",
		sig + (insig > 0), s->live);
	emit_children(o, v, 0, n, 0, s->live);
	free(v);
}

static void snapshot(struct mctx *m, struct stats *s, uint64_t t, const char *tree)
{
	fprintf(m->o, "#-----------\nsnapshot=%u\n#-----------\n", m->snaps++);
	fprintf(m->o, "time=%" PRIu64 ".%03" PRIu64 "\n", t / 1000000, t / 1000 % 1000);
	fprintf(m->o, "mem_heap_B=%" PRIu64 "\nmem_heap_extra_B=0\nmem_stacks_B=0\nheap_tree=%s\n", s ? s->live : 0,
		tree);
	if (strcmp(tree, "empty") != 0)
		emit_tree(m->o, &m->ids, s);
}

static const char *kind_now(const struct mctx *m)
{
	return m->snaps % DETAIL_EVERY == DETAIL_EVERY - 1 ? "detailed" : "empty";
}

static void each_event(struct stats *s, const struct ev *e, void *ctx)
{
	struct mctx *m = ctx;
	m->any = 1;
	m->ev_seq = e->seq;
	if (kmm_trace_is_call(e->type) && e->type != KMM_TR_FREE && e->a) {
		struct lent *l = kt_lt_get(s, e->a);
		if (l)
			l->pad = kt_stackid(&m->ids, e->rec);
	}
	if (e->seq == m->peak_seq && s->live == s->peak)
		snapshot(m, s, e->time, "peak");
	else if (s->nevents >= m->next_n)
		snapshot(m, s, e->time, kind_now(m));
	else
		return;
	m->last_seq = e->seq;
	/* the next step past this event */
	while (m->next_n <= s->nevents) {
		m->step++;
		m->next_n = m->step > STEPS ? UINT64_MAX : (m->nev * m->step + STEPS - 1) / STEPS;
	}
}

int kt_export_massif(struct log *L, FILE *o)
{
	/* the peak first (its sequence number), then the snapshots */
	struct stats *s = kt_xcalloc(1, sizeof *s);
	kt_analyze(L, s);
	uint64_t peak_seq = s->peak_seq, peak = s->peak, nev = s->nevents;
	int have_peak = peak > 0;
	kt_stats_free(s);

	kt_want_all_sites(L);
	kt_sym_resolve();

	fprintf(o, "desc: kmm-trace export --format=massif %s (pid %" PRIu32 "): requested bytes of live blocks\n",
		L->path, L->pid);
	const char *cmd = L->cmdline && L->cmdline[0] ? L->cmdline : L->exe ? L->exe : kt_prog_name(L);
	fprintf(o, "cmd: ");
	for (const char *p = cmd; *p; p++)
		fputc(*p == '\n' ? ' ' : *p, o);
	fprintf(o, "\ntime_unit: ms\n");

	struct mctx m = {.L = L, .o = o, .peak_seq = have_peak ? peak_seq : UINT64_MAX, .nev = nev, .next_n = 1};
	m.last_seq = UINT64_MAX;
	snapshot(&m, NULL, 0, "empty");
	s = kt_xcalloc(1, sizeof *s);
	s->each = each_event;
	s->each_ctx = &m;
	kt_analyze(L, s);
	if (m.any && m.last_seq != m.ev_seq) {
		/* after the last event, unless it was just taken */
		snapshot(&m, s, s->tlast, kind_now(&m));
	}
	kt_stackids_free(&m.ids);
	kt_stats_free(s);
	return 0;
}

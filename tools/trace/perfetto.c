/*
 * perfetto.c — kmm-trace export --format=perfetto: the log as Chrome
 * trace-event JSON, which Perfetto UI (ui.perfetto.dev) and
 * chrome://tracing open.
 *
 * Contract:
 *   - One JSON document for all the logs given (a run: --run FILE):
 *     {"traceEvents":[...],"displayTimeUnit":"ms"}; the first log's call
 *     writes its head, the last one's its tail (struct kt_export's idx and
 *     nlogs).  Each log is a process: pid the log's, tid the thread's that
 *     wrote the event; a "process_name" metadata event names it.
 *   - ts: microseconds (with ns as decimals) since the earliest start of
 *     the logs (kt_export's base_mono, CLOCK_MONOTONIC, which all
 *     processes share), in sequence order and never going backwards within
 *     a process (an event whose time is earlier than the one before it,
 *     across threads, gets the time before).
 *   - Counter events ("ph":"C"): "live heap bytes" (the requested bytes of the live blocks, as the
 *     summary counts them), "break bytes" (the break's growth over the first
 *     brk event's old break), "mapped bytes" (mapped less unmapped by kmm's
 *     mmap, munmap, mremap), "vmalloc bytes" (kmm's live vmalloc areas, with
 *     guard pages), "rss bytes" (the resident bytes of the log's rss events,
 *     samples of /proc/self/statm: from the first one on; no track in a log
 *     without them, written before they existed); from the log's layer
 *     samples (layer events: no tracks without them), the free memory of
 *     the heap's layers: "free: tcache and fastbins bytes", "free: bins
 *     bytes" (unsorted, small and large), "free: top chunk bytes", "free:
 *     slab slots bytes", "free: buddy resident bytes", "free: vmalloc lazy
 *     bytes" (each a step at each sample).  Values are true values at true times, but not all of
 *     them: the log's span is cut in 20000 slots, and each counter writes
 *     in each slot where it changed its lowest and highest values (in time
 *     order) and its last, so the output is bounded by the slots, not the
 *     events, and a peak is never lost (the maximum of "live heap bytes" is
 *     the summary's peak).  Their first value at the log's first event.
 *   - Instant events ("ph":"i", thread scope) for each system call the log
 *     recorded (brk, mmap, munmap, mprotect, madvise, mremap): name the call,
 *     args its address, size and result (as the summary counts them: failed
 *     ones too).
 *   - Memory: the live-block table (kt_analyze); nothing per event.  The
 *     output: at most 3 points per counter and slot, plus one instant
 *     event per system call.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

enum { C_LIVE, C_BRK, C_MAPPED, C_VMALLOC, C_RSS, C_CACHES, C_BINS, C_TOP, C_SLAB_FREE, C_BUDDY_RES, C_LAZY, C_N };
#define SLOTS 20000 /* time slots of the log's span, per counter */
static const char *const counter_names[C_N] = {"live heap bytes", "break bytes", "mapped bytes", "vmalloc bytes",
					       "rss bytes", "free: tcache and fastbins bytes", "free: bins bytes",
					       "free: top chunk bytes", "free: slab slots bytes",
					       "free: buddy resident bytes", "free: vmalloc lazy bytes"};

/* a point of a counter: value, time, thread */
struct cpt { int64_t v; uint64_t ns; uint32_t tid; };

/* a counter's current time slot: its lowest, highest and last values */
struct ctrack {
	int seen, open, emitted;
	int64_t cur;     /* the value now */
	int64_t last_v;  /* the last value written */
	uint64_t q_end;  /* the slot's end */
	struct cpt lo, hi, end;
};

struct pctx {
	const struct log *L;
	FILE *o;
	uint64_t base; /* start_mono - kt_export's base_mono */
	uint64_t last_ns;
	uint64_t slot;  /* ns per slot */
	struct ctrack c[C_N];
};

/* s as a JSON string's contents */
static void json_str(FILE *o, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(o, "\\%c", c);
		else if (c < 0x20)
			fprintf(o, "\\u%04x", c);
		else
			fputc(c, o);
	}
}

static void ts(FILE *o, uint64_t ns)
{
	fprintf(o, "%" PRIu64 ".%03" PRIu64, ns / 1000, ns % 1000);
}

static void emit(struct pctx *p, unsigned k, const struct cpt *c)
{
	struct ctrack *t = &p->c[k];
	if (t->emitted && t->last_v == c->v)
		return;
	t->emitted = 1;
	t->last_v = c->v;
	fprintf(p->o, ",\n{\"ph\":\"C\",\"name\":\"%s\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"ts\":",
		counter_names[k], p->L->pid, c->tid);
	ts(p->o, c->ns);
	fprintf(p->o, ",\"args\":{\"bytes\":%" PRId64 "}}", c->v);
}

/* the slot's lowest and highest values in time order, then its last */
static void flush(struct pctx *p, unsigned k)
{
	struct ctrack *t = &p->c[k];
	if (!t->open)
		return;
	t->open = 0;
	const struct cpt *a = &t->lo, *b = &t->hi;
	if (b->ns < a->ns) {
		a = &t->hi;
		b = &t->lo;
	}
	emit(p, k, a);
	emit(p, k, b);
	emit(p, k, &t->end);
}

/* counter k is v after an event at ns */
static void counter(struct pctx *p, unsigned k, int64_t v, const struct ev *e, uint64_t ns)
{
	struct ctrack *t = &p->c[k];
	if (t->seen && t->cur == v)
		return;
	t->seen = 1;
	t->cur = v;
	if (t->open && ns >= t->q_end)
		flush(p, k);
	struct cpt c = {v, ns, e->tid};
	if (!t->open) {
		t->open = 1;
		t->q_end = ns - ns % p->slot + p->slot;
		t->lo = t->hi = c;
	}
	if (v < t->lo.v)
		t->lo = c;
	if (v > t->hi.v)
		t->hi = c;
	t->end = c;
}

static void syscall_event(struct pctx *p, const struct ev *e, uint64_t ns)
{
	char r[64];
	const char *name = kmm_trace_type_name(e->type);
	fprintf(p->o, ",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"%s\",\"cat\":\"syscall\",\"pid\":%" PRIu32
		      ",\"tid\":%" PRIu32 ",\"ts\":",
		name, p->L->pid, e->tid);
	ts(p->o, ns);
	kt_hresult(e->d, r, sizeof r);
	switch (e->type) {
	case KMM_TR_BRK:
		fprintf(p->o, ",\"args\":{\"old\":\"0x%" PRIx64 "\",\"asked\":\"0x%" PRIx64 "\",\"size\":%" PRId64
			      ",\"result\":\"%s\"}}",
			e->a, e->b, (int64_t)(e->b - e->a), r);
		break;
	case KMM_TR_MREMAP:
		fprintf(p->o, ",\"args\":{\"address\":\"0x%" PRIx64 "\",\"size\":%" PRIu64 ",\"new_size\":%" PRIu64
			      ",\"result\":\"%s\"}}",
			e->a, e->b, e->c, r);
		break;
	default:
		fprintf(p->o, ",\"args\":{\"address\":\"0x%" PRIx64 "\",\"size\":%" PRIu64 ",\"result\":\"%s\"}}", e->a,
			e->b, r);
	}
}

static void each_event(struct stats *s, const struct ev *e, void *ctx)
{
	struct pctx *p = ctx;
	uint64_t ns = p->base + e->time;
	if (ns < p->last_ns)
		ns = p->last_ns;
	p->last_ns = ns;
	if (e->type >= KMM_TR_BRK && e->type <= KMM_TR_MREMAP)
		syscall_event(p, e, ns);
	counter(p, C_LIVE, (int64_t)s->live, e, ns);
	counter(p, C_BRK, s->brk_seen ? (int64_t)(s->brk_cur - s->brk_first) : 0, e, ns);
	counter(p, C_MAPPED, s->mapped, e, ns);
	counter(p, C_VMALLOC, s->vm_live, e, ns);
	if (s->rss_samples) /* from the first rss event on */
		counter(p, C_RSS, (int64_t)s->rss, e, ns);
	if (s->layer_samples) { /* from the first complete layer sample on */
		const uint64_t *b = s->lay_bytes;
		counter(p, C_CACHES, (int64_t)(b[KMM_TL_TCACHE] + b[KMM_TL_FASTBINS]), e, ns);
		counter(p, C_BINS, (int64_t)(b[KMM_TL_UNSORTED] + b[KMM_TL_SMALLBINS] + b[KMM_TL_LARGEBINS]), e, ns);
		counter(p, C_TOP, (int64_t)b[KMM_TL_TOP], e, ns);
		counter(p, C_SLAB_FREE, (int64_t)b[KMM_TL_SLAB_FREE], e, ns);
		counter(p, C_BUDDY_RES, (int64_t)b[KMM_TL_BUDDY_RESIDENT], e, ns);
		counter(p, C_LAZY, (int64_t)b[KMM_TL_VMALLOC_LAZY], e, ns);
	}
}

int kt_export_perfetto(struct log *L, const struct kt_export *xo, FILE *o)
{
	if (xo->idx == 0)
		fprintf(o, "{\"traceEvents\":[\n");
	struct pctx p = {.L = L, .o = o};
	p.base = L->start_mono > xo->base_mono ? L->start_mono - xo->base_mono : 0;
	p.slot = (L->tmax > L->tmin ? L->tmax - L->tmin : 0) / SLOTS;
	if (!p.slot)
		p.slot = 1;
	fprintf(o, "%s{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32
		   ",\"ts\":0,\"args\":{\"name\":\"",
		xo->idx ? ",\n" : "", L->pid, L->pid);
	json_str(o, kt_prog_name(L));
	fprintf(o, " (pid %" PRIu32 ")\"}}", L->pid);
	struct stats *s = kt_xcalloc(1, sizeof *s);
	s->each = each_event;
	s->each_ctx = &p;
	kt_analyze(L, s);
	for (unsigned k = 0; k < C_N; k++)
		flush(&p, k);
	kt_stats_free(s);
	if (xo->idx + 1 == xo->nlogs)
		fprintf(o, "\n],\"displayTimeUnit\":\"ms\"}\n");
	return 0;
}

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
 *   - Counter events ("ph":"C"), one per change, after the event that made
 *     it: "live heap bytes" (the requested bytes of the live blocks, as the
 *     summary counts them), "break bytes" (the break's growth over the first
 *     brk event's old break), "mapped bytes" (mapped less unmapped by kmm's
 *     mmap, munmap, mremap), "vmalloc bytes" (kmm's live vmalloc areas, with
 *     guard pages); their first value at the log's first event.
 *     The log has no resident set size (RSS) field: no RSS track.
 *   - Instant events ("ph":"i", thread scope) for each system call the log
 *     recorded (brk, mmap, munmap, mprotect, madvise, mremap): name the call,
 *     args its address, size and result (as the summary counts them: failed
 *     ones too).
 *   - Memory: the live-block table (kt_analyze); nothing per event.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

enum { C_LIVE, C_BRK, C_MAPPED, C_VMALLOC, C_N };
static const char *const counter_names[C_N] = {"live heap bytes", "break bytes", "mapped bytes", "vmalloc bytes"};

struct pctx {
	const struct log *L;
	FILE *o;
	uint64_t base; /* start_mono - kt_export's base_mono */
	uint64_t last_ns;
	int64_t last[C_N];
	int have[C_N];
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

static void counter(struct pctx *p, unsigned k, int64_t v, const struct ev *e, uint64_t ns)
{
	if (p->have[k] && p->last[k] == v)
		return;
	p->have[k] = 1;
	p->last[k] = v;
	fprintf(p->o, ",\n{\"ph\":\"C\",\"name\":\"%s\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"ts\":", counter_names[k],
		p->L->pid, e->tid);
	ts(p->o, ns);
	fprintf(p->o, ",\"args\":{\"bytes\":%" PRId64 "}}", v);
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
}

int kt_export_perfetto(struct log *L, const struct kt_export *xo, FILE *o)
{
	if (xo->idx == 0)
		fprintf(o, "{\"traceEvents\":[\n");
	struct pctx p = {.L = L, .o = o};
	p.base = L->start_mono > xo->base_mono ? L->start_mono - xo->base_mono : 0;
	fprintf(o, "%s{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32
		   ",\"ts\":0,\"args\":{\"name\":\"",
		xo->idx ? ",\n" : "", L->pid, L->pid);
	json_str(o, kt_prog_name(L));
	fprintf(o, " (pid %" PRIu32 ")\"}}", L->pid);
	struct stats *s = kt_xcalloc(1, sizeof *s);
	s->each = each_event;
	s->each_ctx = &p;
	kt_analyze(L, s);
	kt_stats_free(s);
	if (xo->idx + 1 == xo->nlogs)
		fprintf(o, "\n],\"displayTimeUnit\":\"ms\"}\n");
	return 0;
}

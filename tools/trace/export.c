/*
 * export.c — kmm-trace export: the log in other tools' formats.
 *
 *   folded   one line per call stack, "root;...;leaf VALUE", the input of
 *            flamegraph.pl, speedscope and inferno: the allocations of the
 *            log (or, with --live, the blocks live at its end), weighed by
 *            bytes (or, with --count, by calls)
 *   massif   massif.c
 *   perfetto perfetto.c
 *   pprof    pprof_out.c
 *
 * A stack is the event's backtrace (KMM_TRACE_BACKTRACE), outermost frame
 * first, or only its caller when the log has no backtraces; the root is
 * the program's name.  A frame is its function's name (the offset left
 * out, so that the calls of one function add up), or OBJECT+0xOFF where no
 * symbol holds the address, or the address.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

/* the bytes and calls of a distinct stack (by kt_stackid) */
struct xsum { uint64_t value, count; };

/* events with the same caller and backtrace compare equal */
int kt_same_stack(const uint8_t *a, const uint8_t *b)
{
	unsigned na = rec_nframes(a);
	return rec_caller(a) == rec_caller(b) && na == rec_nframes(b) &&
	       !memcmp(rec_frames(a), rec_frames(b), KMM_TRACE_FRAME_SIZE * (size_t)na);
}

uint64_t kt_stack_hash(const uint8_t *r)
{
	uint64_t h = hash64(rec_caller(r) + rec_nframes(r));
	for (unsigned i = 0; i < rec_nframes(r); i++)
		h = hash64(h ^ rd64(rec_frames(r) + KMM_TRACE_FRAME_SIZE * (size_t)i));
	return h;
}

static void xadd(struct kt_stackids *S, struct xsum **v, size_t *cap, const uint8_t *rec, uint64_t value)
{
	struct xsum *x = kt_stack_slot(S, rec, (void **)v, cap, sizeof **v);
	x->value += value;
	x->count++;
}

/* the frame name of address a into buf: the description's first word, its
 * +0xOFF cut when the description names a function (has more words) */
static void frame_name(uint64_t a, char *buf, size_t n)
{
	const char *d = kt_sym_desc(a);
	if (!d[0]) {
		snprintf(buf, n, "0x%" PRIx64, a);
		return;
	}
	size_t len = strcspn(d, " ");
	if (len >= n)
		len = n - 1;
	memcpy(buf, d, len);
	buf[len] = '\0';
	char *plus = strstr(buf, "+0x");
	if (plus && d[len] == ' ')
		*plus = '\0';
	for (char *p = buf; *p; p++)
		if (*p == ';')
			*p = ':';
}

static int cmp_line(const void *x, const void *y)
{
	return strcmp(((const struct kt_stack *)x)->stack, ((const struct kt_stack *)y)->stack);
}

size_t kt_stacks(struct log *L, int live, struct kt_stack **out)
{
	struct kt_stackids S = {0};
	struct xsum *sum = NULL;
	size_t cap = 0;
	if (live) {
		struct stats *s = kt_xcalloc(1, sizeof *s);
		kt_analyze(L, s);
		for (size_t i = 0; i < s->ltcap; i++)
			if (s->lt[i].ptr)
				xadd(&S, &sum, &cap, s->lt[i].rec, s->lt[i].size);
		free(s->lt);
		free(s->st);
		free(s);
	} else {
		struct ev e;
		FOR_EACH_EVENT_IN_FILE(L, e)
		{
			int alloc = e.type == KMM_TR_MALLOC || e.type == KMM_TR_CALLOC || e.type == KMM_TR_MEMALIGN ||
				    e.type == KMM_TR_REALLOC;
			if (alloc && e.a)
				xadd(&S, &sum, &cap, e.rec, e.b);
		}
	}
	/* the addresses of each distinct stack wanted */
	size_t n = S.n;
	for (size_t i = 0; i < n; i++) {
		struct ev e;
		ev_decode(S.rec[i], 0, &e);
		kt_sym_want(e.d);
		for (unsigned k = 0; k < e.nframes; k++)
			kt_sym_want(ev_frame(&e, k));
	}
	kt_sym_resolve();

	/* a line per distinct stack of addresses, then merged by text */
	struct kt_stack *ln = NULL;
	size_t nl = 0, capl = 0;
	const char *prog = kt_prog_name(L);
	const char *slash = strrchr(prog, '/');
	for (size_t i = 0; i < n; i++) {
		struct ev e;
		ev_decode(S.rec[i], 0, &e);
		size_t sz = 256 + 256 * (size_t)(e.nframes + 1), k = 0;
		char *buf = kt_xcalloc(1, sz), name[256];
		k += (size_t)snprintf(buf, sz, "%s", slash ? slash + 1 : prog);
		if (e.nframes)
			for (unsigned f = e.nframes; f-- > 0;) {
				frame_name(ev_frame(&e, f), name, sizeof name);
				k += (size_t)snprintf(buf + k, sz - k, ";%s", name);
			}
		else {
			frame_name(e.d, name, sizeof name);
			k += (size_t)snprintf(buf + k, sz - k, ";%s", name);
		}
		GROW(ln, nl, capl);
		ln[nl].stack = buf;
		ln[nl].bytes = sum[i].value;
		ln[nl++].count = sum[i].count;
	}
	free(sum);
	kt_stackids_free(&S);
	if (nl)
		qsort(ln, nl, sizeof *ln, cmp_line);
	size_t m = 0;
	for (size_t i = 0; i < nl; i++) {
		if (m && !strcmp(ln[m - 1].stack, ln[i].stack)) {
			ln[m - 1].bytes += ln[i].bytes;
			ln[m - 1].count += ln[i].count;
			free(ln[i].stack);
		} else
			ln[m++] = ln[i];
	}
	*out = ln;
	return m;
}

void kt_stacks_free(struct kt_stack *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].stack);
	free(v);
}

int kt_cmd_export(struct log *L, const struct kt_export *xo, FILE *o)
{
	if (!strcmp(xo->format, "massif"))
		return kt_export_massif(L, o);
	if (!strcmp(xo->format, "perfetto"))
		return kt_export_perfetto(L, xo, o);
	if (!strcmp(xo->format, "pprof"))
		return kt_export_pprof(L, o);
	if (strcmp(xo->format, "folded") != 0)
		kt_fatal("export: unknown format '%s' (folded, massif, perfetto, pprof)", xo->format);
	struct kt_stack *v;
	size_t n = kt_stacks(L, xo->live, &v);
	for (size_t i = 0; i < n; i++)
		fprintf(o, "%s %" PRIu64 "\n", v[i].stack, xo->count ? v[i].count : v[i].bytes);
	kt_stacks_free(v, n);
	return 0;
}

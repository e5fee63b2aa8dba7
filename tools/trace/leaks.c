/*
 * leaks.c — kmm-trace leaks: the blocks live at the end of the log, grouped
 * by allocation site and backtrace, largest first.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

static int cmp_leak(const void *x, const void *y)
{
	const struct lent *a = x, *b = y;
	uint64_t ca = rec_caller(a->rec), cb = rec_caller(b->rec);
	if (ca != cb)
		return ca < cb ? -1 : 1;
	unsigned na = rec_nframes(a->rec), nb = rec_nframes(b->rec);
	if (na != nb)
		return na < nb ? -1 : 1;
	int c = memcmp(rec_frames(a->rec), rec_frames(b->rec), KMM_TRACE_FRAME_SIZE * (size_t)na);
	if (c)
		return c;
	uint64_t sa = rec_seq(a->rec), sb = rec_seq(b->rec);
	return sa < sb ? -1 : sa > sb;
}

static int same_site(const struct lent *a, const struct lent *b)
{
	unsigned na = rec_nframes(a->rec);
	return rec_caller(a->rec) == rec_caller(b->rec) && na == rec_nframes(b->rec) &&
	       !memcmp(rec_frames(a->rec), rec_frames(b->rec), KMM_TRACE_FRAME_SIZE * (size_t)na);
}

struct lgroup { size_t first, n; uint64_t bytes; };

static const struct lent *g_leaks;

static int cmp_group(const void *x, const void *y)
{
	const struct lgroup *a = x, *b = y;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->n != b->n)
		return a->n > b->n ? -1 : 1;
	return cmp_leak(&g_leaks[a->first], &g_leaks[b->first]);
}

int kt_cmd_leaks(struct log *L, int all)
{
	struct stats *s = kt_xcalloc(1, sizeof *s);
	kt_analyze(L, s);
	FILE *o = stdout;
	struct lent *v = kt_xcalloc(s->ltn, sizeof *v);
	size_t n = 0;
	for (size_t i = 0; i < s->ltcap; i++)
		if (s->lt[i].ptr)
			v[n++] = s->lt[i];
	qsort(v, n, sizeof *v, cmp_leak);
	struct lgroup *g = NULL;
	size_t ng = 0, capg = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		uint64_t bytes = 0;
		while (j < n && same_site(&v[i], &v[j]))
			bytes += v[j++].size;
		GROW(g, ng, capg);
		g[ng].first = i;
		g[ng].n = j - i;
		g[ng].bytes = bytes;
		ng++;
		i = j;
	}
	g_leaks = v;
	if (ng)
		qsort(g, ng, sizeof *g, cmp_group);
	for (size_t i = 0; i < ng; i++) {
		struct ev e;
		ev_decode(v[g[i].first].rec, 0, &e);
		kt_sym_want(e.d);
		for (unsigned k = 0; k < e.nframes; k++)
			kt_sym_want(ev_frame(&e, k));
	}
	kt_sym_resolve();

	char b1[64], b2[64];
	if (!n)
		fprintf(o, "kmm-trace leaks: %s: no leaks: every block allocated in the log was freed\n", L->path);
	else
		fprintf(o, "kmm-trace leaks: %s: %zu block%s, %" PRIu64 " bytes (%s) never freed, from %zu site%s\n", L->path,
			n, n == 1 ? "" : "s", s->live, kt_hbytes((double)s->live, b1, sizeof b1), ng, ng == 1 ? "" : "s");
	if (kt_log_execd(L)) {
		char *p = kt_exec_path(L);
		fprintf(o, "(the process exec'd %s, which replaced its memory: these are the blocks live at the exec, "
			   "less those freed in events lost at the exec; the new program's log is %s)\n",
			L->exec_exe && L->exec_exe[0] ? L->exec_exe : "?", p);
		free(p);
	} else if (kt_log_cut(L))
		fprintf(o, "(the log was cut short: blocks freed in the events it lost show here as leaks)\n");
	for (size_t i = 0; i < ng; i++) {
		struct ev e;
		ev_decode(v[g[i].first].rec, 0, &e);
		const char *d = kt_sym_desc(e.d);
		fprintf(o, "\n%" PRIu64 " bytes in %zu block%s allocated from 0x%" PRIx64 "%s%s\n", g[i].bytes, g[i].n,
			g[i].n == 1 ? "" : "s", e.d, d[0] ? " " : "", d);
		size_t show = all ? g[i].n : g[i].n < 5 ? g[i].n : 5;
		for (size_t k = 0; k < show; k++) {
			const struct lent *x = &v[g[i].first + k];
			fprintf(o, "    0x%-14" PRIx64 " %10" PRIu64 " bytes  %-8s  seq %-8" PRIu64 "  +%ss  tid %" PRIu32 "\n",
				x->ptr, x->size, kt_op_name(rec_type(x->rec)), rec_seq(x->rec), kt_hsecs(rec_time(x->rec), b2, sizeof b2),
				x->tid);
		}
		if (show < g[i].n)
			fprintf(o, "    ... and %zu more (--all lists them)\n", g[i].n - show);
		if (e.nframes) {
			fprintf(o, "    backtrace:\n");
			kt_print_frames(o, &e, "      ");
		}
	}
	free(g);
	free(v);
	return 0;
}

/*
 * diff.c — kmm-trace diff A B: what grew from one run to another, by call
 * stack, the way `pprof -base A B` shows it: the bytes and calls of each
 * stack in B less those in A, the largest growth first.  Stacks are
 * compared as text (function names, export.c's kt_stacks), since the
 * addresses of two runs differ (ASLR).
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

struct drow {
	const char *stack;
	uint64_t abytes, bbytes, acount, bcount;
	int64_t dbytes, dcount;
};

static int cmp_drow(const void *x, const void *y)
{
	const struct drow *a = x, *b = y;
	if (a->dbytes != b->dbytes)
		return a->dbytes > b->dbytes ? -1 : 1;
	if (a->dcount != b->dcount)
		return a->dcount > b->dcount ? -1 : 1;
	return strcmp(a->stack, b->stack);
}

static size_t stacks_of(const char *path, int live, int symbols, struct kt_stack **v, uint64_t *bytes, uint64_t *count)
{
	struct log L;
	kt_log_open(&L, path);
	kt_warn_cut(&L);
	kt_sym_init(&L, symbols, 1);
	size_t n = kt_stacks(&L, live, v);
	*bytes = *count = 0;
	for (size_t i = 0; i < n; i++) {
		*bytes += (*v)[i].bytes;
		*count += (*v)[i].count;
	}
	kt_log_close(&L);
	return n;
}

static const char *signed_bytes(int64_t d, char *buf, size_t n)
{
	char h[48];
	kt_hbytes((double)(d < 0 ? -d : d), h, sizeof h);
	snprintf(buf, n, "%c%s", d < 0 ? '-' : '+', h);
	return buf;
}

int kt_cmd_diff(const char *a, const char *b, int live, unsigned top, int symbols)
{
	struct kt_stack *va, *vb;
	uint64_t ab, ac, bb, bc;
	size_t na = stacks_of(a, live, symbols, &va, &ab, &ac);
	size_t nb = stacks_of(b, live, symbols, &vb, &bb, &bc);

	/* both lists are sorted by their text: one merge */
	struct drow *r = kt_xcalloc(na + nb + 1, sizeof *r);
	size_t n = 0, i = 0, j = 0;
	while (i < na || j < nb) {
		int c = i >= na ? 1 : j >= nb ? -1 : strcmp(va[i].stack, vb[j].stack);
		struct drow *d = &r[n++];
		if (c <= 0) {
			d->stack = va[i].stack;
			d->abytes = va[i].bytes;
			d->acount = va[i].count;
			i++;
		}
		if (c >= 0) {
			d->stack = vb[j].stack;
			d->bbytes = vb[j].bytes;
			d->bcount = vb[j].count;
			j++;
		}
		d->dbytes = (int64_t)d->bbytes - (int64_t)d->abytes;
		d->dcount = (int64_t)d->bcount - (int64_t)d->acount;
	}
	if (n)
		qsort(r, n, sizeof *r, cmp_drow);

	FILE *o = stdout;
	char h1[64], h2[64];
	const char *what = live ? "blocks live at the end" : "allocations";
	fprintf(o, "kmm-trace diff: %s -> %s (%s, by call stack)\n", a, b, what);
	fprintf(o, "total: %s (%" PRIu64 " -> %" PRIu64 " bytes), %+" PRId64 " calls (%" PRIu64 " -> %" PRIu64 ")\n",
		signed_bytes((int64_t)bb - (int64_t)ab, h1, sizeof h1), ab, bb, (int64_t)bc - (int64_t)ac, ac, bc);
	size_t changed = 0;
	for (size_t k = 0; k < n; k++)
		changed += r[k].dbytes != 0 || r[k].dcount != 0;
	fprintf(o, "%zu stack%s in all, %zu changed; ", n, n == 1 ? "" : "s", changed);
	if (top < changed)
		fprintf(o, "at most %u grown and %u shrunk (--top N), the largest first:\n\n", top, top);
	else
		fprintf(o, "all of them, the largest growth first, then what shrank:\n\n");
	fprintf(o, "%14s %10s %14s %14s  %s\n", "delta bytes", "delta calls", "bytes in A", "bytes in B", "stack");
	/* the top growth and the top shrinkage */
	size_t shown = 0;
	for (size_t k = 0; k < n && shown < top; k++)
		if (r[k].dbytes > 0 || (r[k].dbytes == 0 && r[k].dcount > 0)) {
			fprintf(o, "%14s %+10" PRId64 " %14" PRIu64 " %14" PRIu64 "  %s\n",
				signed_bytes(r[k].dbytes, h2, sizeof h2), r[k].dcount, r[k].abytes, r[k].bbytes, r[k].stack);
			shown++;
		}
	size_t shrunk = 0;
	for (size_t k = n; k-- > 0 && shrunk < top;)
		if (r[k].dbytes < 0 || (r[k].dbytes == 0 && r[k].dcount < 0)) {
			if (!shrunk)
				fputc('\n', o);
			fprintf(o, "%14s %+10" PRId64 " %14" PRIu64 " %14" PRIu64 "  %s\n",
				signed_bytes(r[k].dbytes, h2, sizeof h2), r[k].dcount, r[k].abytes, r[k].bbytes, r[k].stack);
			shrunk++;
		}
	free(r);
	kt_stacks_free(va, na);
	kt_stacks_free(vb, nb);
	return 0;
}

/*
 * summary.c — kmm-trace summary: the statistics of the analysis and the top
 * allocation sites.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

#include <time.h>

static int cmp_site_bytes(const void *x, const void *y)
{
	const struct site *a = x, *b = y;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->calls != b->calls)
		return a->calls > b->calls ? -1 : 1;
	return a->caller < b->caller ? -1 : a->caller > b->caller;
}

static void print_log_status(FILE *o, const struct log *L)
{
	if (L->have_end) {
		fprintf(o, "log            complete: end block after %" PRIu64 " events (last seq %" PRIu64 ")", L->end_written,
			L->end_lastseq);
		if (L->after_end)
			fprintf(o, ", %" PRIu64 " event%s after it", L->after_end, L->after_end == 1 ? "" : "s");
		fputc('\n', o);
	} else if (kt_log_execd(L)) {
		char *p = kt_exec_path(L);
		fprintf(o, "log            exec'd %s: continued in %s (no end block: the events the old image had "
			   "buffered at the exec, up to one buffer per thread, are missing)\n",
			L->exec_exe && L->exec_exe[0] ? L->exec_exe : "?", p);
		free(p);
	} else
		fprintf(o, "log            CUT SHORT: no end block (the process crashed, was killed or called _exit); "
			   "up to one buffer per thread may be missing\n");
	if (L->bad)
		fprintf(o, "tail           CUT SHORT: stopped at offset %" PRIu64 " of %zu: %s\n", L->bad_off, L->size,
			L->bad_why);
	if (L->unknown_kinds)
		fprintf(o, "unknown        %u block%s of unknown kinds skipped\n", L->unknown_kinds,
			L->unknown_kinds == 1 ? "" : "s");
	if (L->unordered)
		fprintf(o, "order          %" PRIu64 " event block%s with frees or reallocs after the events made inside them (merged in order)\n",
			L->unordered, L->unordered == 1 ? "" : "s");
}

static void print_header(FILE *o, const struct log *L, const char *what)
{
	char b1[64], b2[64];
	fprintf(o, "kmm-trace %s: %s\n", what, L->path);
	fprintf(o, "program        %s (pid %" PRIu32, L->exe ? L->exe : "?", L->pid);
	if (L->ppid)
		fprintf(o, ", forked from %" PRIu32, L->ppid);
	fprintf(o, ")\n");
	if (L->cmdline)
		fprintf(o, "command line   %s\n", L->cmdline);
	time_t t = (time_t)(L->start_real / 1000000000u);
	struct tm tm;
	if (L->start_real && localtime_r(&t, &tm) && strftime(b1, sizeof b1, "%Y-%m-%d %H:%M:%S %Z", &tm))
		fprintf(o, "started        %s\n", b1);
	(void)b2;
}

/* the table of calls per operation */
static void put_ops(FILE *o, const struct stats *s)
{
	static const unsigned order[] = {KMM_TR_MALLOC, KMM_TR_CALLOC, KMM_TR_REALLOC, KMM_TR_MEMALIGN, KMM_TR_FREE};
	fprintf(o, "operation           calls     failed            bytes\n");
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		const struct opstat *p = &s->op[order[i]];
		fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 " %16" PRIu64 "%s\n", kt_op_name(order[i]), p->calls, p->failed,
			p->bytes, order[i] == KMM_TR_FREE ? "  (usable size freed)" : "");
	}
}

int kt_cmd_summary(struct log *L, unsigned top)
{
	struct stats *s = kt_xcalloc(1, sizeof *s);
	kt_analyze(L, s);
	FILE *o = stdout;
	char b1[64], b2[64], b3[64];

	print_header(o, L, "summary");
	fprintf(o, "duration       %s s, %" PRIu64 " events", kt_hsecs(s->tlast, b1, sizeof b1), s->nevents);
	if (s->nevents)
		fprintf(o, " (seq %" PRIu64 "-%" PRIu64 ")", L->seq_min, L->seq_max);
	fputc('\n', o);
	print_log_status(o, L);
	fprintf(o, "threads        %zu:", L->ntids);
	for (size_t i = 0; i < L->ntids && i < 16; i++)
		fprintf(o, " %" PRIu32, L->tids[i]);
	if (L->ntids > 16)
		fprintf(o, " ...");
	fprintf(o, " (thread start %" PRIu64 ", thread exit %" PRIu64 ", fork %" PRIu64 ")\n", s->thr_start, s->thr_exit,
		s->forks);
	fprintf(o, "backtraces     %s", L->btdepth ? "" : "none");
	if (L->btdepth)
		fprintf(o, "depth %" PRIu32, L->btdepth);
	fputc('\n', o);
	if (s->unknown_types)
		fprintf(o, "unknown        %" PRIu64 " events of unknown types\n", s->unknown_types);

	fputc('\n', o);
	put_ops(o, s);

	fprintf(o, "\nserved by           calls            bytes\n");
	for (unsigned p = 0; p < 256; p++)
		if (s->apath[p].calls)
			fprintf(o, "  %-15s %8" PRIu64 " %16" PRIu64 "\n", kt_path_str(p, b1, sizeof b1), s->apath[p].calls,
				s->apath[p].bytes);
	fprintf(o, "\nfreed to            calls            bytes\n");
	for (unsigned p = 0; p < 256; p++)
		if (s->fpath[p].calls)
			fprintf(o, "  %-15s %8" PRIu64 " %16" PRIu64 "\n", kt_path_str(p, b1, sizeof b1), s->fpath[p].calls,
				s->fpath[p].bytes);

	fprintf(o, "\nsize (up to)   allocations\n");
	for (unsigned k = 0; k < 64; k++)
		if (s->sclass[k]) {
			unsigned e2 = k + 4;
			const char *u = e2 >= 40 ? "T" : e2 >= 30 ? "G" : e2 >= 20 ? "M" : e2 >= 10 ? "K" : "";
			unsigned sh = e2 >= 40 ? 40 : e2 >= 30 ? 30 : e2 >= 20 ? 20 : e2 >= 10 ? 10 : 0;
			snprintf(b1, sizeof b1, "<=%" PRIu64 "%s", (uint64_t)1 << (e2 - sh), u);
			fprintf(o, "  %-10s %12" PRIu64 "\n", b1, s->sclass[k]);
		}

	fprintf(o, "\nlive heap (requested bytes of the program's blocks)\n");
	fprintf(o, "  peak     %14" PRIu64 " bytes  (%s in %" PRIu64 " blocks)  at +%ss  seq %" PRIu64 "\n", s->peak,
		kt_hbytes((double)s->peak, b1, sizeof b1), s->peak_blocks, kt_hsecs(s->peak_time, b2, sizeof b2), s->peak_seq);
	fprintf(o, "  at end   %14" PRIu64 " bytes  (%s in %" PRIu64 " blocks)\n", s->live,
		kt_hbytes((double)s->live, b1, sizeof b1), s->live_blocks);
	if (s->unknown_free || s->unknown_realloc || s->dup_alloc)
		fprintf(o, "  not in this log: %" PRIu64 " frees and %" PRIu64 " reallocs of blocks allocated before it, %" PRIu64
			   " blocks allocated twice\n",
			s->unknown_free, s->unknown_realloc, s->dup_alloc);

	if (s->rss_samples) {
		fprintf(o, "\nresident memory (%" PRIu64 " samples of /proc/self/statm)\n", s->rss_samples);
		fprintf(o, "  peak     %14" PRIu64 " bytes  (%s)  at +%ss\n", s->rss_peak,
			kt_hbytes((double)s->rss_peak, b1, sizeof b1), kt_hsecs(s->rss_peak_time, b2, sizeof b2));
		fprintf(o, "  at end   %14" PRIu64 " bytes  (%s; %s of it shared or file-backed)\n", s->rss,
			kt_hbytes((double)s->rss, b1, sizeof b1), kt_hbytes((double)s->rss_shared, b2, sizeof b2));
	}

	if (s->layer_samples) {
		fprintf(o, "\nfree memory by layer (the last of %" PRIu64 " layer samples, at +%ss)\n", s->layer_samples,
			kt_hsecs(s->lay_time, b2, sizeof b2));
		for (unsigned k = 1; k < KMM_TL_NR; k++)
			fprintf(o, "  %-20s %14" PRIu64 " bytes  (%s) in %" PRIu64 " %s\n", kmm_trace_layer_name(k),
				s->lay_bytes[k], kt_hbytes((double)s->lay_bytes[k], b1, sizeof b1), s->lay_blocks[k],
				kmm_trace_layer_unit(k));
	}

	fprintf(o, "\nsystem call         calls     failed\n");
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  grew %" PRIu64 ", shrank %" PRIu64, "brk", s->sc[SC_BRK].calls,
		s->sc[SC_BRK].failed, s->brk_grew, s->brk_shrank);
	if (s->brk_seen)
		fprintf(o, ", break at end: start+%" PRId64 " (%s)", (int64_t)(s->brk_cur - s->brk_first),
			kt_hbytes((double)(int64_t)(s->brk_cur - s->brk_first), b1, sizeof b1));
	fputc('\n', o);
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  %" PRIu64 " bytes mapped (%s)\n", "mmap", s->sc[SC_MMAP].calls,
		s->sc[SC_MMAP].failed, s->sc[SC_MMAP].bytes, kt_hbytes((double)s->sc[SC_MMAP].bytes, b1, sizeof b1));
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  %" PRIu64 " bytes unmapped (%s)\n", "munmap", s->sc[SC_MUNMAP].calls,
		s->sc[SC_MUNMAP].failed, s->sc[SC_MUNMAP].bytes, kt_hbytes((double)s->sc[SC_MUNMAP].bytes, b1, sizeof b1));
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  grew %" PRIu64 ", shrank %" PRIu64 "\n", "mremap",
		s->sc[SC_MREMAP].calls, s->sc[SC_MREMAP].failed, s->mremap_grew, s->mremap_shrank);
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  %" PRIu64 " bytes\n", "mprotect", s->sc[SC_MPROTECT].calls,
		s->sc[SC_MPROTECT].failed, s->sc[SC_MPROTECT].bytes);
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  %" PRIu64 " bytes\n", "madvise", s->sc[SC_MADVISE].calls,
		s->sc[SC_MADVISE].failed, s->sc[SC_MADVISE].bytes);
	fprintf(o, "  mapped at end: %" PRId64 " bytes (%s), peak %" PRIu64 " bytes (%s); address space, PROT_NONE "
		   "reservations included\n", s->mapped,
		kt_hbytes((double)s->mapped, b1, sizeof b1), s->mapped_peak, kt_hbytes((double)s->mapped_peak, b2, sizeof b2));
	int64_t committed = 0;
	for (int k = 0; k < 8; k++)
		committed += s->reg_bytes[k];
	if (s->reg_add)
		fprintf(o, "  committed at end: %" PRId64 " bytes (%s): kmm's regions, made readable and writable\n",
			committed, kt_hbytes((double)committed, b1, sizeof b1));

	fprintf(o, "\nkmm's own memory\n");
	fprintf(o, "  slab       allocs %" PRIu64 " (%" PRIu64 " bytes), frees %" PRIu64 " (%" PRIu64
		   " bytes), live at end %" PRId64 " bytes\n",
		s->slab_allocs, s->slab_alloc_bytes, s->slab_frees, s->slab_free_bytes, s->slab_live);
	fprintf(o, "  vmalloc    areas %" PRIu64 " (new %" PRIu64 ", reused %" PRIu64 "; %" PRIu64 " bytes), vfrees %" PRIu64
		   " (%" PRIu64 " bytes), live at end %" PRId64 " bytes, peak %" PRIu64 " (%s)\n",
		s->vm_new + s->vm_reused, s->vm_new, s->vm_reused, s->vm_bytes, s->vm_frees, s->vm_free_bytes, s->vm_live,
		s->vm_peak, kt_hbytes((double)s->vm_peak, b1, sizeof b1));
	fprintf(o, "  regions    added %" PRIu64 ", updated %" PRIu64 ", deleted %" PRIu64 "; populate %" PRIu64
		   " (%" PRIu64 " pages resident)\n",
		s->reg_add, s->reg_upd, s->reg_del, s->populates, s->pop_pages);

	/* top sites */
	struct site *v = kt_xcalloc(s->stn, sizeof *v);
	size_t nv = 0;
	for (size_t i = 0; i < s->stcap; i++)
		if (s->st[i].used)
			v[nv++] = s->st[i];
	qsort(v, nv, sizeof *v, cmp_site_bytes);
	if (nv > top)
		nv = top;
	for (size_t i = 0; i < nv; i++)
		kt_sym_want(v[i].caller);
	kt_sym_resolve();
	fprintf(o, "\ntop %zu allocation site%s by bytes\n", nv, nv == 1 ? "" : "s");
	fprintf(o, "             bytes      calls  caller\n");
	for (size_t i = 0; i < nv; i++) {
		const char *d = kt_sym_desc(v[i].caller);
		fprintf(o, "  %16" PRIu64 " %10" PRIu64 "  0x%" PRIx64 "%s%s\n", v[i].bytes, v[i].calls, v[i].caller,
			d[0] ? " " : "", d);
	}
	free(v);
	(void)b3;
	return 0;
}
/* ---- a run: several logs (kmm-trace summary FILE... / --run FILE) ------------- */

/* one process's line */
struct prow {
	char *file, *prog, *status;
	uint32_t pid, ppid;
	uint64_t events, allocs, alloc_bytes, frees, peak, live, live_blocks;
	double secs;
};

/* a site of the run: its description in one program */
struct rsite {
	char *key; /* "DESC" (PROG) */
	uint64_t calls, bytes;
};

static int cmp_rsite(const void *x, const void *y)
{
	const struct rsite *a = x, *b = y;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return strcmp(a->key, b->key);
}

static void add_stats(struct stats *t, const struct stats *s)
{
	t->nevents += s->nevents;
	for (size_t i = 0; i <= KMM_TR_MEMALIGN; i++) {
		t->op[i].calls += s->op[i].calls;
		t->op[i].failed += s->op[i].failed;
		t->op[i].bytes += s->op[i].bytes;
	}
	for (size_t i = 0; i < SC_N; i++) {
		t->sc[i].calls += s->sc[i].calls;
		t->sc[i].failed += s->sc[i].failed;
		t->sc[i].bytes += s->sc[i].bytes;
	}
	t->brk_grew += s->brk_grew;
	t->brk_shrank += s->brk_shrank;
	t->mremap_grew += s->mremap_grew;
	t->mremap_shrank += s->mremap_shrank;
	t->unknown_free += s->unknown_free;
	t->unknown_realloc += s->unknown_realloc;
	t->peak += s->peak;
	t->live += s->live;
	t->live_blocks += s->live_blocks;
	t->slab_allocs += s->slab_allocs;
	t->slab_alloc_bytes += s->slab_alloc_bytes;
	t->vm_new += s->vm_new;
	t->vm_reused += s->vm_reused;
	t->vm_bytes += s->vm_bytes;
	t->thr_start += s->thr_start;
	t->forks += s->forks;
}

int kt_cmd_summary_run(char **paths, size_t n, unsigned top, int symbols)
{
	FILE *o = stdout;
	char b1[64], b2[64], st[8192];
	struct prow *rows = kt_xcalloc(n, sizeof *rows);
	struct stats *tot = kt_xcalloc(1, sizeof *tot);
	struct rsite *rs = NULL;
	size_t nrs = 0, caprs = 0;
	for (size_t i = 0; i < n; i++) {
		/* one log at a time: mapped, analysed, closed */
		struct log L;
		kt_log_open(&L, paths[i]);
		if (!kt_log_execd(&L) || L.bad)   /* the table says where an exec'd log goes on */
			kt_warn_cut(&L);
		struct stats *s = kt_xcalloc(1, sizeof *s);
		kt_analyze(&L, s);
		struct prow *r = &rows[i];
		const char *slash = strrchr(paths[i], '/');
		r->file = kt_xstrdup(slash ? slash + 1 : paths[i]);
		r->prog = kt_xstrdup(kt_prog_name(&L));
		r->status = kt_xstrdup(kt_log_status(&L, st, sizeof st));
		r->pid = L.pid;
		r->ppid = L.ppid;
		r->events = s->nevents;
		for (unsigned t = KMM_TR_MALLOC; t <= KMM_TR_MEMALIGN; t++)
			if (t != KMM_TR_FREE) {
				r->allocs += s->op[t].calls;
				r->alloc_bytes += s->op[t].bytes;
			}
		r->frees = s->op[KMM_TR_FREE].calls;
		r->peak = s->peak;
		r->live = s->live;
		r->live_blocks = s->live_blocks;
		r->secs = (double)s->tlast / 1e9;
		add_stats(tot, s);
		/* this log's top sites, by their description in its program */
		struct site *v = kt_xcalloc(s->stn + 1, sizeof *v);
		size_t nv = 0;
		for (size_t k = 0; k < s->stcap; k++)
			if (s->st[k].used)
				v[nv++] = s->st[k];
		qsort(v, nv, sizeof *v, cmp_site_bytes);
		if (nv > top)
			nv = top;
		kt_sym_init(&L, symbols, 1);
		for (size_t k = 0; k < nv; k++)
			kt_sym_want(v[k].caller);
		kt_sym_resolve();
		for (size_t k = 0; k < nv; k++) {
			const char *d = kt_sym_desc(v[k].caller);
			char *key = d[0] ? kt_xasprintf("%s (%s)", d, r->prog)
					 : kt_xasprintf("0x%" PRIx64 " (%s, pid %" PRIu32 ")", v[k].caller, r->prog, L.pid);
			size_t j = 0;
			while (j < nrs && strcmp(rs[j].key, key))
				j++;
			if (j == nrs) {
				GROW(rs, nrs, caprs);
				rs[nrs].key = key;
				rs[nrs].calls = rs[nrs].bytes = 0;
				nrs++;
			} else
				free(key);
			rs[j].calls += v[k].calls;
			rs[j].bytes += v[k].bytes;
		}
		free(v);
		free(s->lt);
		free(s->st);
		if (s->regs)
			free(s->regs->lt);
		free(s->regs);
		free(s);
		kt_log_close(&L);
	}

	fprintf(o, "kmm-trace summary: %zu logs, one per process image\n", n);
	fprintf(o, "\n  %-5s %-24s %7s %7s  %-14s %8s %10s %12s %10s %12s %12s  %s\n", "#", "file", "pid", "parent",
		"program", "events", "allocs", "alloc bytes", "frees", "peak live", "live at end", "log");
	for (size_t i = 0; i < n; i++) {
		const struct prow *r = &rows[i];
		char pp[16] = "-";
		if (r->ppid)
			snprintf(pp, sizeof pp, "%" PRIu32, r->ppid);
		fprintf(o, "  %-5zu %-24s %7" PRIu32 " %7s  %-14s %8" PRIu64 " %10" PRIu64 " %12" PRIu64 " %10" PRIu64
			   " %12" PRIu64 " %12" PRIu64 "  %s\n",
			i + 1, r->file, r->pid, pp, r->prog, r->events, r->allocs, r->alloc_bytes, r->frees, r->peak, r->live,
			r->status);
	}

	fprintf(o, "\ntotal of the %zu logs: %" PRIu64 " events\n", n, tot->nevents);
	put_ops(o, tot);
	fprintf(o, "live heap, the sum over the processes (not at one time)\n");
	fprintf(o, "  peaks    %14" PRIu64 " bytes  (%s)\n", tot->peak, kt_hbytes((double)tot->peak, b1, sizeof b1));
	fprintf(o, "  at end   %14" PRIu64 " bytes  (%s in %" PRIu64 " blocks)\n", tot->live,
		kt_hbytes((double)tot->live, b2, sizeof b2), tot->live_blocks);
	if (tot->unknown_free || tot->unknown_realloc)
		fprintf(o, "  not in these logs: %" PRIu64 " frees and %" PRIu64 " reallocs of blocks allocated before them\n",
			tot->unknown_free, tot->unknown_realloc);
	fprintf(o, "system call         calls     failed\n");
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  grew %" PRIu64 ", shrank %" PRIu64 "\n", "brk", tot->sc[SC_BRK].calls,
		tot->sc[SC_BRK].failed, tot->brk_grew, tot->brk_shrank);
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  %" PRIu64 " bytes mapped\n", "mmap", tot->sc[SC_MMAP].calls,
		tot->sc[SC_MMAP].failed, tot->sc[SC_MMAP].bytes);
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  %" PRIu64 " bytes unmapped\n", "munmap", tot->sc[SC_MUNMAP].calls,
		tot->sc[SC_MUNMAP].failed, tot->sc[SC_MUNMAP].bytes);
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  grew %" PRIu64 ", shrank %" PRIu64 "\n", "mremap",
		tot->sc[SC_MREMAP].calls, tot->sc[SC_MREMAP].failed, tot->mremap_grew, tot->mremap_shrank);
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "\n", "mprotect", tot->sc[SC_MPROTECT].calls, tot->sc[SC_MPROTECT].failed);
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "\n", "madvise", tot->sc[SC_MADVISE].calls, tot->sc[SC_MADVISE].failed);
	fprintf(o, "threads started %" PRIu64 ", forks %" PRIu64 "; kmm's slab objects %" PRIu64 ", vmalloc areas %" PRIu64 "\n",
		tot->thr_start, tot->forks, tot->slab_allocs, tot->vm_new + tot->vm_reused);

	qsort(rs, nrs, sizeof *rs, cmp_rsite);
	size_t show = nrs < top ? nrs : top;
	fprintf(o, "\ntop %zu allocation site%s by bytes, over the processes (each log's top %u, by name and program)\n",
		show, show == 1 ? "" : "s", top);
	fprintf(o, "             bytes      calls  site (program)\n");
	for (size_t i = 0; i < show; i++)
		fprintf(o, "  %16" PRIu64 " %10" PRIu64 "  %s\n", rs[i].bytes, rs[i].calls, rs[i].key);
	fprintf(o, "\n(one process in detail: kmm-trace summary FILE)\n");
	for (size_t i = 0; i < nrs; i++)
		free(rs[i].key);
	free(rs);
	for (size_t i = 0; i < n; i++) {
		free(rows[i].file);
		free(rows[i].prog);
		free(rows[i].status);
	}
	free(rows);
	free(tot);
	return 0;
}

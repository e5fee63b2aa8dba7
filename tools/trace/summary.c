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

	fprintf(o, "\noperation           calls     failed            bytes\n");
	static const unsigned order[] = {KMM_TR_MALLOC, KMM_TR_CALLOC, KMM_TR_REALLOC, KMM_TR_MEMALIGN, KMM_TR_FREE};
	for (size_t i = 0; i < 5; i++) {
		const struct opstat *p = &s->op[order[i]];
		fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 " %16" PRIu64 "%s\n", kt_op_name(order[i]), p->calls, p->failed,
			p->bytes, order[i] == KMM_TR_FREE ? "  (usable size freed)" : "");
	}

	fprintf(o, "\nserved by           calls            bytes\n");
	for (unsigned p = 0; p < 16; p++)
		if (s->apath[p].calls)
			fprintf(o, "  %-15s %8" PRIu64 " %16" PRIu64 "\n", kt_path_str(p, b1, sizeof b1), s->apath[p].calls,
				s->apath[p].bytes);
	fprintf(o, "\nfreed to            calls            bytes\n");
	for (unsigned p = 0; p < 16; p++)
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
	fprintf(o, "  mapped at end: %" PRId64 " bytes (%s), peak %" PRIu64 " bytes (%s)\n", s->mapped,
		kt_hbytes((double)s->mapped, b1, sizeof b1), s->mapped_peak, kt_hbytes((double)s->mapped_peak, b2, sizeof b2));

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

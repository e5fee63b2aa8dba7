/*
 * main.c — kmm-trace's command line: commands, options, --help, and the
 * exit status.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* export's formats, as the messages list them */
#define EXPORT_FORMATS "folded, massif, perfetto, pprof"

static int known_format(const char *f)
{
	static const char *const v[] = {"folded", "massif", "perfetto", "pprof"};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (!strcmp(f, v[i]))
			return 1;
	return 0;
}

static const char usage_text[] =
	"usage: kmm-trace COMMAND [OPTIONS] FILE...\n"
	"       kmm-trace COMMAND [OPTIONS] --run FILE\n"
	"Reads kmm's allocation trace log (KMM_TRACE=FILE; kmm(1), and trace.md in the\n"
	"installed docs, share/doc/kmm).\n"
	"Processes a traced program forks or execs write FILE.PID or FILE.PID.N:\n"
	"--run (-r) reads FILE and all of those beside it, in the order they\n"
	"started; several FILEs are read in turn, each followed by the log its\n"
	"process exec'd into (the log names it) when that is not listed.\n"
	"\n"
	"commands:\n"
	"  dump      every event, one line each, in sequence order\n"
	"  summary   counts and bytes per operation, path, size and system call;\n"
	"            peak live bytes; kmm's own memory; top allocation sites\n"
	"  leaks     blocks never freed, grouped by allocation site\n"
	"  plot      an SVG of live heap, break size, vmalloc, arena heaps and\n"
	"            committed bytes\n"
	"  mtrace    the log in glibc's mtrace(3) format, for mtrace(1)\n"
	"  export    the log in another tool's format (--format=folded: flame graphs;\n"
	"            massif: ms_print; perfetto: Perfetto UI; pprof: go tool pprof)\n"
	"  diff      what grew from one log to another, by call stack\n"
	"  at        the live blocks and the heap's layers at a moment (at WHEN FILE)\n"
	"\n"
	"options:\n"
	"  -r, --run      FILE and its FILE.PID, FILE.PID.N siblings: the whole run\n"
	"  --no-symbols   do not look addresses up (no addr2line)\n"
	"  -h, --help     this help; `kmm-trace COMMAND --help` for a command's\n"
	"\n"
	"Exit status: 0 (also for a log that was cut short: a warning says so),\n"
	"2 for bad usage or a file that is not a readable kmm trace log.\n";

struct cmdhelp { const char *name, *text; };
static const struct cmdhelp cmd_help[] = {
	{"dump", "usage: kmm-trace dump [--no-symbols] FILE... | --run FILE\n"
		 "One line per event, in global sequence order:\n"
		 "  #SEQ +SECONDSs tid TID EVENT\n"
		 "malloc-family calls with their result, serving path and caller\n"
		 "(symbolized), system calls, regions, slab and vmalloc events;\n"
		 "backtraces follow on indented lines.  Several logs: each in turn, after\n"
		 "a line `== FILE: pid PID (PROGRAM) ==`.\n"},
	{"summary", "usage: kmm-trace summary [--no-symbols] [--top N] FILE... | --run FILE\n"
		    "Counts and bytes per operation, serving path, where frees went, size\n"
		    "class; peak live bytes (requested sizes) with its time and sequence\n"
		    "number; system calls; kmm's slab, vmalloc and regions; the top N\n"
		    "allocation sites by bytes (10 by default); threads; whether the log\n"
		    "was cut short, or that the process exec'd and which log goes on.\n"
		    "Several logs (a run): a line per process (file, pid, parent, program,\n"
		    "events, allocations, bytes, frees, peak and final live bytes, how its\n"
		    "log ends), the totals of the operations and system calls, and the top\n"
		    "N sites over the processes, by name and program.\n"},
	{"leaks", "usage: kmm-trace leaks [--no-symbols] [--all] FILE... | --run FILE\n"
		  "The program's blocks still allocated at the end of the log, grouped by\n"
		  "allocation site (caller, and backtrace when recorded), largest first;\n"
		  "five example blocks per site, or all of them with --all.  Several\n"
		  "logs: each in turn.\n"},
	{"plot", "usage: kmm-trace plot [-o OUT.svg] FILE... | --run FILE\n"
		 "Writes an SVG (FILE.svg by default): from the first event to the last,\n"
		 "live heap bytes, the break's growth over its start, live vmalloc areas\n"
		 "and arena heaps; and the bytes kmm committed (its regions: heaps, arena\n"
		 "heaps, vmalloc areas; not its PROT_NONE reservations); at most ~2000\n"
		 "points per line.\n"
		 "Several logs: FILE.svg for each (-o only with one).\n"},
	{"export", "usage: kmm-trace export --format=folded [--live] [--count] [-o OUT] FILE... | --run FILE\n"
		   "       kmm-trace export --format=massif [-o OUT] FILE\n"
		   "       kmm-trace export --format=perfetto [-o OUT] FILE... | --run FILE\n"
		   "       kmm-trace export --format=pprof [-o OUT] FILE\n"
		   "The log in another tool's format, to standard output or OUT:\n"
		   "  folded   one line per call stack, `PROGRAM;outermost;...;caller VALUE`,\n"
		   "           for flamegraph.pl, speedscope or inferno: the allocations of the\n"
		   "           log weighed by bytes (--count: by calls), or with --live the\n"
		   "           blocks still allocated at its end.  The stack is the event's\n"
		   "           backtrace (KMM_TRACE_BACKTRACE=N when recording), else its\n"
		   "           caller; a frame is its function's name, OBJECT+0xOFF where no\n"
		   "           symbol holds the address, or the address.\n"
		   "           Several logs: their lines one after the other (each stack\n"
		   "           starts with its program's name; flame graph tools add\n"
		   "           identical stacks up).\n"
		   "  massif   valgrind massif's massif.out format, for ms_print and\n"
		   "           massif-visualizer: at most 50 snapshots of the live blocks'\n"
		   "           requested bytes over time (ms since the trace started), every\n"
		   "           10th detailed (the tree of the live blocks by call stack) and\n"
		   "           a detailed one at the peak of live bytes.  One log.\n"
		   "  perfetto Chrome trace-event JSON for Perfetto UI and chrome://tracing:\n"
		   "           a process per log, counter tracks (live heap bytes, break\n"
		   "           bytes, mapped bytes, vmalloc bytes, rss bytes: the log's rss\n"
		   "           samples; the free bytes of the heap's layers: the layer\n"
		   "           samples) and an instant event per system call.\n"
		   "  pprof    a gzipped profile.proto for go tool pprof (-symbolize=none):\n"
		   "           alloc_objects, alloc_space (every allocation), inuse_objects,\n"
		   "           inuse_space (live at the end; the default), a sample per call\n"
		   "           stack, functions and lines, a mapping per file.  One log.\n"},
	{"diff", "usage: kmm-trace diff [--live] [--top N] [--no-symbols] A B\n"
		 "What grew from trace A to trace B, by call stack (as `pprof -base A B`\n"
		 "shows it): the bytes and calls of each stack in B less those in A, the\n"
		 "largest growth first (the top N, 20 by default), then what shrank.\n"
		 "Stacks are compared by their functions' names (export --format=folded's\n"
		 "stacks), since two runs' addresses differ.  --live: the blocks live at\n"
		 "the end of each log instead of every allocation.\n"},
	{"at", "usage: kmm-trace at WHEN [--top N] [--no-symbols] FILE... | --run FILE\n"
	       "The heap at one moment: the events of the log applied in sequence order up\n"
	       "to WHEN, then the live blocks (bytes, count, peak so far), the heap's layers\n"
	       "as far as the log records them, kmm's memory then, and the top N allocation\n"
	       "sites of the live blocks (10 by default).  WHEN is\n"
	       "  TIME    since the trace started: 1.5s, 250ms, 40us, 1200ns (several logs:\n"
	       "          since the earliest of them started; the first event after it is\n"
	       "          not applied)\n"
	       "  #SEQ    after the event with sequence number SEQ (dump's #SEQ)\n"
	       "  peak    after the event of the peak of live bytes\n"
	       "  end     after the last event\n"
	       "Layers, from the events: blocks freed to the tcache, fastbins, the slab\n"
	       "front end's lists or a remote list and not handed out again since (their\n"
	       "usable sizes); RSS: the last rss sample before WHEN.  Then what no event\n"
	       "says (the bins, the top chunk, slab free slots, buddy free and free-resident\n"
	       "pages, the vmalloc lazy-free cache): the last layer sample before WHEN\n"
	       "(taken at most every 10 ms, at the start of a call), with the number of\n"
	       "events since; or the sample right after WHEN when no event lies between\n"
	       "(WHEN in an idle stretch: the heap as it was then); `none` before the first.\n"},
	{"mtrace", "usage: kmm-trace mtrace [--no-symbols] FILE > OUT\n"
		   "Converts the log to glibc's mtrace(3) text format: `mtrace OUT` (the\n"
		   "perl script of libc-dev-bin) then lists the memory not freed.  Frees and\n"
		   "reallocs of blocks the log never saw allocated (made before the trace\n"
		   "began) are left out, with their count on stderr: mtrace(1) would call\n"
		   "them errors.  One FILE: mtrace(1) reads one process's calls.\n"},
};

/* ---- the list of logs ------------------------------------------------------- */

struct flist {
	char **v;
	size_t n, cap;
};

static int flist_has(const struct flist *F, const char *p)
{
	for (size_t i = 0; i < F->n; i++)
		if (!strcmp(F->v[i], p))
			return 1;
	return 0;
}

static void flist_add(struct flist *F, const char *p)
{
	if (flist_has(F, p))
		return;
	GROW(F->v, F->n, F->cap);
	F->v[F->n++] = kt_xstrdup(p);
}

/* "PID" or "PID.N": a sibling's suffix */
static int is_pid_suffix(const char *s)
{
	size_t a = strspn(s, "0123456789");
	if (!a)
		return 0;
	if (!s[a])
		return 1;
	return s[a] == '.' && strspn(s + a + 1, "0123456789") > 0 && !s[a + 1 + strspn(s + a + 1, "0123456789")];
}

struct sib {
	char *path;
	uint64_t start, real;
};

/* a log's header: its start times (0 if it is not a log) */
static int read_starts(const char *path, uint64_t *mono, uint64_t *real)
{
	uint8_t h[HDR_SIZE];
	int ok = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, h, sizeof h) == (ssize_t)sizeof h && !memcmp(h, KMM_TRACE_MAGIC, KMM_TRACE_MAGIC_LEN)) {
			*mono = rd64(h + FH_AT(start_mono));
			*real = rd64(h + FH_AT(start_real));
			ok = 1;
		}
		close(fd);
	}
	return ok;
}

static int cmp_sib(const void *x, const void *y)
{
	const struct sib *a = x, *b = y;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return strcmp(a->path, b->path);
}

/* FILE's FILE.PID and FILE.PID.N beside it, in the order they started
 * (their headers' start times).  Every log of a run starts after FILE
 * (FILE is the first one taken, and kmm trace -o removes it, not the
 * others): older ones are left out, their number in *stale. */
static size_t siblings(const char *file, struct flist *F, size_t *stale)
{
	uint64_t fmono = 0, freal = 0;
	int have_file = read_starts(file, &fmono, &freal);
	*stale = 0;
	const char *slash = strrchr(file, '/');
	char *dir = slash ? kt_xstrndup(file, (size_t)(slash - file) + (slash == file)) : kt_xstrdup(".");
	const char *base = slash ? slash + 1 : file;
	size_t bl = strlen(base), found = 0;
	DIR *d = opendir(dir);
	if (!d) {
		free(dir);
		return 0;
	}
	struct sib *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, base, bl) || de->d_name[bl] != '.' || !is_pid_suffix(de->d_name + bl + 1))
			continue;
		char *p = slash ? kt_xasprintf("%.*s/%s", (int)(slash - file), file, de->d_name) : kt_xstrdup(de->d_name);
		uint64_t start = UINT64_MAX, real = UINT64_MAX;
		read_starts(p, &start, &real);
		/* wall-clock seconds: the monotonic clock restarts at boot */
		if (have_file && real / 1000000000u < freal / 1000000000u) {
			(*stale)++;
			free(p);
			continue;
		}
		GROW(v, n, cap);
		v[n].path = p;
		v[n].start = start;
		v[n].real = real;
		n++;
	}
	closedir(d);
	qsort(v, n, sizeof *v, cmp_sib);
	for (size_t i = 0; i < n; i++) {
		if (!flist_has(F, v[i].path)) {
			flist_add(F, v[i].path);
			found++;
		}
		free(v[i].path);
	}
	free(v);
	free(dir);
	return found;
}

/* the logs of F, and after each one that exec'd, the log it names (when
 * it is there and not listed yet): the paths read, one at a time */
static void follow_execs(struct flist *F)
{
	for (size_t i = 0; i < F->n; i++) {
		char *p = kt_log_exec_successor(F->v[i]);
		if (p && !flist_has(F, p) && access(p, R_OK) == 0) {
			GROW(F->v, F->n, F->cap);
			memmove(F->v + i + 2, F->v + i + 1, (F->n - i - 1) * sizeof *F->v);
			F->v[i + 1] = kt_xstrdup(p);
			F->n++;
		}
		free(p);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	const char *cmd = argv[1];
	const struct cmdhelp *ch = NULL;
	for (size_t i = 0; i < sizeof cmd_help / sizeof cmd_help[0]; i++)
		if (!strcmp(cmd, cmd_help[i].name))
			ch = &cmd_help[i];
	if (!ch)
		kt_fatal("unknown command '%s' (dump, summary, leaks, plot, mtrace, export, diff, at; see kmm-trace --help)", cmd);
	const char *out = NULL, *format = NULL;
	int nosym = 0, all = 0, run = 0, live = 0, count = 0, top_set = 0;
	int export = !strcmp(cmd, "export"), at = !strcmp(cmd, "at");
	struct kt_when when;
	int have_when = 0;
	unsigned top = 10;
	struct flist F = {0};
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(ch->text, stdout);
			return 0;
		} else if (!strcmp(a, "--no-symbols"))
			nosym = 1;
		else if ((!strcmp(a, "--run") || !strcmp(a, "-r")) && strcmp(cmd, "mtrace"))
			run = 1;
		else if (!strcmp(a, "--all") && !strcmp(cmd, "leaks"))
			all = 1;
		else if (!strcmp(a, "-o") && (!strcmp(cmd, "plot") || export)) {
			if (++i >= argc)
				kt_fatal("%s: -o needs a file name", cmd);
			out = argv[i];
		} else if (!strncmp(a, "-o", 2) && a[2] && (!strcmp(cmd, "plot") || export))
			out = a + 2;
		else if (!strncmp(a, "--format=", 9) && export)
			format = a + 9;
		else if (!strcmp(a, "--live") && (export || !strcmp(cmd, "diff")))
			live = 1;
		else if (!strcmp(a, "--count") && export)
			count = 1;
		else if (!strcmp(a, "--top") && (!strcmp(cmd, "summary") || !strcmp(cmd, "diff") || at)) {
			char *end;
			if (++i >= argc)
				kt_fatal("%s: --top needs a number", cmd);
			unsigned long v = strtoul(argv[i], &end, 10);
			if (*end || end == argv[i] || v > 1000000)
				kt_fatal("%s: --top %s: not a number", cmd, argv[i]);
			top = (unsigned)v;
			top_set = 1;
		} else if (at && !have_when) {
			if (kt_parse_when(a, &when))
				kt_fatal("at: '%s' is not a moment: TIME (1.5s, 250ms, 40us, 1200ns), #SEQ, peak or end", a);
			have_when = 1;
		} else if (a[0] == '-' && a[1])
			kt_fatal("%s: unknown option '%s' (see kmm-trace %s --help)", cmd, a, cmd);
		else
			flist_add(&F, a);
	}
	if (at && !have_when)
		kt_fatal("at: no WHEN (see kmm-trace at --help)");
	if (!F.n)
		kt_fatal("%s: no FILE (see kmm-trace %s --help)", cmd, cmd);
	int plot = !strcmp(cmd, "plot"), mtrace = !strcmp(cmd, "mtrace");
	if (!strcmp(cmd, "diff")) {
		if (run || F.n != 2)
			kt_fatal("diff: two FILEs, A and B (got %zu%s)", F.n, run ? " and --run" : "");
		int rc = kt_cmd_diff(F.v[0], F.v[1], live, top == 10 && !top_set ? 20 : top, !nosym);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, PROG ": writing the output: %s\n", strerror(errno));
			return 2;
		}
		return rc;
	}
	if (run) {
		if (F.n != 1)
			kt_fatal("%s: --run takes one FILE, the run's first log (got %zu)", cmd, F.n);
		size_t stale;
		siblings(F.v[0], &F, &stale);
		if (stale)
			fprintf(stderr, PROG ": left out %zu log%s named %s.PID[.N] that started before %s (an earlier run's)\n",
				stale, stale == 1 ? "" : "s", F.v[0], F.v[0]);
	}
	/* several logs: the ones their exec blocks name too (one FILE: its
	 * summary names the next log, and the reader reads only FILE) */
	if (!mtrace && (F.n > 1 || run))
		follow_execs(&F);
	if (mtrace && F.n > 1)
		kt_fatal("mtrace: one FILE only: mtrace(1) reads one process's calls (the addresses of several would mix)");
	if (out && F.n > 1 && !export)
		kt_fatal("plot: -o with one log only (%zu here): each log gets FILE.svg", F.n);
	if (export && !format)
		kt_fatal("export: no --format (" EXPORT_FORMATS "; see kmm-trace export --help)");
	if (export && !known_format(format))
		kt_fatal("export: unknown format '%s' (" EXPORT_FORMATS "; see kmm-trace export --help)", format);
	int folded = export && !strcmp(format, "folded");
	if (export && !folded && (live || count))
		kt_fatal("export: --live and --count are folded's options (--format=%s)", format);
	if (export && F.n > 1 && (!strcmp(format, "massif") || !strcmp(format, "pprof")))
		kt_fatal("export: --format=%s takes one log (%zu here): one process's heap per file", format, F.n);
	FILE *xo = stdout;
	if (export && out && !(xo = fopen(out, "w")))
		kt_fatal("export: cannot write %s: %s", out, strerror(errno));

	struct kt_export xopt = {.format = format, .live = live, .count = count, .nlogs = F.n};
	if (export || at) { /* the earliest start: perfetto's and at's time 0 */
		xopt.base_mono = UINT64_MAX;
		for (size_t i = 0; i < F.n; i++) {
			uint64_t mono, real;
			if (read_starts(F.v[i], &mono, &real) && mono < xopt.base_mono)
				xopt.base_mono = mono;
		}
		if (xopt.base_mono == UINT64_MAX)
			xopt.base_mono = 0;
	}

	static char obuf[1 << 20];
	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);

	int rc = 0;
	if (!strcmp(cmd, "summary") && F.n > 1)
		rc = kt_cmd_summary_run(F.v, F.n, top, !nosym);
	else
		for (size_t i = 0; i < F.n; i++) {
			struct log L;
			kt_log_open(&L, F.v[i]);
			xopt.idx = i;
			if (F.n > 1 && !strcmp(cmd, "dump"))
				printf("%s== %s: pid %" PRIu32 " (%s) ==\n", i ? "\n" : "", F.v[i], L.pid, kt_prog_name(&L));
			else if (F.n > 1 && i && !plot && !export)
				putchar('\n');
			/* with several logs, an exec'd one's successor is among them */
			if (F.n == 1 || !kt_log_execd(&L) || L.bad)
				kt_warn_cut(&L);
			kt_sym_init(&L, !nosym && !plot, !mtrace);
			int r;
			if (!strcmp(cmd, "dump"))
				r = kt_cmd_dump(&L);
			else if (!strcmp(cmd, "summary"))
				r = kt_cmd_summary(&L, top);
			else if (!strcmp(cmd, "leaks"))
				r = kt_cmd_leaks(&L, all);
			else if (plot)
				r = kt_cmd_plot(&L, out);
			else if (export)
				r = kt_cmd_export(&L, &xopt, xo);
			else if (at)
				r = kt_cmd_at(&L, &when, top, xopt.base_mono);
			else
				r = kt_cmd_mtrace(&L);
			if (r > rc)
				rc = r;
			if (F.n == 1 && !run && !strcmp(cmd, "summary")) {
				/* a new user's first question: where are the other processes? */
				struct flist S = {0};
				flist_add(&S, F.v[0]);
				size_t stale;
				size_t more = siblings(F.v[0], &S, &stale);
				if (more)
					fprintf(stderr,
						PROG ": %zu more log%s of this run beside %s (processes it forked or exec'd: "
						"FILE.PID, FILE.PID.N): kmm-trace summary --run %s\n",
						more, more == 1 ? "" : "s", F.v[0], F.v[0]);
				for (size_t k = 0; k < S.n; k++)
					free(S.v[k]);
				free(S.v);
			}
			fflush(stdout);
			kt_log_close(&L);
		}
	if (xo != stdout && (fclose(xo) != 0)) {
		fprintf(stderr, PROG ": writing %s: %s\n", out, strerror(errno));
		return 2;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, PROG ": writing the output: %s\n", strerror(errno));
		return 2;
	}
	return rc;
}

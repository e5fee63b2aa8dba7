/*
 * main.c — kmm-trace's command line: commands, options, --help, and the
 * exit status.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

#include <errno.h>

static const char usage_text[] =
	"usage: kmm-trace COMMAND [OPTIONS] FILE\n"
	"Reads kmm's allocation trace log (KMM_TRACE=FILE, docs/trace.md).\n"
	"\n"
	"commands:\n"
	"  dump      every event, one line each, in sequence order\n"
	"  summary   counts and bytes per operation, path, size and system call;\n"
	"            peak live bytes; kmm's own memory; top allocation sites\n"
	"  leaks     blocks never freed, grouped by allocation site\n"
	"  plot      an SVG of live heap, break size, vmalloc and mapped bytes\n"
	"  mtrace    the log in glibc's mtrace(3) format, for mtrace(1)\n"
	"\n"
	"options:\n"
	"  --no-symbols   do not look addresses up (no addr2line)\n"
	"  -h, --help     this help; `kmm-trace COMMAND --help` for a command's\n"
	"\n"
	"Exit status: 0 (also for a log that was cut short: a warning says so),\n"
	"2 for bad usage or a file that is not a readable kmm trace log.\n";

struct cmdhelp { const char *name, *text; };
static const struct cmdhelp cmd_help[] = {
	{"dump", "usage: kmm-trace dump [--no-symbols] FILE\n"
		 "One line per event, in global sequence order:\n"
		 "  #SEQ +SECONDSs tid TID EVENT\n"
		 "malloc-family calls with their result, serving path and caller\n"
		 "(symbolized), system calls, regions, slab and vmalloc events;\n"
		 "backtraces follow on indented lines.\n"},
	{"summary", "usage: kmm-trace summary [--no-symbols] [--top N] FILE\n"
		    "Counts and bytes per operation, serving path, where frees went, size\n"
		    "class; peak live bytes (requested sizes) with its time and sequence\n"
		    "number; system calls; kmm's slab, vmalloc and regions; the top N\n"
		    "allocation sites by bytes (10 by default); threads; whether the log\n"
		    "was cut short.\n"},
	{"leaks", "usage: kmm-trace leaks [--no-symbols] [--all] FILE\n"
		  "The program's blocks still allocated at the end of the log, grouped by\n"
		  "allocation site (caller, and backtrace when recorded), largest first;\n"
		  "five example blocks per site, or all of them with --all.\n"},
	{"plot", "usage: kmm-trace plot [-o OUT.svg] FILE\n"
		 "Writes an SVG (FILE.svg by default): over time, live heap bytes, the\n"
		 "break's growth over its start, live vmalloc areas and the bytes mapped\n"
		 "with mmap (less munmap, with mremap), at most ~2000 points per line.\n"},
	{"mtrace", "usage: kmm-trace mtrace [--no-symbols] FILE > OUT\n"
		   "Converts the log to glibc's mtrace(3) text format: `mtrace OUT` (the\n"
		   "perl script of libc-dev-bin) then lists the memory not freed.\n"},
};

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
		kt_fatal("unknown command '%s' (dump, summary, leaks, plot, mtrace; see kmm-trace --help)", cmd);
	const char *file = NULL, *out = NULL;
	int nosym = 0, all = 0;
	unsigned top = 10;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(ch->text, stdout);
			return 0;
		} else if (!strcmp(a, "--no-symbols"))
			nosym = 1;
		else if (!strcmp(a, "--all") && !strcmp(cmd, "leaks"))
			all = 1;
		else if (!strcmp(a, "-o") && !strcmp(cmd, "plot")) {
			if (++i >= argc)
				kt_fatal("plot: -o needs a file name");
			out = argv[i];
		} else if (!strncmp(a, "-o", 2) && a[2] && !strcmp(cmd, "plot"))
			out = a + 2;
		else if (!strcmp(a, "--top") && !strcmp(cmd, "summary")) {
			char *end;
			if (++i >= argc)
				kt_fatal("summary: --top needs a number");
			unsigned long v = strtoul(argv[i], &end, 10);
			if (*end || end == argv[i] || v > 1000000)
				kt_fatal("summary: --top %s: not a number", argv[i]);
			top = (unsigned)v;
		} else if (a[0] == '-' && a[1])
			kt_fatal("%s: unknown option '%s' (see kmm-trace %s --help)", cmd, a, cmd);
		else if (file)
			kt_fatal("%s: one FILE only (got '%s' and '%s')", cmd, file, a);
		else
			file = a;
	}
	if (!file)
		kt_fatal("%s: no FILE (see kmm-trace %s --help)", cmd, cmd);

	static char obuf[1 << 20];
	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);

	struct log L;
	kt_log_open(&L, file);
	kt_warn_cut(&L);
	int plot = !strcmp(cmd, "plot"), mtrace = !strcmp(cmd, "mtrace");
	kt_sym_init(&L, !nosym && !plot, !mtrace);
	int rc;
	if (!strcmp(cmd, "dump"))
		rc = kt_cmd_dump(&L);
	else if (!strcmp(cmd, "summary"))
		rc = kt_cmd_summary(&L, top);
	else if (!strcmp(cmd, "leaks"))
		rc = kt_cmd_leaks(&L, all);
	else if (plot)
		rc = kt_cmd_plot(&L, out);
	else
		rc = kt_cmd_mtrace(&L);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, PROG ": writing the output: %s\n", strerror(errno));
		return 2;
	}
	return rc;
}

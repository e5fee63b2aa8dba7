/*
 * bench/runner.c — run kmm's benchmark workloads under several allocators.
 *
 * Each workload is a separate program (bench/bin/<name>).  The runner starts
 * it once per allocator and repetition, with the allocator preloaded
 * (LD_PRELOAD; nothing for glibc), measures the wall time around
 * fork/exec/wait and the peak RSS the kernel reports in wait4's rusage,
 * checks that the run exited 0 and printed the same checksum as every other
 * run of that workload, and prints medians and ratios to the baseline
 * allocator (glibc unless told otherwise).
 *
 * Program workloads (bench/programs/NAME.sh) run real programs from Debian
 * packages (python3, sqlite3, gcc, ...) on generated input.  The runner
 * starts the script, not the program, and does not set LD_PRELOAD itself:
 * it passes the allocator's library in KMM_BENCH_PRELOAD, and the script
 * preloads it into the program measured only (bench/programs/common.sh).
 * Before the timed runs the runner has each script prepare its input, once,
 * in a temporary directory removed at the end, and runs it once untimed
 * with nothing preloaded: the reference checksum for every timed run.
 *
 * Repetitions are interleaved: repetition 1 runs every workload under every
 * allocator, then repetition 2, and so on, and the order of the allocators
 * rotates from one repetition to the next, so slow drifts of the machine
 * (other load, thermal throttling, page cache) spread over all allocators
 * instead of landing on one of them.
 *
 * `runner --help` for the options.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <gnu/libc-version.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------------------ */
/* What to run                                                               */

struct workload {
	const char *name;
	int threaded;           /* takes -t */
	const char *what;
	int selected;
	int program;            /* bench/programs/NAME.sh, not bench/bin/NAME */
	const char *skipped;    /* program workload that cannot run: why */
};

static struct workload workloads[] = {
	{ "small",    0, "single thread, malloc/free 16..4096 B in bursts, long-lived pool", 1, 0, NULL },
	{ "mixed",    0, "random replacement in a pool, skewed sizes 8 B..64 KiB", 1, 0, NULL },
	{ "realloc",  0, "buffers grown by realloc from bytes to 1 MiB (builders, vectors)", 1, 0, NULL },
	{ "prodcons", 1, "producer threads malloc, consumer threads free (via queues)", 1, 0, NULL },
	{ "threads",  1, "threads churning their own small blocks, no sharing", 1, 0, NULL },
	{ "larson",   1, "server threads replace random blocks, pass them to new threads", 1, 0, NULL },
	{ "xmalloc",  1, "threads pass batches of blocks to one another via one queue", 1, 0, NULL },
	{ "cache-scratch", 1, "8 B objects written hard after freeing a handed-over one", 1, 0, NULL },
	{ "cache-thrash", 1, "threads writing hard to 8 B objects of their own", 1, 0, NULL },
	{ "large",    0, "16 KiB..4 MiB buffers, a few alive, around the mmap threshold", 1, 0, NULL },
	{ "fragment", 0, "growing sizes, every other block freed, holes too small to reuse", 1, 0, NULL },
	{ "bintree",  0, "complete binary trees of 32 B nodes and small strings (binary-trees)", 1, 0, NULL },
	{ "calloc-mix", 0, "calloc of 16 B..4 MiB arrays checked zero, random replacement", 1, 0, NULL },
	{ "aligned",  0, "posix_memalign/aligned_alloc/memalign 16 B..64 KiB, align 16..4096", 1, 0, NULL },
	{ "sh6bench", 1, "arrays of 1..1000 B blocks freed in order, reverse, alternate", 1, 0, NULL },
	{ "sh8bench", 1, "like sh6bench, arrays freed by the next thread in a ring", 1, 0, NULL },
	{ "big",      0, "5..25 MiB blocks, four alive, partly touched and freed", 1, 0, NULL },
	{ "bigrealloc", 0, "three buffers grown by 64..128 KiB reallocs up to 8..32 MiB", 1, 0, NULL },
	{ "mstress", 1, "rounds of threads trade blocks; survivors freed by later rounds", 1, 0, NULL },
	{ "rptest", 1, "threads churn batches, pass every 2nd to the next; threads respawned", 1, 0, NULL },
	{ "glibc-simple", 0, "batches of 1/32/1024 same-size blocks malloc'd then freed in order", 1, 0, NULL },
	{ "glibc-thread", 1, "threads replace random blocks (4 B..32 KiB, 1/size) in own sets", 1, 0, NULL },
	{ "malloc-large", 0, "16 blocks of 5..25 MiB alive, one replaced per step, every 8th page", 1, 0, NULL },
	{ "alloc-test", 1, "threads fill and empty random slots, power-law sizes 8 B..64 KiB", 1, 0, NULL },
	/* real programs (bench/programs/) */
	{ "py",       0, "python3 object churn (dicts, lists, strings), PYTHONMALLOC=malloc", 1, 1, NULL },
	{ "sqlite",   0, "sqlite3 shell: inserts, indexes, updates, joins on a temporary file", 1, 1, NULL },
	{ "gcc",      0, "gcc -O2 -c of a generated C file", 1, 1, NULL },
	{ "perl",     0, "perl hash and string churn", 1, 1, NULL },
	{ "lua",      0, "lua5.4 table and string churn", 1, 1, NULL },
	{ "sort",     1, "coreutils sort of 2.5 million generated lines (-t: --parallel)", 1, 1, NULL },
	{ "redis",    0, "redis-server driven by redis-cli --pipe and redis-benchmark", 1, 1, NULL },
	{ "git",      0, "git log -p --word-diff and blame on a generated repository", 1, 1, NULL },
};
#define NWORK ((int)(sizeof workloads / sizeof workloads[0]))

/* Width of the workload-name column: the longest name. */
static int name_width(void)
{
	int i, w = 8;           /* strlen("workload") */

	for (i = 0; i < NWORK; i++)
		if ((int)strlen(workloads[i].name) > w)
			w = (int)strlen(workloads[i].name);
	return w;
}

#define MAXALLOC 16
#define NAMELEN  24

struct allocator {
	char name[NAMELEN];
	char *path;             /* NULL: no preload (the system allocator) */
	const char *missing;    /* why it cannot be used, or NULL */
	int selected;
	int trace;              /* run with KMM_TRACE (kmm-trace): a log per run,
				   its size reported, the file removed after */
	const char *options;    /* appended to KMM_OPTIONS (kmm-glibc) */
	int sample;             /* run with KMM_SAMPLE=512k (kmm-sample), the
				   profile written to /dev/null */
	const char *env;        /* one more NAME=VALUE (kmm-live: KMM_LIVE=1) */
};

/* The allocators kmm is compared with in the best-peer column; kmm's own
 * variants (kmm-glibc, kmm-trace, kmm-sample) and -L additions are not peers. */
static int is_peer(const char *name)
{
	return strcmp(name, "glibc") == 0 || strcmp(name, "jemalloc") == 0 ||
	       strcmp(name, "tcmalloc") == 0 || strcmp(name, "mimalloc") == 0;
}

static struct allocator allocs[MAXALLOC];
static int nalloc;

/* Where a Debian-style system keeps shared libraries for this architecture. */
#if defined(__x86_64__)
#define MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define MULTIARCH "aarch64-linux-gnu"
#elif defined(__i386__)
#define MULTIARCH "i386-linux-gnu"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MULTIARCH "powerpc64le-linux-gnu"
#elif defined(__s390x__)
#define MULTIARCH "s390x-linux-gnu"
#elif defined(__riscv) && __riscv_xlen == 64
#define MULTIARCH "riscv64-linux-gnu"
#else
#define MULTIARCH "unknown"
#endif

static const char *const libdirs[] = {
	"/usr/lib/" MULTIARCH, "/lib/" MULTIARCH, "/usr/lib64", "/lib64",
	"/usr/local/lib", "/usr/lib", NULL
};

struct known_lib {
	const char *name;
	const char *files[3];
};

static const struct known_lib known[] = {
	{ "jemalloc", { "libjemalloc.so.2", "libjemalloc.so", NULL } },
	{ "tcmalloc", { "libtcmalloc_minimal.so.4", "libtcmalloc.so.4", NULL } },
	{ "mimalloc", { "libmimalloc.so.2", "libmimalloc.so", NULL } },
};

/* ------------------------------------------------------------------------ */
/* Small utilities                                                           */

static const char *prog = "bench/run";

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		die("out of memory");
	return p;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		die("out of memory");
	return s;
}

static int is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_exec(const char *path)
{
	return is_file(path) && access(path, X_OK) == 0;
}

/* An absolute version of path (symbolic links left as they are). */
static char *absolute(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
		return xstrdup(path);
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	return xprintf("%s/%s", cwd, path);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double tv_secs(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ------------------------------------------------------------------------ */
/* Allocators                                                                */

static struct allocator *find_alloc(const char *name)
{
	int i;

	for (i = 0; i < nalloc; i++)
		if (strcmp(allocs[i].name, name) == 0)
			return &allocs[i];
	return NULL;
}

static struct allocator *add_alloc(const char *name)
{
	struct allocator *a = find_alloc(name);

	if (a != NULL)
		return a;
	if (nalloc == MAXALLOC)
		die("too many allocators (at most %d)", MAXALLOC);
	if (strlen(name) == 0 || strlen(name) >= NAMELEN || strchr(name, ','))
		die("bad allocator name '%s'", name);
	a = &allocs[nalloc++];
	snprintf(a->name, sizeof a->name, "%s", name);
	a->selected = 1;
	return a;
}

static void find_known(struct allocator *a, const struct known_lib *k)
{
	int d, f;

	for (d = 0; libdirs[d] != NULL; d++) {
		for (f = 0; k->files[f] != NULL; f++) {
			char *p = xprintf("%s/%s", libdirs[d], k->files[f]);

			if (is_file(p)) {
				a->path = p;
				return;
			}
			free(p);
		}
	}
	a->missing = xprintf("%s not found (looked for %s in %s, ...)",
			     k->name, k->files[0], libdirs[0]);
}

/* libkmm.so: --kmm, $KMM_LIB, or the build tree around the workload dir. */
static void find_kmm(struct allocator *a, const char *opt, const char *bindir)
{
	const char *env = getenv("KMM_LIB");
	char *p;

	if (opt != NULL || (env != NULL && *env != '\0')) {
		const char *want = opt ? opt : env;

		if (is_file(want))
			a->path = absolute(want);
		else
			a->missing = xprintf("libkmm.so not found at %s", want);
		return;
	}
	p = xprintf("%s/../../.libs/libkmm.so", bindir);
	if (is_file(p)) {
		char *dir = xprintf("%s/../../.libs", bindir), *real = realpath(dir, NULL);

		a->path = real ? xprintf("%s/libkmm.so", real) : xstrdup(p);
		free(real);
		free(dir);
		free(p);
		return;
	}
	free(p);
	a->missing = xstrdup("libkmm.so not found (build it with make, or pass --kmm=PATH)");
}

/* ------------------------------------------------------------------------ */
/* Running one workload once                                                 */

struct run {
	int done;               /* was attempted */
	int ok;                 /* exited 0, printed a checksum, matched */
	double wall, user, sys; /* seconds */
	long maxrss;            /* KiB */
	long long trace_bytes;  /* kmm-trace: size of the log written */
	uint64_t instr;         /* user-space instructions, 0 if not countable */
	uint64_t checksum;
	int exit_code;          /* exit status, -1 if killed */
	char *why;              /* failure description */
	char *output;           /* what the program printed, on failure */
};

#define OUTMAX 8192

/* Where a kmm-trace run writes its log: in $TMPDIR, named after the
 * runner's pid; removed after each run. */
static const char *trace_file(void)
{
	static char *path;
	const char *dir = getenv("TMPDIR");

	if (path == NULL)
		path = xprintf("%s/kmm-bench-trace.%ld", dir != NULL && *dir != '\0' ? dir : "/tmp",
			       (long)getpid());
	return path;
}

/* The environment of a run: the runner's, with the allocator's settings.
 * A C workload gets LD_PRELOAD itself.  A program workload (datadir not
 * NULL) gets no LD_PRELOAD but KMM_BENCH_PRELOAD (empty for glibc) and its
 * directory in KMM_BENCH_DIR: its script preloads the library into the
 * program measured only.  kmm-glibc's options go after any KMM_OPTIONS the
 * runner was given (the last profile= entry is the one kmm applies).
 * The strings made here are listed in made[] (up to 4) for the caller to
 * free. */
static char **child_env(const struct allocator *a, const char *datadir, char **made)
{
	const char *old_opts = getenv("KMM_OPTIONS");
	size_t n = 0, i, j = 0, m = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	env = xmalloc((n + 8) * sizeof *env);
	for (i = 0; i < n; i++) {
		if (strncmp(environ[i], "LD_PRELOAD=", 11) == 0)
			continue;
		if (datadir != NULL && (strncmp(environ[i], "KMM_BENCH_DIR=", 14) == 0 ||
					strncmp(environ[i], "KMM_BENCH_PRELOAD=", 18) == 0))
			continue;
		if (a->options != NULL && strncmp(environ[i], "KMM_OPTIONS=", 12) == 0)
			continue;
		if (a->env != NULL && strncmp(environ[i], a->env, (size_t)(strchr(a->env, '=') - a->env) + 1) == 0)
			continue;
		env[j++] = environ[i];
	}
	if (datadir == NULL) {
		if (a->path != NULL)
			env[j++] = made[m++] = xprintf("LD_PRELOAD=%s", a->path);
	} else {
		env[j++] = made[m++] = xprintf("KMM_BENCH_DIR=%s", datadir);
		env[j++] = made[m++] = xprintf("KMM_BENCH_PRELOAD=%s", a->path ? a->path : "");
	}
	if (a->trace)
		env[j++] = made[m++] = xprintf("KMM_TRACE=%s", trace_file());
	if (a->sample) {
		env[j++] = (char *)"KMM_SAMPLE=512k";
		env[j++] = (char *)"KMM_PROFILE=/dev/null";
	}
	if (a->env != NULL)
		env[j++] = (char *)a->env;
	if (a->options != NULL)
		env[j++] = made[m++] = old_opts != NULL && *old_opts != '\0' ?
			xprintf("KMM_OPTIONS=%s,%s", old_opts, a->options) :
			xprintf("KMM_OPTIONS=%s", a->options);
	env[j] = NULL;
	while (m < 4)
		made[m++] = NULL;
	return env;
}

/* A counter of the user-space instructions of `pid` and the threads and
 * processes it starts, enabled when it calls execve.  Instruction counts
 * hardly vary from run to run, unlike wall time on a shared machine, so
 * they show an allocator's own cost reliably.  -1 where perf events are not
 * available (kernel.perf_event_paranoid, containers, some VMs). */
static int instr_counter(pid_t pid)
{
	struct perf_event_attr pe;

	memset(&pe, 0, sizeof pe);
	pe.size = sizeof pe;
	pe.type = PERF_TYPE_HARDWARE;
	pe.config = PERF_COUNT_HW_INSTRUCTIONS;
	pe.disabled = 1;
	pe.enable_on_exec = 1;
	pe.inherit = 1;
	pe.exclude_kernel = 1;
	pe.exclude_hv = 1;
	return (int)syscall(SYS_perf_event_open, &pe, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

/* The process group of the run under way, for the signal handler. */
static volatile pid_t running;

/* Run bin (argv) once under allocator a; datadir: a program workload's
 * directory, NULL for a C workload.  The child leads a process group of its
 * own, so that a timeout (or ^C) kills everything it started. */
static void run_once(struct run *r, const char *bin, char *const argv[],
		     const struct allocator *a, double timeout, const char *datadir)
{
	char *made[4];
	char **env = child_env(a, datadir, made);
	char out[OUTMAX + 1];
	size_t outlen = 0;
	int fds[2], go[2], status, timed_out = 0, killed = 0, counter, k;
	struct rusage ru;
	double t0, t1, deadline;
	pid_t pid;
	char *line;

	memset(r, 0, sizeof *r);
	r->done = 1;
	if (pipe2(fds, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0)
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	t0 = now();
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		char c;
		int null = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		/* wait until the parent has attached the instruction counter */
		close(go[1]);
		while (read(go[0], &c, 1) < 0 && errno == EINTR)
			;
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		execve(bin, argv, env);
		fprintf(stderr, "cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);      /* (as the child does: whichever runs first) */
	running = pid;
	close(fds[1]);
	close(go[0]);
	counter = instr_counter(pid);
	close(go[1]);

	/* Collect the output until EOF, within the time limit.  Once the child
	 * has exited (seen without reaping it, so its process group cannot be
	 * reused), whatever it left running is killed: a server or a pipeline
	 * member still holding the output pipe would keep EOF away. */
	deadline = t0 + timeout;
	for (;;) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		double left = deadline - now();
		char buf[4096];
		ssize_t got;
		int pr;

		if (left <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			timed_out = 1;
			break;
		}
		if (!killed) {
			siginfo_t si;

			si.si_pid = 0;
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == pid) {
				kill(-pid, SIGKILL);
				killed = 1;
			}
		}
		pr = poll(&pfd, 1, left > 0.2 ? 200 : (int)(left * 1000) + 1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		got = read(fds[0], buf, sizeof buf);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		/* keep the last OUTMAX bytes (buf is smaller): the checksum
		 * line comes last */
		if (outlen + (size_t)got > OUTMAX) {
			size_t drop = outlen + (size_t)got - OUTMAX;

			memmove(out, out + drop, outlen - drop);
			outlen -= drop;
		}
		memcpy(out + outlen, buf, (size_t)got);
		outlen += (size_t)got;
	}
	close(fds[0]);
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	running = 0;
	t1 = now();
	out[outlen] = '\0';
	for (k = 0; k < 4; k++)
		free(made[k]);
	free(env);

	r->instr = 0;
	if (counter >= 0) {
		uint64_t v;

		if (read(counter, &v, sizeof v) == (ssize_t)sizeof v)
			r->instr = v;
		close(counter);
	}
	r->wall = t1 - t0;
	r->user = tv_secs(ru.ru_utime);
	r->sys = tv_secs(ru.ru_stime);
	r->maxrss = ru.ru_maxrss;
	r->exit_code = !timed_out && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (a->trace) {
		struct stat st;

		r->trace_bytes = stat(trace_file(), &st) == 0 ? (long long)st.st_size : -1;
		unlink(trace_file());
	}

	if (timed_out)
		r->why = xprintf("killed after the %g s time limit", timeout);
	else if (WIFSIGNALED(status))
		r->why = xprintf("killed by signal %d (%s)", WTERMSIG(status),
				 strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status) != 0)
		r->why = xprintf("exit status %d", WEXITSTATUS(status));
	else if (strstr(out, "ld.so:") != NULL)
		r->why = xstrdup("the dynamic linker could not preload the library");
	else {
		/* "checksum HEX"; a program workload may add "maxrss KIB", the
		 * peak RSS of the program measured (e.g. a server's, without
		 * its clients'), which then replaces the process tree's */
		for (line = out; line != NULL; line = strchr(line, '\n')) {
			char *end;

			if (*line == '\n')
				line++;
			if (!r->ok && strncmp(line, "checksum ", 9) == 0) {
				errno = 0;
				r->checksum = strtoull(line + 9, &end, 16);
				if (errno == 0 && end != line + 9 && (*end == '\n' || *end == '\0'))
					r->ok = 1;
			} else if (datadir != NULL && strncmp(line, "maxrss ", 7) == 0) {
				long v;

				errno = 0;
				v = strtol(line + 7, &end, 10);
				if (errno == 0 && end != line + 7 && v > 0 && (*end == '\n' || *end == '\0'))
					r->maxrss = v;
			}
		}
		if (!r->ok)
			r->why = xstrdup("printed no checksum");
	}
	if (!r->ok)
		r->output = xstrdup(out);
}

/* ------------------------------------------------------------------------ */
/* Program workloads                                                         */

static char *progdir;           /* bench/programs: the scripts */
static char *tmpdir;            /* their inputs and scratch files, or NULL */
static volatile sig_atomic_t interrupted;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_DP || (st != NULL && S_ISDIR(st->st_mode)))
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void remove_tmpdir(void)
{
	if (tmpdir != NULL) {
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		tmpdir = NULL;
	}
}

/* ^C, SIGTERM, SIGHUP: the run under way is in a process group of its own,
 * out of the terminal's reach; kill it, and stop once it has been reaped. */
static void on_signal(int sig)
{
	interrupted = sig;
	if (running > 0)
		kill(-running, SIGKILL);
}

static void check_interrupted(void)
{
	int sig = interrupted;

	if (sig == 0)
		return;
	remove_tmpdir();
	fprintf(stderr, "\n%s: interrupted (%s)\n", prog, strsignal(sig));
	signal(sig, SIG_DFL);
	raise(sig);
	_exit(128 + sig);
}

/* What a program workload's script is run with: sh SCRIPT MODE -s X -t N. */
static void script_args(char *argv[8], const struct workload *wl, const char *mode,
			char *scale_s, char *threads_s)
{
	argv[0] = "sh";
	argv[1] = xprintf("%s/%s.sh", progdir, wl->name);
	argv[2] = (char *)mode;
	argv[3] = "-s";
	argv[4] = scale_s;
	argv[5] = "-t";
	argv[6] = threads_s;
	argv[7] = NULL;
}

/* The first line of a script's output (why it cannot run), or a default. */
static char *first_line(const char *text, const char *dflt)
{
	size_t n;

	if (text == NULL || *text == '\0')
		return xstrdup(dflt);
	n = strcspn(text, "\n");
	return xprintf("%.*s", (int)n, text);
}

/* Whether the script can run here (`sh SCRIPT check`): NULL if so, else why
 * not. */
static char *program_missing(const struct workload *wl, char *scale_s, char *threads_s)
{
	static const struct allocator plain = { .name = "glibc" };
	char *argv[8], *why = NULL;
	struct run r;

	script_args(argv, wl, "check", scale_s, threads_s);
	if (!is_file(argv[1])) {
		why = xprintf("%s is missing (pass --programs-dir)", argv[1]);
		free(argv[1]);
		return why;
	}
	run_once(&r, "/bin/sh", argv, &plain, 60, "");
	if (r.exit_code == 77)
		why = first_line(r.output, "not installed");
	else if (r.exit_code != 0)
		why = xprintf("`sh %s check` failed: %s", argv[1], r.why ? r.why : "?");
	free(argv[1]);
	free(r.why);
	free(r.output);
	return why;
}

/* Whether any of the workloads run is a program workload. */
static int any_program(int nw, const int *widx)
{
	int i;

	for (i = 0; i < nw; i++)
		if (workloads[widx[i]].program)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                   */

static void usage(FILE *f)
{
	int i;

	fprintf(f,
"usage: bench/run [OPTIONS]\n"
"\n"
"Run kmm's benchmark workloads under glibc's malloc and under jemalloc,\n"
"tcmalloc, mimalloc, kmm and kmm-glibc (each preloaded with LD_PRELOAD\n"
"into the program measured), repetitions interleaved, and print per\n"
"workload the median wall time and median peak RSS of every allocator,\n"
"their ratios to glibc, kmm's ratios to glibc and to the best peer, and\n"
"the geometric means of the ratios.\n"
"Every run must exit 0 and print the same checksum as all the other runs\n"
"of its workload (for a program workload: as its untimed run with nothing\n"
"preloaded).  Allocators whose library is missing, and program workloads\n"
"whose program is not installed, are skipped with a note.\n"
"\n"
"Options:\n"
"  -n, --reps=N          repetitions (default 5)\n"
"  -s, --scale=X         workload size multiplier (default 1; 0.1 for a\n"
"                        quick check, 3 for steadier figures)\n"
"  -t, --threads=N       threads for the threaded workloads (default 2)\n"
"  -w, --workloads=LIST  comma-separated workloads to run (default: all);\n"
"                        `programs` stands for the program workloads below,\n"
"                        `threaded` for the other workloads marked [-t],\n"
"                        `single` for the other workloads not marked [-t]\n"
"  -a, --allocators=LIST comma-separated allocators (default: all found)\n"
"  -k, --kmm=PATH        libkmm.so to test (default: $KMM_LIB, or the build\n"
"                        tree the workloads were built in)\n"
"  -L, --lib=NAME=PATH   add an allocator (or replace a built-in one's\n"
"                        library), e.g. -L kmm-old=/tmp/old/libkmm.so\n"
"  -b, --baseline=NAME   allocator the ratios are relative to (default glibc)\n"
"  -B, --bin-dir=DIR     where the workload programs are (default: the\n"
"                        runner's own directory)\n"
"  -P, --programs-dir=DIR\n"
"                        where the program workloads' scripts are (bench/run\n"
"                        passes its own bench/programs; default: programs/\n"
"                        next to the bin-dir)\n"
"      --timeout=SEC     kill a run after SEC seconds (default 300)\n"
"      --csv=FILE        write every run as CSV\n"
"      --json=FILE       write settings, runs and summary as JSON\n"
"                        (FILE `-`: standard output; the table then goes\n"
"                        to standard error)\n"
"  -q, --quiet           no progress lines on standard error\n"
"  -l, --list            list workloads and allocators, then exit\n"
"  -h, --help            this text\n"
"\n"
"Workloads:\n");
	for (i = 0; i < NWORK; i++)
		if (!workloads[i].program)
			fprintf(f, "  %-*s %s%s\n", name_width(), workloads[i].name, workloads[i].what,
				workloads[i].threaded ? " [-t]" : "");
	fprintf(f,
"\n"
"Program workloads (`programs`; real programs from Debian packages on\n"
"input generated once per invocation in a temporary directory under\n"
"$TMPDIR or /tmp, removed at the end; bench/programs/NAME.sh):\n");
	for (i = 0; i < NWORK; i++)
		if (workloads[i].program)
			fprintf(f, "  %-*s %s%s\n", name_width(), workloads[i].name, workloads[i].what,
				workloads[i].threaded ? " [-t]" : "");
	fprintf(f,
"\n"
"Allocators: glibc (no preload), jemalloc, tcmalloc, mimalloc, kmm,\n"
"kmm-glibc (the same libkmm.so with KMM_OPTIONS=profile=glibc), and\n"
"kmm-trace (kmm writing its trace log, KMM_TRACE; only when named in -a:\n"
"the table then ends with the tracing cost against kmm and the log sizes),\n"
"kmm-live (kmm publishing its live view, KMM_LIVE=1; only when named in -a),\n"
"and kmm-sample (kmm with KMM_SAMPLE=512k, the sampled heap profile, written\n"
"to /dev/null; only when named in -a).\n"
"The peers, whose fastest is the best peer, are glibc, jemalloc, tcmalloc\n"
"and mimalloc; kmm-glibc and -L additions are not.\n"
"Exit status: 0 if every run succeeded and the checksums agree, 1 if not,\n"
"2 on a usage error.\n");
}

static long parse_long(const char *s, const char *what, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		die("bad %s '%s' (%ld..%ld)", what, s, lo, hi);
	return v;
}

/* Mark the names in a comma-separated list as selected, and the rest not.
 * Three group names stand for several workloads: `programs` (the program
 * workloads), `threaded` (the other workloads that take -t) and `single`
 * (the other ones that do not). */
static void select_workloads(const char *list)
{
	char *copy = xstrdup(list), *tok, *save = NULL;
	int i;

	for (i = 0; i < NWORK; i++)
		workloads[i].selected = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "threaded") == 0 || strcmp(tok, "single") == 0) {
			int threaded = tok[0] == 't';

			for (i = 0; i < NWORK; i++)
				if (!workloads[i].program && workloads[i].threaded == threaded)
					workloads[i].selected = 1;
			continue;
		}
		if (strcmp(tok, "programs") == 0) {
			for (i = 0; i < NWORK; i++)
				if (workloads[i].program)
					workloads[i].selected = 1;
			continue;
		}
		for (i = 0; i < NWORK; i++)
			if (strcmp(workloads[i].name, tok) == 0)
				break;
		if (i == NWORK)
			die("unknown workload '%s' (try --list)", tok);
		workloads[i].selected = 1;
	}
	free(copy);
}

static void select_allocators(const char *list)
{
	char *copy = xstrdup(list), *tok, *save = NULL;
	struct allocator *a;
	int i;

	for (i = 0; i < nalloc; i++)
		allocs[i].selected = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if ((a = find_alloc(tok)) == NULL)
			die("unknown allocator '%s' (try --list)", tok);
		a->selected = 1;
	}
	free(copy);
}

/* ------------------------------------------------------------------------ */
/* Reporting                                                                 */

struct summary {
	double trace_mib;       /* kmm-trace: median log size */
	int n;                  /* successful runs */
	double time, rss;       /* medians (s, KiB) */
	double tmin, tmax;
	double cpu;             /* median user+sys */
	double instr;           /* median instructions (0: not counted) */
};

static void fmt_rss(char *buf, size_t size, double kib)
{
	if (kib >= 1024.0 * 1024.0)
		snprintf(buf, size, "%.2f GiB", kib / (1024.0 * 1024.0));
	else if (kib >= 1024.0)
		snprintf(buf, size, "%.1f MiB", kib / 1024.0);
	else
		snprintf(buf, size, "%.0f KiB", kib);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s != NULL && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static FILE *open_out(const char *path)
{
	FILE *f;

	if (strcmp(path, "-") == 0)
		return stdout;
	if ((f = fopen(path, "w")) == NULL)
		die("cannot write %s: %s", path, strerror(errno));
	return f;
}

static void close_out(FILE *f, const char *path)
{
	if (f == stdout) {
		fflush(f);
		return;
	}
	if (ferror(f) | fclose(f))
		die("error writing %s", path);
}

static void machine_line(FILE *f)
{
	struct utsname u;
	char line[512], model[256] = "unknown CPU";
	FILE *c = fopen("/proc/cpuinfo", "r");

	if (c != NULL) {
		while (fgets(line, sizeof line, c) != NULL) {
			char *colon = strchr(line, ':');

			if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
				snprintf(model, sizeof model, "%s", colon + 2);
				model[strcspn(model, "\n")] = '\0';
				break;
			}
		}
		fclose(c);
	}
	uname(&u);
	fprintf(f, "machine: %s, %ld CPUs online, Linux %s, glibc %s\n", model,
		sysconf(_SC_NPROCESSORS_ONLN), u.release, gnu_get_libc_version());
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reps",       required_argument, NULL, 'n' },
		{ "scale",      required_argument, NULL, 's' },
		{ "threads",    required_argument, NULL, 't' },
		{ "workloads",  required_argument, NULL, 'w' },
		{ "allocators", required_argument, NULL, 'a' },
		{ "kmm",        required_argument, NULL, 'k' },
		{ "lib",        required_argument, NULL, 'L' },
		{ "baseline",   required_argument, NULL, 'b' },
		{ "bin-dir",    required_argument, NULL, 'B' },
		{ "programs-dir", required_argument, NULL, 'P' },
		{ "timeout",    required_argument, NULL, 'T' },
		{ "csv",        required_argument, NULL, 'C' },
		{ "json",       required_argument, NULL, 'J' },
		{ "quiet",      no_argument,       NULL, 'q' },
		{ "list",       no_argument,       NULL, 'l' },
		{ "help",       no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *wlist = NULL, *alist = NULL, *kmm_opt = NULL, *bindir_opt = NULL;
	const char *progdir_opt = NULL;
	const char *baseline_name = "glibc", *csv_path = NULL, *json_path = NULL;
	char *extra[MAXALLOC];
	int nextra = 0, reps = 5, threads = 2, quiet = 0, list = 0;
	double scale = 1.0, timeout = 300.0;
	char *bindir, *end, scale_s[32], threads_s[16];
	int c, i, j, w, rep, nw = 0, na = 0, failures = 0, mismatches = 0;
	int nwid = name_width();
	int widx[NWORK], aidx[MAXALLOC], base = -1, kmm_glibc_given = 0;
	uint64_t progref[NWORK];        /* program workloads: reference checksum */
	struct run *runs;
	struct summary *sum;
	double started, prep_secs = 0;
	FILE *f, *out;

	while ((c = getopt_long(argc, argv, "n:s:t:w:a:k:L:b:B:P:qlh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': reps = (int)parse_long(optarg, "repetition count", 1, 1000); break;
		case 't': threads = (int)parse_long(optarg, "thread count", 1, 1024); break;
		case 's':
			errno = 0;
			scale = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' || !(scale > 0) || scale > 1e6)
				die("bad scale '%s'", optarg);
			break;
		case 'T':
			errno = 0;
			timeout = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' || !(timeout > 0) || timeout > 1e6)
				die("bad timeout '%s'", optarg);
			break;
		case 'w': wlist = optarg; break;
		case 'a': alist = optarg; break;
		case 'k': kmm_opt = optarg; break;
		case 'L':
			if (nextra == MAXALLOC)
				die("too many -L options");
			if (strchr(optarg, '=') == NULL || optarg[0] == '=')
				die("-L wants NAME=PATH, not '%s'", optarg);
			extra[nextra++] = optarg;
			break;
		case 'b': baseline_name = optarg; break;
		case 'B': bindir_opt = optarg; break;
		case 'P': progdir_opt = optarg; break;
		case 'C': csv_path = optarg; break;
		case 'J': json_path = optarg; break;
		case 'q': quiet = 1; break;
		case 'l': list = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc)
		die("unexpected argument '%s' (try --help)", argv[optind]);

	/* the workload programs: --bin-dir, or next to this program */
	if (bindir_opt != NULL) {
		bindir = absolute(bindir_opt);
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

		if (n <= 0)
			die("cannot find my own directory; pass --bin-dir");
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		bindir = xstrdup(self);
	}
	/* the program workloads' scripts: --programs-dir (bench/run passes
	 * its own bench/programs), or programs/ next to the bin-dir (an
	 * in-tree build) */
	progdir = progdir_opt != NULL ? absolute(progdir_opt) : xprintf("%s/../programs", bindir);
	{
		char *real = realpath(progdir, NULL);

		if (real != NULL) {
			free(progdir);
			progdir = real;
		}
	}

	/* the allocators: built-in ones, then -L additions and overrides */
	add_alloc("glibc");
	for (i = 0; i < (int)(sizeof known / sizeof known[0]); i++)
		find_known(add_alloc(known[i].name), &known[i]);
	find_kmm(add_alloc("kmm"), kmm_opt, bindir);
	add_alloc("kmm-glibc")->options = "profile=glibc";
	for (i = 0; i < nextra; i++) {
		char *eq = strchr(extra[i], '=');
		struct allocator *a;

		*eq = '\0';
		a = add_alloc(extra[i]);
		if (strcmp(a->name, "kmm-glibc") == 0)
			kmm_glibc_given = 1;
		a->missing = NULL;
		if (strcmp(a->name, "glibc") == 0 && eq[1] == '\0')
			a->path = NULL;
		else if (is_file(eq + 1))
			a->path = absolute(eq + 1);
		else
			a->missing = xprintf("%s: no such file", eq + 1);
	}
	if (!kmm_glibc_given) {
		/* kmm with glibc's behaviour: the same library, profile=glibc */
		struct allocator *k = find_alloc("kmm"), *g = find_alloc("kmm-glibc");

		g->path = k->path;
		g->missing = k->missing;
	}
	{
		/* kmm writing its trace log: only when asked for (-a kmm-trace) */
		struct allocator *k = find_alloc("kmm"), *t = add_alloc("kmm-trace");

		t->path = k->path;
		t->missing = k->missing;
		t->trace = 1;
		t->selected = 0;
		/* kmm publishing its live view (KMM_LIVE=1): only when asked for */
		struct allocator *l = add_alloc("kmm-live");
		l->path = k->path;
		l->missing = k->missing;
		l->env = "KMM_LIVE=1";
		l->selected = 0;
	}
	{
		/* kmm sampling its heap profile: only when asked for (-a kmm-sample) */
		struct allocator *k = find_alloc("kmm"), *t = add_alloc("kmm-sample");

		t->path = k->path;
		t->missing = k->missing;
		t->sample = 1;
		t->selected = 0;
	}
	if (wlist != NULL)
		select_workloads(wlist);
	if (alist != NULL)
		select_allocators(alist);

	snprintf(scale_s, sizeof scale_s, "%g", scale);
	snprintf(threads_s, sizeof threads_s, "%d", threads);

	if (list) {
		printf("workloads (in %s):\n", bindir);
		for (i = 0; i < NWORK; i++)
			if (!workloads[i].program)
				printf("  %-*s %s%s\n", name_width(), workloads[i].name, workloads[i].what,
				       workloads[i].threaded ? " [-t]" : "");
		printf("program workloads (`programs`; scripts in %s):\n", progdir);
		for (i = 0; i < NWORK; i++) {
			char *why;

			if (!workloads[i].program)
				continue;
			why = program_missing(&workloads[i], scale_s, threads_s);
			printf("  %-*s %s%s\n", name_width(), workloads[i].name, workloads[i].what,
			       workloads[i].threaded ? " [-t]" : "");
			if (why)
				printf("  %-*s (skipped: %s)\n", name_width(), "", why);
			free(why);
		}
		printf("allocators:\n");
		for (i = 0; i < nalloc; i++)
			printf("  %-10s %s%s%s%s%s%s\n", allocs[i].name,
			       allocs[i].missing ? allocs[i].missing :
			       allocs[i].path ? allocs[i].path : "(no preload)",
			       allocs[i].options && !allocs[i].missing ? " with KMM_OPTIONS=" : "",
			       allocs[i].options && !allocs[i].missing ? allocs[i].options : "",
			       allocs[i].env && !allocs[i].missing ? " with " : "",
			       allocs[i].env && !allocs[i].missing ? allocs[i].env : "",
			       allocs[i].sample && !allocs[i].missing ? " with KMM_SAMPLE=512k" : "");
		return 0;
	}

	for (w = 0; w < NWORK; w++) {
		char *p;

		if (!workloads[w].selected)
			continue;
		if (!workloads[w].program) {
			p = xprintf("%s/%s", bindir, workloads[w].name);
			if (!is_exec(p))
				die("workload program %s is missing (run `make bench`, or pass --bin-dir)", p);
			free(p);
		}
		widx[nw++] = w;
	}
	for (i = 0; i < nalloc; i++) {
		if (!allocs[i].selected)
			continue;
		if (allocs[i].missing != NULL) {
			fprintf(stderr, "%s: note: skipping %s: %s\n", prog, allocs[i].name,
				allocs[i].missing);
			continue;
		}
		if (strcmp(allocs[i].name, baseline_name) == 0)
			base = na;
		aidx[na++] = i;
	}
	if (nw == 0 || na == 0)
		die("nothing to run");
	if (base < 0) {
		fprintf(stderr, "%s: note: baseline '%s' is not among the allocators run; "
			"ratios are relative to %s\n", prog, baseline_name, allocs[aidx[0]].name);
		base = 0;
	}

	/* --- program workloads: input and reference run, untimed ------------- */
	started = now();
	{
		/* the runs are out of the terminal's reach (process groups of
		 * their own): ^C and the like must kill them here */
		struct sigaction sa;

		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}
	for (i = 0; i < nw && tmpdir == NULL; i++) {
		if (workloads[widx[i]].program) {
			const char *t = getenv("TMPDIR");
			char *tmpl = xprintf("%s/kmm-bench.XXXXXX", t != NULL && *t != '\0' ? t : "/tmp");

			if (mkdtemp(tmpl) == NULL)
				die("cannot make a temporary directory %s: %s", tmpl, strerror(errno));
			tmpdir = tmpl;
			atexit(remove_tmpdir);
		}
	}
	{
		static const struct allocator plain = { .name = "glibc" };
		int k = 0, nskipped = 0;

		for (i = 0; i < nw; i++) {
			struct workload *wl = &workloads[widx[i]];
			char *argv[8], *datadir, *why;
			struct run r;

			if (!wl->program) {
				widx[k++] = widx[i];
				continue;
			}
			if ((why = program_missing(wl, scale_s, threads_s)) != NULL) {
				wl->skipped = why;
				nskipped++;
				fprintf(stderr, "%s: note: skipping %s: %s\n", prog, wl->name, why);
				continue;
			}
			datadir = xprintf("%s/%s", tmpdir, wl->name);
			if (mkdir(datadir, 0700) != 0)
				die("cannot make %s: %s", datadir, strerror(errno));
			if (!quiet)
				fprintf(stderr, "[prepare] %-*s input", nwid, wl->name);
			script_args(argv, wl, "prepare", scale_s, threads_s);
			run_once(&r, "/bin/sh", argv, &plain, timeout, datadir);
			check_interrupted();
			if (r.exit_code == 0) {
				if (!quiet)
					fprintf(stderr, " %.2fs, reference run (nothing preloaded)", r.wall);
				argv[2] = "run";
				run_once(&r, "/bin/sh", argv, &plain, timeout, datadir);
				check_interrupted();
				if (!quiet)
					fprintf(stderr, r.ok ? " %.2fs\n" : " FAILED\n", r.wall);
			} else if (!quiet) {
				fputc('\n', stderr);
			}
			free(argv[1]);
			if (argv[2][0] == 'p' && r.exit_code == 77) {
				wl->skipped = first_line(r.output, "cannot run");
				nskipped++;
				fprintf(stderr, "%s: note: skipping %s: %s\n", prog, wl->name, wl->skipped);
				continue;
			}
			if (!r.ok) {
				failures++;
				fprintf(stderr, "%s: FAILED: %s: %s: %s\n", prog, wl->name,
					argv[2][0] == 'p' ? "preparing the input failed" :
					"the reference run (nothing preloaded) failed", r.why);
				if (r.output != NULL && r.output[0] != '\0')
					fprintf(stderr, "  output:\n%s%s", r.output,
						r.output[strlen(r.output) - 1] == '\n' ? "" : "\n");
				wl->skipped = xstrdup("FAILED before the timed runs");
				continue;
			}
			progref[widx[i]] = r.checksum;
			widx[k++] = widx[i];
		}
		nw = k;
		prep_secs = now() - started;
		if (nw == 0) {
			fprintf(stderr, "%s: nothing left to run (%d workload(s) skipped, %d failed)\n",
				prog, nskipped, failures);
			return failures ? 1 : 0;
		}
	}

	runs = xmalloc((size_t)reps * (size_t)nw * (size_t)na * sizeof *runs);
#define RUN(rep, wi, ai) (&runs[((size_t)(rep) * (size_t)nw + (size_t)(wi)) * (size_t)na + (size_t)(ai)])

	/* --- run everything, interleaved ------------------------------------ */
	for (rep = 0; rep < reps; rep++) {
		for (i = 0; i < nw; i++) {
			const struct workload *wl = &workloads[widx[i]];
			char *bin, *args[8], *datadir = NULL;

			if (wl->program) {
				bin = xstrdup("/bin/sh");
				script_args(args, wl, "run", scale_s, threads_s);
				datadir = xprintf("%s/%s", tmpdir, wl->name);
			} else {
				bin = xprintf("%s/%s", bindir, wl->name);
				args[0] = bin;
				args[1] = "-s";
				args[2] = scale_s;
				args[3] = wl->threaded ? "-t" : NULL;
				args[4] = threads_s;
				args[5] = NULL;
			}

			if (!quiet)
				fprintf(stderr, "[rep %d/%d] %-*s", rep + 1, reps, nwid, wl->name);
			for (j = 0; j < na; j++) {
				int ai = (j + rep) % na;    /* rotate the order */
				struct run *r = RUN(rep, i, ai);

				run_once(r, bin, args, &allocs[aidx[ai]], timeout, datadir);
				check_interrupted();
				if (!quiet) {
					if (r->ok)
						fprintf(stderr, " %s %.2fs", allocs[aidx[ai]].name, r->wall);
					else
						fprintf(stderr, " %s FAILED", allocs[aidx[ai]].name);
				}
			}
			if (!quiet)
				fputc('\n', stderr);
			if (wl->program)
				free(args[1]);
			free(datadir);
			free(bin);
		}
	}
	remove_tmpdir();

	/* --- checks: every run ok, one checksum per workload ------------------ */
	for (i = 0; i < nw; i++) {
		const struct run *ref = NULL;
		int ai, refai = -1;
		uint64_t refsum = 0;
		char *refname;

		if (workloads[widx[i]].program) {
			/* a program workload: its untimed run with nothing preloaded */
			refsum = progref[widx[i]];
			refname = xstrdup("the reference run's (nothing preloaded)");
		} else {
			/* the baseline's first good run, else any good run */
			for (rep = 0; rep < reps && ref == NULL; rep++)
				if (RUN(rep, i, base)->ok)
					ref = RUN(rep, i, base), refai = base;
			for (rep = 0; rep < reps && ref == NULL; rep++)
				for (ai = 0; ai < na && ref == NULL; ai++)
					if (RUN(rep, i, ai)->ok)
						ref = RUN(rep, i, ai), refai = ai;
			if (ref != NULL)
				refsum = ref->checksum;
			refname = xprintf("%s's", refai >= 0 ? allocs[aidx[refai]].name : "?");
		}
		for (rep = 0; rep < reps; rep++) {
			for (ai = 0; ai < na; ai++) {
				struct run *r = RUN(rep, i, ai);

				if (r->ok && r->checksum != refsum) {
					r->ok = 0;
					r->why = xprintf("checksum %016" PRIx64 " differs from %s %016"
							 PRIx64, r->checksum, refname, refsum);
					mismatches++;
				}
				if (!r->ok) {
					failures++;
					fprintf(stderr, "%s: FAILED: %s under %s, rep %d: %s\n", prog,
						workloads[widx[i]].name, allocs[aidx[ai]].name,
						rep + 1, r->why);
					if (r->output != NULL && r->output[0] != '\0') {
						char *o = r->output;
						size_t len = strlen(o);

						fprintf(stderr, "  output:\n");
						if (len > 1200)
							fprintf(stderr, "    ...\n"), o += len - 1200;
						fprintf(stderr, "%s%s", o, len && o[strlen(o) - 1] == '\n' ? "" : "\n");
					}
				}
			}
		}
		free(refname);
	}

	/* the table goes to stdout, unless machine-readable output goes there */
	out = (csv_path && strcmp(csv_path, "-") == 0) ||
	      (json_path && strcmp(json_path, "-") == 0) ? stderr : stdout;

	/* --- summary ---------------------------------------------------------- */
	sum = xmalloc((size_t)nw * (size_t)na * sizeof *sum);
	for (i = 0; i < nw; i++) {
		for (j = 0; j < na; j++) {
			struct summary *s = &sum[i * na + j];
			double *t = xmalloc((size_t)reps * sizeof *t);
			double *m = xmalloc((size_t)reps * sizeof *m);
			double *cpu = xmalloc((size_t)reps * sizeof *cpu);
			double *ins = xmalloc((size_t)reps * sizeof *ins);
			double *tb = xmalloc((size_t)reps * sizeof *tb);
			int ni = 0;

			for (rep = 0; rep < reps; rep++) {
				const struct run *r = RUN(rep, i, j);

				if (!r->ok)
					continue;
				t[s->n] = r->wall;
				m[s->n] = (double)r->maxrss;
				cpu[s->n] = r->user + r->sys;
				tb[s->n] = (double)r->trace_bytes / (1024.0 * 1024.0);
				if (r->instr > 0)
					ins[ni++] = (double)r->instr;
				s->n++;
			}
			if (s->n > 0) {
				s->time = median(t, s->n);
				s->tmin = t[0];
				s->tmax = t[s->n - 1];
				s->rss = median(m, s->n);
				s->cpu = median(cpu, s->n);
				s->trace_mib = median(tb, s->n);
			}
			/* only when every successful run was counted */
			s->instr = ni > 0 && ni == s->n ? median(ins, ni) : 0;
			free(t);
			free(m);
			free(cpu);
			free(ins);
			free(tb);
		}
	}

	fprintf(out, "\nkmm benchmarks: %d repetitions (interleaved), scale %s, %d threads, %.0f s",
	       reps, scale_s, threads, now() - started);
	if (any_program(nw, widx))
		fprintf(out, " (%.0f s of it preparing the program workloads)", prep_secs);
	fputc('\n', out);
	machine_line(out);
	for (j = 0; j < na; j++) {
		const struct allocator *a = &allocs[aidx[j]];

		fprintf(out, "  %-10s %s", a->name, a->path ? a->path : "(system malloc, no preload)");
		if (a->options != NULL)
			fprintf(out, " with KMM_OPTIONS=%s%s%s",
				getenv("KMM_OPTIONS") && *getenv("KMM_OPTIONS") ? getenv("KMM_OPTIONS") : "",
				getenv("KMM_OPTIONS") && *getenv("KMM_OPTIONS") ? "," : "", a->options);
		if (a->env != NULL)
			fprintf(out, " with %s", a->env);
		fputc('\n', out);
	}
	fprintf(out, "\ntime: median wall seconds; range: (max-min)/median; peak RSS: median ru_maxrss;\n"
		     "instr: median user-space instructions (perf counter; '-' if unavailable),\n"
		     "       the steadiest measure of an allocator's own cost on a noisy machine\n");
	fprintf(out, "ratios are to %s (below 1 = faster / smaller)\n\n", allocs[aidx[base]].name);
	fprintf(out, "%-*s %-10s %9s %6s %8s %11s %8s %9s %8s\n",
	       nwid, "workload", "allocator", "time", "range", "x time", "peak RSS", "x RSS", "instr", "x instr");
	for (i = 0; i < nw; i++) {
		const struct summary *b = &sum[i * na + base];

		for (j = 0; j < na; j++) {
			const struct summary *s = &sum[i * na + j];
			char rss[32], range[16], tr[16], mr[16], ins[16], ir[16];

			fprintf(out, "%-*s %-10s ", nwid, j == 0 ? workloads[widx[i]].name : "",
			       allocs[aidx[j]].name);
			if (s->n == 0) {
				fprintf(out, "%9s\n", "FAILED");
				continue;
			}
			fmt_rss(rss, sizeof rss, s->rss);
			snprintf(range, sizeof range, "%.0f%%", 100.0 * (s->tmax - s->tmin) / s->time);
			if (b->n > 0) {
				snprintf(tr, sizeof tr, "%.2f", s->time / b->time);
				snprintf(mr, sizeof mr, "%.2f", s->rss / b->rss);
			} else {
				strcpy(tr, "-");
				strcpy(mr, "-");
			}
			if (s->instr > 0)
				snprintf(ins, sizeof ins, "%.3gG", s->instr / 1e9);
			else
				strcpy(ins, "-");
			if (s->instr > 0 && b->instr > 0)
				snprintf(ir, sizeof ir, "%.2f", s->instr / b->instr);
			else
				strcpy(ir, "-");
			fprintf(out, "%8.3fs %6s %8s %11s %8s %9s %8s%s\n", s->time, range, tr, rss, mr,
			       ins, ir, s->n < reps ? "  (failed runs left out)" : "");
		}
	}

	fprintf(out, "\ngeometric mean of the ratios to %s over the workloads:\n", allocs[aidx[base]].name);
	fprintf(out, "%-10s %8s %8s %8s\n", "allocator", "x time", "x RSS", "x instr");
	for (j = 0; j < na; j++) {
		double lt = 0, lm = 0, li = 0;
		int k = 0, ki = 0;
		char gi[16];

		for (i = 0; i < nw; i++) {
			const struct summary *s = &sum[i * na + j], *b = &sum[i * na + base];

			if (s->n == 0 || b->n == 0)
				continue;
			lt += log(s->time / b->time);
			lm += log(s->rss / b->rss);
			k++;
			if (s->instr > 0 && b->instr > 0) {
				li += log(s->instr / b->instr);
				ki++;
			}
		}
		if (ki == k && k > 0)
			snprintf(gi, sizeof gi, "%.2f", exp(li / ki));
		else
			strcpy(gi, "-");
		if (k == 0)
			fprintf(out, "%-10s %8s %8s %8s\n", allocs[aidx[j]].name, "-", "-", "-");
		else
			fprintf(out, "%-10s %8.2f %8.2f %8s%s\n", allocs[aidx[j]].name, exp(lt / k),
			       exp(lm / k), gi, k < nw ? "  (over the workloads that succeeded)" : "");
	}
	/* kmm, and the other allocators that are not peers (kmm-glibc, -L
	 * ones), against glibc and against the best peer: the fastest of
	 * glibc, jemalloc, tcmalloc and mimalloc on each workload */
	{
		int jg = -1, npeer = 0, nk = 0, kj[MAXALLOC], k;
		int ng[MAXALLOC] = { 0 }, ag[MAXALLOC] = { 0 }, np[MAXALLOC] = { 0 }, ap[MAXALLOC] = { 0 };
		char *lg[MAXALLOC], *lp[MAXALLOC];

		for (j = 0; j < na; j++) {
			if (strcmp(allocs[aidx[j]].name, "glibc") == 0)
				jg = j;
			if (is_peer(allocs[aidx[j]].name))
				npeer++;
			else
				kj[nk++] = j;
		}
		if (npeer > 0 && nk > 0) {
			fprintf(out, "\nagainst glibc and the best peer (the fastest of glibc, jemalloc, tcmalloc\n"
				     "and mimalloc on the workload), by median time:\n");
			fprintf(out, "%-*s %-9s %9s", nwid, "workload", "best peer", "time");
			for (k = 0; k < nk; k++) {
				fprintf(out, " | %9s %7s %7s", allocs[aidx[kj[k]]].name, "x glibc", "x peer");
				lg[k] = xstrdup("");
				lp[k] = xstrdup("");
			}
			fputc('\n', out);
			for (i = 0; i < nw; i++) {
				const struct summary *g = jg >= 0 ? &sum[i * na + jg] : NULL, *bp = NULL;
				int jb = -1;

				for (j = 0; j < na; j++) {
					const struct summary *s = &sum[i * na + j];

					if (is_peer(allocs[aidx[j]].name) && s->n > 0 && (bp == NULL || s->time < bp->time))
						bp = s, jb = j;
				}
				fprintf(out, "%-*s %-9s ", nwid, workloads[widx[i]].name,
					bp ? allocs[aidx[jb]].name : "-");
				if (bp)
					fprintf(out, "%8.3fs", bp->time);
				else
					fprintf(out, "%9s", "-");
				for (k = 0; k < nk; k++) {
					const struct summary *s = &sum[i * na + kj[k]];
					const char *name = workloads[widx[i]].name;
					char tg[16] = "-", tp[16] = "-";
					char *old;

					if (s->n == 0) {
						fprintf(out, " | %9s %7s %7s", "FAILED", "-", "-");
						continue;
					}
					if (g != NULL && g->n > 0) {
						snprintf(tg, sizeof tg, "%.2f", s->time / g->time);
						ng[k]++;
						if (s->time > 1.05 * g->time) {
							ag[k]++;
							old = lg[k];
							lg[k] = xprintf("%s%s%s", old, *old ? ", " : "", name);
							free(old);
						}
					}
					if (bp != NULL) {
						snprintf(tp, sizeof tp, "%.2f", s->time / bp->time);
						np[k]++;
						if (s->time > 1.5 * bp->time) {
							ap[k]++;
							old = lp[k];
							lp[k] = xprintf("%s%s%s", old, *old ? ", " : "", name);
							free(old);
						}
					}
					fprintf(out, " | %8.3fs %7s %7s", s->time, tg, tp);
				}
				fputc('\n', out);
			}
			for (k = 0; k < nk; k++) {
				fprintf(out, "%s: slower than 1.05x glibc on %d of %d workloads%s%s%s\n",
					allocs[aidx[kj[k]]].name, ag[k], ng[k], *lg[k] ? " (" : "", lg[k],
					*lg[k] ? ")" : "");
				fprintf(out, "%*s  slower than 1.5x the best peer on %d of %d%s%s%s\n",
					(int)strlen(allocs[aidx[kj[k]]].name), "", ap[k], np[k],
					*lp[k] ? " (" : "", lp[k], *lp[k] ? ")" : "");
				free(lg[k]);
				free(lp[k]);
			}
		}
	}

	/* the cost of the trace log: kmm-trace against kmm, same library */
	{
		int jk = -1, jt = -1;

		for (j = 0; j < na; j++) {
			if (strcmp(allocs[aidx[j]].name, "kmm") == 0)
				jk = j;
			if (allocs[aidx[j]].trace)
				jt = j;
		}
		if (jk >= 0 && jt >= 0) {
			fprintf(out, "\ntrace log (KMM_TRACE): kmm-trace against kmm, median time and log size\n");
			fprintf(out, "%-*s %8s %10s %10s\n", nwid, "workload", "x time", "log", "MiB/s");
			for (i = 0; i < nw; i++) {
				const struct summary *k = &sum[i * na + jk], *t = &sum[i * na + jt];

				if (k->n == 0 || t->n == 0)
					continue;
				fprintf(out, "%-*s %8.2f %7.1f MiB %10.0f\n", nwid, workloads[widx[i]].name,
					t->time / k->time, t->trace_mib, t->trace_mib / t->time);
			}
		}
	}

	for (i = 0, j = 0; i < NWORK; i++) {
		if (workloads[i].selected && workloads[i].skipped != NULL) {
			fprintf(out, "%s%s: %s\n", j++ ? "  " : "\nnot run:\n  ", workloads[i].name,
				workloads[i].skipped);
		}
	}
	if (failures)
		fprintf(out, "\n%d run(s) FAILED%s; see the messages above.\n", failures,
		       mismatches ? " (including checksum mismatches)" : "");
	else
		fprintf(out, "\nall %d runs exited 0 with matching checksums.\n", reps * nw * na);

	/* --- machine-readable output ------------------------------------------ */
	if (csv_path != NULL) {
		f = open_out(csv_path);
		fprintf(f, "workload,allocator,rep,ok,wall_s,user_s,sys_s,maxrss_kib,instructions,checksum\n");
		for (rep = 0; rep < reps; rep++)
			for (i = 0; i < nw; i++)
				for (j = 0; j < na; j++) {
					const struct run *r = RUN(rep, i, j);

					fprintf(f, "%s,%s,%d,%d,%.6f,%.6f,%.6f,%ld,%" PRIu64 ",%016" PRIx64 "\n",
						workloads[widx[i]].name, allocs[aidx[j]].name, rep + 1,
						r->ok, r->wall, r->user, r->sys, r->maxrss, r->instr,
						r->checksum);
				}
		close_out(f, csv_path);
	}
	if (json_path != NULL) {
		f = open_out(json_path);
		fprintf(f, "{\n  \"reps\": %d, \"scale\": %s, \"threads\": %d, \"baseline\": ",
			reps, scale_s, threads);
		json_str(f, allocs[aidx[base]].name);
		fprintf(f, ",\n  \"allocators\": {");
		for (j = 0; j < na; j++) {
			fprintf(f, "%s\n    ", j ? "," : "");
			json_str(f, allocs[aidx[j]].name);
			fputs(": ", f);
			if (allocs[aidx[j]].path)
				json_str(f, allocs[aidx[j]].path);
			else
				fputs("null", f);
		}
		fprintf(f, "\n  },\n  \"runs\": [");
		for (rep = 0; rep < reps; rep++)
			for (i = 0; i < nw; i++)
				for (j = 0; j < na; j++) {
					const struct run *r = RUN(rep, i, j);

					fprintf(f, "%s\n    {\"workload\": \"%s\", \"allocator\": ",
						rep || i || j ? "," : "", workloads[widx[i]].name);
					json_str(f, allocs[aidx[j]].name);
					fprintf(f, ", \"rep\": %d, \"ok\": %s, \"wall_s\": %.6f, "
						"\"user_s\": %.6f, \"sys_s\": %.6f, \"maxrss_kib\": %ld, "
						"\"instructions\": %" PRIu64 ", "
						"\"checksum\": \"%016" PRIx64 "\"", rep + 1,
						r->ok ? "true" : "false", r->wall, r->user, r->sys,
						r->maxrss, r->instr, r->checksum);
					if (!r->ok) {
						fputs(", \"error\": ", f);
						json_str(f, r->why);
					}
					fputc('}', f);
				}
		fprintf(f, "\n  ],\n  \"summary\": [");
		for (i = 0; i < nw; i++)
			for (j = 0; j < na; j++) {
				const struct summary *s = &sum[i * na + j], *b = &sum[i * na + base];

				fprintf(f, "%s\n    {\"workload\": \"%s\", \"allocator\": ",
					i || j ? "," : "", workloads[widx[i]].name);
				json_str(f, allocs[aidx[j]].name);
				fprintf(f, ", \"ok_runs\": %d", s->n);
				if (s->n > 0)
					fprintf(f, ", \"time_s\": %.6f, \"cpu_s\": %.6f, \"maxrss_kib\": %.1f",
						s->time, s->cpu, s->rss);
				if (s->n > 0 && b->n > 0)
					fprintf(f, ", \"time_ratio\": %.4f, \"rss_ratio\": %.4f",
						s->time / b->time, s->rss / b->rss);
				if (s->instr > 0)
					fprintf(f, ", \"instructions\": %.0f", s->instr);
				if (s->instr > 0 && b->instr > 0)
					fprintf(f, ", \"instr_ratio\": %.4f", s->instr / b->instr);
				fputc('}', f);
			}
		fprintf(f, "\n  ],\n  \"not_run\": {");
		for (i = 0, j = 0; i < NWORK; i++) {
			if (workloads[i].selected && workloads[i].skipped != NULL) {
				fprintf(f, "%s\n    ", j++ ? "," : "");
				json_str(f, workloads[i].name);
				fputs(": ", f);
				json_str(f, workloads[i].skipped);
			}
		}
		fprintf(f, "%s},\n  \"failures\": %d\n}\n", j ? "\n  " : "", failures);
		close_out(f, json_path);
	}
	return failures ? 1 : 0;
}

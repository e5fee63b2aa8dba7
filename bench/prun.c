/*
 * bench/prun.c — run one program for the scripts that run the public
 * mimalloc-bench suite, and say how it ended.
 *
 * bench/mimalloc-bench.sh (its benchmark programs) and bench/security.sh
 * (its security tests) compile this file with $CC into their build
 * directory (not into the kmm tree, and not with make) and run every
 * program through it, one at a time:
 *
 *   prun -T SEC [-i IN] [-o OUT] [-e ERR] [-p PRELOAD] [-s] [-c] -- PROGRAM ARGS...
 *
 * It forks; the child sets LD_PRELOAD to PRELOAD (unsets it when PRELOAD is
 * empty or not given: glibc's malloc), reads stdin from IN and writes
 * stdout and stderr to OUT and ERR (each /dev/null unless given; OUT and
 * ERR are truncated), goes into a process group of its own (-s: a session
 * of its own, so no controlling terminal either), turns core dumps off if
 * -c says so, and execs PROGRAM (looked up in PATH when it has no slash).
 * The parent waits with wait4; after SEC seconds (0: no limit) it kills the
 * child's process group and the child with SIGKILL.
 *
 * It prints one line, "STATUS WALL_SECONDS MAXRSS_KIB": STATUS is exit:N,
 * signal:N (N the signal's number), timeout, or start-failed:WHY when the
 * child could not open a redirection or exec PROGRAM (WHY is strerror's
 * text and may contain spaces: the last two fields are the numbers);
 * WALL_SECONDS runs from just before the fork to the end of the wait,
 * MAXRSS_KIB is the child's ru_maxrss.  The child reports a failed start
 * to the parent through a close-on-exec pipe, so the program's own exit
 * codes (126, 127, ...) are never taken for one.
 *
 * prun exits 0 when it printed that line, whatever STATUS is, and 2 on a
 * usage error or when it cannot fork, make the pipe or wait.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t alarmed;
static void on_alarm(int sig) { (void)sig; alarmed = 1; }

static void usage(void)
{
	fputs("usage: prun -T SEC [-i IN] [-o OUT] [-e ERR] [-p PRELOAD] [-s] [-c]"
	      " -- PROGRAM ARGS...\n", stderr);
	exit(2);
}

/* In the child: tell the parent why it could not start (errno), and end. */
static void start_failed(int report, int code)
{
	int e = errno;

	if (write(report, &e, sizeof e) < 0)
		_exit(code);
	_exit(code);
}

static void redirect(const char *path, int fd, int flags, int report)
{
	int f = open(path, flags, 0644);

	if (f < 0 || dup2(f, fd) < 0)
		start_failed(report, 126);
	if (f != fd)
		close(f);
}

int main(int argc, char **argv)
{
	const char *in = "/dev/null", *out = "/dev/null", *err = "/dev/null";
	const char *preload = "";
	unsigned long timeout = 0;
	int c, st = 0, timed_out = 0, session = 0, nocore = 0, have_timeout = 0;
	int pfd[2], e;
	char *end;
	struct timespec t0, t1;
	struct rusage ru;
	struct sigaction sa;
	pid_t pid;

	while ((c = getopt(argc, argv, "+T:i:o:e:p:sc")) != -1) {
		switch (c) {
		case 'T':
			errno = 0;
			timeout = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end)
				usage();
			if (timeout > 1000000000UL)	/* alarm's unsigned */
				timeout = 1000000000UL;
			have_timeout = 1;
			break;
		case 'i': in = optarg; break;
		case 'o': out = optarg; break;
		case 'e': err = optarg; break;
		case 'p': preload = optarg; break;
		case 's': session = 1; break;
		case 'c': nocore = 1; break;
		default: usage();
		}
	}
	if (!have_timeout || optind >= argc)
		usage();
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		perror("prun: pipe2");
		return 2;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: wait4 returns EINTR */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("prun: fork");
		return 2;
	}
	if (pid == 0) {
		close(pfd[0]);
		if (session)
			setsid();	/* no terminal, killed as a group */
		else
			setpgid(0, 0);
		if (nocore) {
			struct rlimit rl = { 0, 0 };
			setrlimit(RLIMIT_CORE, &rl);
		}
		if (*preload)
			setenv("LD_PRELOAD", preload, 1);
		else
			unsetenv("LD_PRELOAD");
		redirect(in, 0, O_RDONLY, pfd[1]);
		redirect(out, 1, O_WRONLY | O_CREAT | O_TRUNC, pfd[1]);
		redirect(err, 2, O_WRONLY | O_CREAT | O_TRUNC, pfd[1]);
		execvp(argv[optind], argv + optind);
		start_failed(pfd[1], 127);
	}
	close(pfd[1]);
	/* Both sides set the group, whichever runs first; a session leader's
	 * group cannot be changed (and setsid fails in a group leader). */
	if (!session)
		setpgid(pid, pid);
	alarm((unsigned)timeout);
	for (;;) {
		pid_t r = wait4(pid, &st, 0, &ru);
		if (r == pid)
			break;
		if (r < 0 && errno == EINTR) {
			if (alarmed && !timed_out) {
				timed_out = 1;
				kill(-pid, SIGKILL);
				kill(pid, SIGKILL);
			}
			continue;
		}
		perror("prun: wait4");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	alarm(0);
	if (read(pfd[0], &e, sizeof e) == (ssize_t)sizeof e)
		printf("start-failed:%s", strerror(e));
	else if (timed_out)
		printf("timeout");
	else if (WIFEXITED(st))
		printf("exit:%d", WEXITSTATUS(st));
	else
		printf("signal:%d", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	printf(" %.6f %ld\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       ru.ru_maxrss);
	return 0;
}

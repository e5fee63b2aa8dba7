/*
 * sigfork — fork from signal handlers while threads allocate.
 *
 *   sigfork THREADS FORKS SENDERS
 *
 * THREADS threads churn malloc, calloc, realloc, memalign and free over
 * blocks of 16 B to 300 KB, each filled with a pattern checked before it
 * is freed.  SENDERS threads send SIGUSR1 to a random churning thread and
 * wait for that signal's handler to finish (with several senders, handlers
 * run on several threads at once).  The handler forks; the child
 * allocates, checks and frees blocks of each kind, then _exits; the main
 * thread reaps the children (at most 32 outstanding).  Bounds: a child is
 * killed by alarm() after 20 s (and counted unclean); if no child is
 * reaped for 30 s the program prints "stuck" and exits 3.  SENDERS 0: no
 * signals, the churn alone for a second (the helper's own check).
 *
 * Output: "forks N/M clean" (children that exited 0, or 10: those whose
 * mallinfo2 read all zero, as kmm's rescue heap answers, counted in
 * "children with no heap statistics (rescued) R"), "threads T ok" (no
 * pattern was found damaged), "interrupted malloc A free B realloc C"
 * (handlers that interrupted a call, as glibc's tst-mallocfork2 counts).
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 128
#define MAXT 64

static int nthreads, nforks;
static pthread_t churners[MAXT];
static atomic_int forks_done, forks_clean, forks_rescued, handlers_done, forked;
static atomic_int stop, damaged;
static atomic_int in_malloc, in_free, in_realloc;
static __thread volatile int where;   /* 1 malloc, 2 free, 3 realloc */

static void die(const char *msg)
{
	ssize_t r = write(2, msg, strlen(msg));
	(void)r;
	_exit(3);
}

static unsigned char pat(const void *p, size_t i)
{
	return (unsigned char)(((uintptr_t)p >> 4) + i * 7);
}

static void fill(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 61)
		p[i] = pat(p, i);
}

static int intact(const unsigned char *p, size_t n, const unsigned char *orig)
{
	for (size_t i = 0; i < n; i += 61)
		if (p[i] != pat(orig, i))
			return 0;
	return 1;
}

/* In the child: one block of each kind, checked, freed. */
static int child_allocates(void)
{
	unsigned char *a = malloc(100);
	unsigned char *z = calloc(1000, 4);
	unsigned char *big = malloc(200000);
	void *al = memalign(4096, 5000);
	if (!a || !z || !big || !al || ((uintptr_t)al & 4095))
		return 1;
	for (int i = 0; i < 4000; i++)
		if (z[i])
			return 2;
	fill(a, 100);
	unsigned char *orig = a;
	a = realloc(a, 300000);   /* small to big: a copy */
	if (!a || !intact(a, 100, orig))
		return 3;
	memset(big, 7, 200000);
	big = realloc(big, 400000);
	if (!big || big[199999] != 7)
		return 4;
	free(a);
	free(z);
	free(big);
	free(al);
	/* kmm's rescue heap (a fork whose heap could not be trusted) reads
	 * no statistics: 10 says which children it served */
	struct mallinfo2 mi = mallinfo2();
	return mi.arena == 0 && mi.hblkhd == 0 ? 10 : 0;
}

static void on_usr1(int sig)
{
	(void)sig;
	int saved = errno;
	int w = where;
	if (w == 1)
		in_malloc++;
	else if (w == 2)
		in_free++;
	else if (w == 3)
		in_realloc++;
	pid_t pid = fork();
	if (pid < 0)
		die("sigfork: fork failed\n");
	if (pid == 0) {
		alarm(20);
		_exit(child_allocates());
	}
	forked++;
	handlers_done++;
	errno = saved;
}

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
	unsigned char *blk[SLOTS] = { 0 };
	unsigned char *orig[SLOTS];
	size_t len[SLOTS] = { 0 };
	while (!stop) {
		int s = rand_r(&seed) % SLOTS;
		if (blk[s]) {
			if (!intact(blk[s], len[s], orig[s]))
				damaged++;
			if (rand_r(&seed) % 4 == 0) {
				size_t n = rand_r(&seed) % 5000 + 1;
				where = 3;
				unsigned char *r = realloc(blk[s], n);
				where = 0;
				if (!r)
					die("sigfork: realloc failed\n");
				size_t keep = n < len[s] ? n : len[s];
				if (!intact(r, keep, orig[s]))
					damaged++;
				fill(r, n);
				blk[s] = orig[s] = r;
				len[s] = n;
				continue;
			}
			where = 2;
			free(blk[s]);
			where = 0;
			blk[s] = NULL;
			continue;
		}
		int kind = rand_r(&seed) % 16;
		size_t n = kind == 0 ? (size_t)(rand_r(&seed) % 300000) + 1 : (size_t)(rand_r(&seed) % 2000) + 16;
		where = 1;
		unsigned char *p = kind == 1 ? calloc(1, n) : kind == 2 ? memalign(64, n) : malloc(n);
		where = 0;
		if (!p)
			die("sigfork: allocation failed\n");
		fill(p, n);
		blk[s] = orig[s] = p;
		len[s] = n;
	}
	for (int s = 0; s < SLOTS; s++)
		free(blk[s]);
	return NULL;
}

static void *sender(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 40503u + 1;
	while (!stop && forked < nforks) {
		while (forked - forks_done > 32 && !stop)
			usleep(1000);
		int before = handlers_done;
		if (pthread_kill(churners[rand_r(&seed) % nthreads], SIGUSR1) != 0)
			die("sigfork: pthread_kill failed\n");
		while (handlers_done == before && !stop)
			sched_yield();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: sigfork THREADS FORKS SENDERS\n");
		return 2;
	}
	nthreads = atoi(argv[1]);
	nforks = atoi(argv[2]);
	int nsenders = atoi(argv[3]);
	if (nthreads < 1 || nthreads > MAXT || nforks < 1 || nsenders < 0 || nsenders > MAXT)
		return 2;
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&churners[i], NULL, churn, (void *)(uintptr_t)(i + 1)) != 0)
			die("sigfork: pthread_create failed\n");
	/* senders block SIGUSR1: only churning threads take it */
	sigset_t usr1, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &old);
	pthread_t senders[MAXT];
	for (int i = 0; i < nsenders; i++)
		if (pthread_create(&senders[i], NULL, sender, (void *)(uintptr_t)(i + 1)) != 0)
			die("sigfork: pthread_create failed\n");

	if (nsenders == 0) {   /* no signals: the churn alone, for a second */
		sleep(1);
		nforks = 0;
	}
	/* reap, and check progress */
	time_t since = time(NULL);
	while (forks_done < nforks) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid > 0) {
			forks_done++;
			if (WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 10))
				forks_clean++;
			if (WIFEXITED(st) && WEXITSTATUS(st) == 10)
				forks_rescued++;
			since = time(NULL);
			continue;
		}
		if (time(NULL) - since > 30) {
			printf("stuck after %d forks\n", (int)forks_done);
			fflush(stdout);
			_exit(3);
		}
		usleep(500);
	}
	stop = 1;
	for (int i = 0; i < nsenders; i++)
		pthread_join(senders[i], NULL);
	for (int i = 0; i < nthreads; i++)
		pthread_join(churners[i], NULL);
	printf("forks %d/%d clean\n", (int)forks_clean, (int)forks_done);
	printf("children with no heap statistics (rescued) %d\n", (int)forks_rescued);
	printf("interrupted malloc %d free %d realloc %d\n", (int)in_malloc, (int)in_free, (int)in_realloc);
	if (damaged)
		printf("threads %d: %d blocks damaged\n", nthreads, (int)damaged);
	else
		printf("threads %d ok\n", nthreads);
	return damaged || forks_clean != forks_done ? 1 : 0;
}

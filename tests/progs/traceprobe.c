/*
 * traceprobe.c — a program whose allocations are known, for the trace log
 * tests (tests/integration/trace.sh).  Run with libkmm.so preloaded and
 * KMM_TRACE set; it prints what the log must show.
 *
 *   traceprobe known    1000 malloc(1111) freed again, 40 calloc(7, 77)
 *                       freed again, a realloc chain, a memalign, an 8 MiB
 *                       block, and three leaks: two malloc(4321) from
 *                       leak_twice() and one calloc(3, 555) from leak_once().
 *                       Prints "leak ADDRESS SIZE FUNCTION" for each.
 *   traceprobe threads  three threads, each 500 malloc(2222)/free pairs and
 *                       one leaked malloc(3333); then a fork: the child
 *                       makes 100 malloc(4444)/free pairs and exits
 *                       normally.  Prints "child PID" and the leaks.
 *   traceprobe cut      100 malloc(5555) and _exit(0): no end block.
 *
 * The sizes are unusual on purpose: the tests count the program's calls
 * among those of the dynamic loader and libc by size.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile sink;   /* keeps the compiler from dropping allocations */

/* The store after the call keeps it from being a tail call, so the
 * return address (the trace's "caller") lies in these functions. */
static __attribute__((noinline)) void *leak_twice(void)
{
	void *p = malloc(4321);
	sink = p;
	return p;
}

static __attribute__((noinline)) void *leak_once(void)
{
	void *p = calloc(3, 555);
	sink = p;
	return p;
}

static int known(void)
{
	static void *p[1000];
	for (int i = 0; i < 1000; i++) {
		p[i] = malloc(1111);
		memset(p[i], i, 1111);
	}
	for (int i = 0; i < 1000; i++)
		free(p[i]);
	for (int i = 0; i < 40; i++)
		p[i] = calloc(7, 77);
	for (int i = 0; i < 40; i++)
		free(p[i]);
	char *r = malloc(100);
	for (size_t n = 200; n <= 6400; n *= 2)
		r = realloc(r, n);
	free(r);
	void *al = NULL;
	if (posix_memalign(&al, 256, 3000) != 0)
		return 1;
	free(al);
	char *big = malloc((size_t)8 << 20);
	memset(big, 1, (size_t)8 << 20);
	free(big);

	void *a = leak_twice(), *b = leak_twice(), *c = leak_once();
	sink = a;
	sink = b;
	sink = c;
	printf("leak %p 4321 leak_twice\nleak %p 4321 leak_twice\nleak %p 1665 leak_once\n", a, b, c);
	return 0;
}

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 500; i++) {
		void *q = malloc(2222);
		memset(q, 1, 2222);
		free(q);
	}
	return malloc(3333);   /* leaked: the main thread only prints it */
}

static int threads(void)
{
	pthread_t t[3];
	void *leaked[3];
	for (int i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			return 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], &leaked[i]);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		for (int i = 0; i < 100; i++) {
			void *q = malloc(4444);
			sink = q;
			free(q);
		}
		exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	printf("child %d\n", (int)pid);
	for (int i = 0; i < 3; i++)
		printf("leak %p 3333 worker\n", leaked[i]);
	return 0;
}

static int cut(void)
{
	for (int i = 0; i < 100; i++)
		sink = malloc(5555);
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "known") == 0)
		return known();
	if (argc == 2 && strcmp(argv[1], "threads") == 0)
		return threads();
	if (argc == 2 && strcmp(argv[1], "cut") == 0)
		return cut();
	fprintf(stderr, "usage: traceprobe known|threads|cut\n");
	return 2;
}

/*
 * leakprobe.c — a program whose leaks are known, for the leak scanner's
 * tests (tests/integration/leakcheck.sh).  Run with libkmm.so preloaded
 * and KMM_LEAKCHECK=1; it calls kmm_leak_check() (found with dlsym) at
 * chosen points and prints what the reports must say.
 *
 *   leakprobe known DIR   builds blocks that are referenced only from a
 *                         global, only from another block (a list of 100
 *                         nodes, a chain of interior pointers, a block
 *                         inside a big block), only from the stack of a
 *                         function still running, only from another
 *                         thread's stack (the thread waits on a barrier),
 *                         only from TLS (the main thread's and the other
 *                         thread's); and known leaks, from leak_* functions.
 *                         Scans into DIR/scan1 (all of the above live),
 *                         DIR/child (a forked child, where the other
 *                         thread does not exist) and DIR/scan2 (the thread
 *                         gone, the stack block freed), then exits (the
 *                         exit report: the same leaks).  Prints
 *                         "expect FUNCTION SIZE COUNT" for every leak,
 *                         "child-expect ..." for what only the child lacks,
 *                         "nonleak SIZE" for every size that must not be
 *                         reported, "scanN RESULT" for what the calls
 *                         returned.
 *   leakprobe bench N DIR N blocks of 48 bytes held in an array, scanned
 *                         (DIR/bench-all: no leak), then every other one
 *                         dropped (DIR/bench-half: N/2 leaks).
 *   leakprobe churn N     N malloc/free pairs of 8..1024 bytes; prints the
 *                         time taken (the tracking's cost).
 *   leakprobe stress DIR  three threads allocate, reallocate and free
 *                         (big blocks too) while the main thread scans 20
 *                         times (DIR/stressN), the known leaks present.
 *   leakprobe off         prints what kmm_leak_check(-1) says without
 *                         KMM_LEAKCHECK: "off RESULT ERRNO".
 *
 * Known leaks are allocated in noinline functions and their only pointer
 * overwritten; the stack below is scrubbed before each scan, so that no
 * dead copy of a pointer survives in a stack slot or a callee-saved
 * register.  Functions are exported (-rdynamic) so that the report names
 * them.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define EXPORT __attribute__((visibility("default")))

static int (*leak_check)(int fd);
static void *volatile sink;

/* ---- known non-leaks ------------------------------------------------------- */

/* volatile: the compiler must not drop stores it never sees read */
static void *volatile g_block;           /* 1001: a global */
static void *volatile g_list;            /* 100 x 1002: a list from a global */
static char *volatile g_chain;           /* 10 x 1003: interior pointers only */
static char *volatile g_big;             /* 300001: a big block, holding ... */
static void *volatile g_calloc;          /* 1009 */
static void *volatile g_realloc;         /* 1010: grown by realloc */
static void *volatile g_realloc_failed;  /* 1011: a realloc of it failed */
static __thread void *volatile tls_ref;  /* 1006: the main thread's TLS */

static const size_t nonleak_sizes[] = { 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 300001 };

static NOINLINE void make_nonleaks(void)
{
	g_block = malloc(1001);
	memset(g_block, 1, 1001);
	for (int i = 0; i < 100; i++) {
		void **n = malloc(1002);
		memset(n, 2, 1002);
		n[0] = g_list;   /* next */
		g_list = n;
	}
	/* a chain: the global points 500 bytes into the first block, each
	 * block 700 bytes into the next, from its offset 200 */
	char *prev = NULL;
	for (int i = 0; i < 10; i++) {
		char *c = malloc(1003);
		memset(c, 3, 1003);
		if (prev != NULL)
			memcpy(prev + 200, &(char *){ c + 700 }, sizeof(char *));
		else
			g_chain = c + 500;
		prev = c;
	}
	g_big = malloc(300001);
	memset(g_big, 4, 300001);
	void *inner = malloc(1008);
	memset(inner, 8, 1008);
	memcpy(g_big + 200000, &inner, sizeof inner);
	inner = NULL;
	g_calloc = calloc(1, 1009);
	g_realloc = malloc(10);
	g_realloc = realloc((void *)g_realloc, 1010);
	g_realloc_failed = malloc(1011);
	if (realloc((void *)g_realloc_failed, (size_t)PTRDIFF_MAX) != NULL)
		abort();
	tls_ref = malloc(1006);
}

/* ---- known leaks --------------------------------------------------------------- */

struct expect {
	const char *fn;
	size_t size;
	int count;
};

static const struct expect expected[] = {
	{ "leak_lost", 2001, 10 },
	{ "leak_cycle", 2002, 2 },
	{ "leak_big", 400000, 1 },
	{ "leak_realloc", 2003, 1 },
	{ "leak_calloc", 2004, 1 },
	{ "leak_list", 2005, 1 },
	{ "leak_list", 2006, 3 },
	{ "leak_zero", 0, 1 },
	{ "leak_realloc_failed", 2008, 1 },
};

/* 10 blocks whose only pointer is overwritten */
EXPORT NOINLINE void leak_lost(void)
{
	for (int i = 0; i < 10; i++) {
		char *p = malloc(2001);
		memset(p, 'A', 2001);
		sink = p;
	}
	sink = NULL;
}

/* two blocks pointing at each other, unreachable */
EXPORT NOINLINE void leak_cycle(void)
{
	void **a = malloc(2002), **b = malloc(2002);
	memset(a, 0, 2002);
	memset(b, 0, 2002);
	a[0] = b;
	b[0] = a;
	sink = NULL;
}

/* a big block (a vmalloc area) */
EXPORT NOINLINE void leak_big(void)
{
	char *p = malloc(400000);
	memset(p, 'B', 400000);
	sink = NULL;
}

/* grown by realloc, then lost: the site is the realloc's */
EXPORT NOINLINE void leak_realloc(void)
{
	char *p = malloc(100);
	p = realloc(p, 2003);
	memset(p, 'R', 2003);
	sink = NULL;
}

EXPORT NOINLINE void leak_calloc(void)
{
	char *p = calloc(2, 1002);
	p[0] = 'C';
	sink = NULL;
}

/* a lost head and the three nodes only it reaches: all four reported */
EXPORT NOINLINE void leak_list(void)
{
	void **head = malloc(2005);
	memset(head, 0, 2005);
	void **prev = head;
	for (int i = 0; i < 3; i++) {
		void **n = malloc(2006);
		memset(n, 0, 2006);
		prev[0] = n;
		prev = n;
	}
	sink = NULL;
}

EXPORT NOINLINE void leak_zero(void)
{
	sink = malloc(0);
	sink = NULL;
}

/* a realloc that fails keeps the block: still tracked, then lost */
EXPORT NOINLINE void leak_realloc_failed(void)
{
	char *p = malloc(2008);
	memset(p, 'F', 2008);
	if (realloc(p, (size_t)PTRDIFF_MAX) != NULL)
		abort();
	sink = NULL;
}

/* blocks freed again: never reported */
static NOINLINE void churn_freed(void)
{
	for (int i = 0; i < 1000; i++) {
		void *p = malloc(2007);
		sink = p;
		free(p);
	}
	sink = NULL;
}

static NOINLINE void make_leaks(void)
{
	leak_lost();
	leak_cycle();
	leak_big();
	leak_realloc();
	leak_calloc();
	leak_list();
	leak_zero();
	leak_realloc_failed();
	churn_freed();
}

/* Overwrite the stack below the caller's frame: dead copies of pointers
 * in it would otherwise keep leaked blocks (a conservative scan's false
 * negatives). */
static NOINLINE void scrub(void)
{
	volatile char area[128 << 10];
	memset((char *)area, 0, sizeof area);
	__asm__ __volatile__("" : : "r"(area) : "memory");
}

/* ---- the other thread ---------------------------------------------------------- */

static pthread_barrier_t ready, done;
static __thread void *volatile thread_tls_ref;   /* 1007 in that thread */

EXPORT void *thread_main(void *arg);
EXPORT void *thread_main(void *arg)
{
	(void)arg;
	void *volatile on_stack = malloc(1005);   /* only on this thread's stack */
	memset(on_stack, 5, 1005);
	thread_tls_ref = malloc(1007);
	memset((void *)thread_tls_ref, 7, 1007);
	scrub();
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&done);
	free(on_stack);
	free((void *)thread_tls_ref);
	thread_tls_ref = NULL;
	return NULL;
}

/* ---- scans ---------------------------------------------------------------------------- */

static int scan_to(const char *dir, const char *name)
{
	static char path[4096];   /* not on the stack: no room for dead words */
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		exit(2);
	}
	scrub();
	int r = leak_check(fd);
	close(fd);
	return r;
}

/* A block only this running function's frame holds, through the scan;
 * and a fork whose child scans too. */
static NOINLINE int scan_with_stack_ref(const char *dir, pid_t *child)
{
	void *volatile on_stack = malloc(1004);
	memset(on_stack, 4, 1004);
	int r = scan_to(dir, "scan1");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(scan_to(dir, "child") >= 0 ? 0 : 1);
	*child = pid;
	free(on_stack);
	return r;
}

static int known(const char *dir)
{
	pthread_t t;
	pthread_barrier_init(&ready, NULL, 2);
	pthread_barrier_init(&done, NULL, 2);
	if (pthread_create(&t, NULL, thread_main, NULL) != 0)
		return 1;
	make_nonleaks();
	make_leaks();
	scrub();
	pthread_barrier_wait(&ready);
	pid_t child = -1;
	int r1 = scan_with_stack_ref(dir, &child);
	pthread_barrier_wait(&done);
	pthread_join(t, NULL);
	int status = 0;
	if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "leakprobe: the child's scan failed\n");
		return 1;
	}
	scrub();
	int r2 = scan_to(dir, "scan2");

	int total = 0;
	for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
		printf("expect %s %zu %d\n", expected[i].fn, expected[i].size, expected[i].count);
		total += expected[i].count;
	}
	printf("expect-total %d\n", total);
	printf("child-expect thread_main 1005 1\nchild-expect thread_main 1007 1\n");
	for (size_t i = 0; i < sizeof nonleak_sizes / sizeof nonleak_sizes[0]; i++)
		printf("nonleak %zu\n", nonleak_sizes[i]);
	printf("scan1 %d\nscan2 %d\n", r1, r2);
	fflush(stdout);
	scrub();
	return 0;
}

/* ---- bench ------------------------------------------------------------------------------ */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void **bench_array;

static NOINLINE void bench_fill(size_t n)
{
	bench_array = malloc(n * sizeof *bench_array);
	for (size_t i = 0; i < n; i++) {
		bench_array[i] = malloc(48);
		memset(bench_array[i], 0x11, 48);
	}
}

static NOINLINE void bench_drop_half(size_t n)
{
	for (size_t i = 1; i < n; i += 2)
		bench_array[i] = NULL;
}

static int bench(size_t n, const char *dir)
{
	bench_fill(n);
	scrub();
	double t0 = now();
	int all = scan_to(dir, "bench-all");
	double t1 = now();
	bench_drop_half(n);
	scrub();
	int half = scan_to(dir, "bench-half");
	printf("bench-all %d\nbench-half %d\nbench-seconds %.6f\n", all, half, t1 - t0);
	return 0;
}

static int churn(long n)
{
	double t0 = now();
	unsigned x = 12345;
	void *keep[64] = { 0 };
	for (long i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		unsigned slot = (x >> 8) & 63;
		free(keep[slot]);
		keep[slot] = malloc(8 + (x >> 16) % 1017);
	}
	for (int i = 0; i < 64; i++)
		free(keep[i]);
	printf("churn %ld %.6f\n", n, now() - t0);
	return 0;
}

/* ---- stress ---------------------------------------------------------------------------- */

static volatile int stop;

static void *stress_thread(void *arg)
{
	unsigned x = (unsigned)(uintptr_t)arg;
	void *keep[32] = { 0 };
	while (!stop) {
		x = x * 1103515245u + 12345u;
		unsigned slot = (x >> 8) & 31;
		size_t size = (x >> 20) % 16 == 0 ? 150000 + (x >> 16) % 100000 : 16 + (x >> 16) % 3000;
		if (keep[slot] != NULL && (x & 1))
			keep[slot] = realloc(keep[slot], size);
		else {
			free(keep[slot]);
			keep[slot] = malloc(size);
		}
		if (keep[slot] != NULL)
			memset(keep[slot], 0, 16);
	}
	for (int i = 0; i < 32; i++)
		free(keep[i]);
	return NULL;
}

static int stress(const char *dir)
{
	pthread_t t[3];
	make_leaks();
	scrub();
	for (int i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, stress_thread, (void *)(uintptr_t)(i + 1)) != 0)
			return 1;
	for (int i = 0; i < 20; i++) {
		char name[32];
		snprintf(name, sizeof name, "stress%d", i);
		int r = scan_to(dir, name);
		printf("stress %d %d\n", i, r);
		usleep(10000);
	}
	stop = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	return 0;
}

int main(int argc, char **argv)
{
	*(void **)&leak_check = dlsym(RTLD_DEFAULT, "kmm_leak_check");
	if (leak_check == NULL) {
		fprintf(stderr, "leakprobe: kmm_leak_check not found (run with libkmm.so preloaded)\n");
		return 2;
	}
	if (argc == 3 && strcmp(argv[1], "known") == 0)
		return known(argv[2]);
	if (argc == 4 && strcmp(argv[1], "bench") == 0)
		return bench((size_t)strtoul(argv[2], NULL, 10), argv[3]);
	if (argc == 3 && strcmp(argv[1], "churn") == 0)
		return churn(strtol(argv[2], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "stress") == 0)
		return stress(argv[2]);
	if (argc == 2 && strcmp(argv[1], "off") == 0) {
		errno = 0;
		int r = leak_check(-1);
		printf("off %d %s\n", r, r < 0 && errno == ENOSYS ? "ENOSYS" : "other");
		return 0;
	}
	fprintf(stderr, "usage: leakprobe known DIR | bench N DIR | churn N | stress DIR | off\n");
	return 2;
}

/*
 * sampleprobe.c — a program whose allocations are known, for the sampled
 * heap profile's tests (tests/integration/sample.sh).  Run with libkmm.so
 * preloaded and KMM_SAMPLE set; kmm_profile_dump is found with dlsym.
 *
 *   sampleprobe totals [DUMP]  100000 blocks of 1000 bytes (from
 *                              alloc_small) and 1000 of 100000 bytes (from
 *                              alloc_big), every other one of each freed;
 *                              prints "true alloc_space N", "true
 *                              inuse_space N", "true alloc_objects N",
 *                              "true inuse_objects N"; with DUMP, writes the
 *                              profile there (kmm_profile_dump) and prints
 *                              "dump R" (its result).
 *   sampleprobe dump PATH      kmm_profile_dump(PATH): prints "dump R ERRNO".
 *   sampleprobe signal SIG N   the totals' allocations, then raise(SIG) N
 *                              times, a malloc/free between each.
 *   sampleprobe fork           the totals' allocations, then a fork whose
 *                              child allocates 20000 more blocks of 1000
 *                              bytes; the parent waits, prints
 *                              "child PID".
 *   sampleprobe threads N      N threads each allocate and free 200000
 *                              blocks of 16..4096 bytes, keeping 1000.
 *   sampleprobe xfree          a thread allocates 100000 blocks of 1000
 *                              bytes and waits while the main thread
 *                              frees them all (frees of another thread's
 *                              arena: remote frees).
 *   sampleprobe aligned        as totals, through the aligned
 *                              allocators: posix_memalign(64, 1000),
 *                              memalign(256, 1000) and aligned_alloc(16,
 *                              1000) in turn for the small blocks,
 *                              aligned_alloc(4096, 102400) for the big
 *                              ones; checks each alignment; prints the
 *                              "true" lines.
 *   sampleprobe realloc        20000 blocks of 1000 bytes (calloc for every
 *                              other one), each reallocated to 3000 bytes
 *                              then to 500 (checking their contents), half
 *                              of them freed.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSMALL 100000
#define NBIG   1000

static void *small[NSMALL], *big[NBIG];

static __attribute__((noinline)) void *alloc_small(void)
{
	void *p = malloc(1000);
	memset(p, 1, 16);
	return p;
}

static __attribute__((noinline)) void *alloc_big(void)
{
	void *p = malloc(100000);
	memset(p, 2, 16);
	return p;
}

static void totals(void)
{
	for (int i = 0; i < NSMALL; i++)
		small[i] = alloc_small();
	for (int i = 0; i < NBIG; i++)
		big[i] = alloc_big();
	for (int i = 0; i < NSMALL; i += 2) {
		free(small[i]);
		small[i] = NULL;
	}
	for (int i = 0; i < NBIG; i += 2) {
		free(big[i]);
		big[i] = NULL;
	}
	printf("true alloc_space %lld\n", (long long)NSMALL * 1000 + (long long)NBIG * 100000);
	printf("true inuse_space %lld\n", (long long)NSMALL / 2 * 1000 + (long long)NBIG / 2 * 100000);
	printf("true alloc_objects %d\n", NSMALL + NBIG);
	printf("true inuse_objects %d\n", NSMALL / 2 + NBIG / 2);
}

static void *aligned_small(int i)
{
	void *p = NULL;
	size_t al = i % 3 == 0 ? 64 : i % 3 == 1 ? 256 : 16;
	if (i % 3 == 0) {
		if (posix_memalign(&p, 64, 1000) != 0)
			p = NULL;
	} else if (i % 3 == 1) {
		p = memalign(256, 1000);
	} else {
		p = aligned_alloc(16, 1000);
	}
	if (p == NULL || (size_t)p % al != 0) {
		fprintf(stderr, "sampleprobe: aligned block %d: %p, alignment %zu\n", i, p, al);
		exit(1);
	}
	memset(p, 4, 1000);
	return p;
}

static void aligned(void)
{
	for (int i = 0; i < NSMALL; i++)
		small[i] = aligned_small(i);
	for (int i = 0; i < NBIG; i++) {
		big[i] = aligned_alloc(4096, 102400);   /* (25 pages: a multiple of the alignment, as C11 asks) */
		if (big[i] == NULL || (size_t)big[i] % 4096 != 0) {
			fprintf(stderr, "sampleprobe: aligned big block %d: %p\n", i, big[i]);
			exit(1);
		}
		memset(big[i], 5, 16);
	}
	for (int i = 0; i < NSMALL; i += 2)
		free(small[i]);
	for (int i = 0; i < NBIG; i += 2)
		free(big[i]);
	printf("true alloc_space %lld\n", (long long)NSMALL * 1000 + (long long)NBIG * 102400);
	printf("true inuse_space %lld\n", (long long)NSMALL / 2 * 1000 + (long long)NBIG / 2 * 102400);
	printf("true alloc_objects %d\n", NSMALL + NBIG);
	printf("true inuse_objects %d\n", NSMALL / 2 + NBIG / 2);
}

static int dump(const char *path)
{
	int (*fn)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "kmm_profile_dump");
	if (fn == NULL) {
		fprintf(stderr, "sampleprobe: no kmm_profile_dump (is libkmm.so preloaded?)\n");
		exit(2);
	}
	errno = 0;
	int r = fn(path);
	printf("dump %d %d\n", r, r == 0 ? 0 : errno);
	return r;
}

static pthread_barrier_t xb;

static void *xalloc(void *arg)
{
	(void)arg;
	for (int i = 0; i < NSMALL; i++)
		small[i] = alloc_small();
	pthread_barrier_wait(&xb);   /* the main thread frees them */
	pthread_barrier_wait(&xb);   /* then this thread exits */
	return NULL;
}

static void *churn(void *arg)
{
	void *keep[1000] = { 0 };
	unsigned x = (unsigned)(size_t)arg * 2654435761u + 1;
	for (int i = 0; i < 200000; i++) {
		x = x * 1103515245u + 12345u;
		size_t n = 16 + (x >> 8) % 4081;
		void *p = malloc(n);
		memset(p, 3, 8);
		unsigned k = (x >> 4) % 1000;
		free(keep[k]);
		keep[k] = p;
	}
	for (int k = 0; k < 1000; k++)
		free(keep[k]);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (strcmp(argv[1], "totals") == 0) {
		totals();
		if (argc > 2)
			dump(argv[2]);
	} else if (strcmp(argv[1], "aligned") == 0) {
		aligned();
	} else if (strcmp(argv[1], "dump") == 0 && argc > 2) {
		dump(argv[2]);
	} else if (strcmp(argv[1], "signal") == 0 && argc > 3) {
		totals();
		for (int i = 0; i < atoi(argv[3]); i++) {
			raise(atoi(argv[2]));
			free(malloc(100));
		}
	} else if (strcmp(argv[1], "fork") == 0) {
		totals();
		pid_t pid = fork();
		if (pid == 0) {
			for (int i = 0; i < 20000; i++)
				(void)alloc_small();
			exit(0);   /* (the destructor writes the child's profile) */
		}
		int st;
		waitpid(pid, &st, 0);
		printf("child %d\n", (int)pid);
		if (!WIFEXITED(st))
			return 1;
	} else if (strcmp(argv[1], "threads") == 0 && argc > 2) {
		int n = atoi(argv[2]);
		pthread_t t[64];
		for (int i = 0; i < n && i < 64; i++)
			pthread_create(&t[i], NULL, churn, (void *)(size_t)i);
		for (int i = 0; i < n && i < 64; i++)
			pthread_join(t[i], NULL);
	} else if (strcmp(argv[1], "xfree") == 0) {
		pthread_t t;
		pthread_barrier_init(&xb, NULL, 2);
		pthread_create(&t, NULL, xalloc, NULL);
		pthread_barrier_wait(&xb);
		for (int i = 0; i < NSMALL; i++)
			free(small[i]);
		pthread_barrier_wait(&xb);
		pthread_join(t, NULL);
	} else if (strcmp(argv[1], "realloc") == 0) {
		static unsigned char *b[20000];
		for (int i = 0; i < 20000; i++) {
			b[i] = i % 2 ? malloc(1000) : calloc(1, 1000);
			if (i % 2 == 0 && b[i][999] != 0)
				return 1;
			memset(b[i], i & 0xff, 1000);
		}
		for (int i = 0; i < 20000; i++)
			b[i] = realloc(b[i], 3000);
		for (int i = 0; i < 20000; i++) {
			b[i] = realloc(b[i], 500);
			if (b[i][0] != (i & 0xff) || b[i][499] != (i & 0xff))
				return 1;
		}
		for (int i = 0; i < 20000; i += 2)
			free(b[i]);
	} else {
		return 2;
	}
	return 0;
}

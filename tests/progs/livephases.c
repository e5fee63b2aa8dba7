/*
 * livephases.c — a program that allocates in phases, for the live view's
 * test (tests/integration/live.sh).  It reads one command a line from
 * standard input and answers each with one line on standard output
 * ("ok ..."), so the test reads the process with `kmm cat` between phases:
 *
 *   alloc N SIZE   allocate N blocks of SIZE bytes and keep them
 *   free           free every block kept so far
 *   churn SECS     2 threads allocate and free for SECS seconds
 *   poke           wait 150 ms, then 64 malloc/free pairs of 8 KiB (heap
 *                  blocks: 128 slow paths after the live view's period,
 *                  which reads the clock on every 16th), so the segment
 *                  shows the phase, with at most one 8 KiB block of the
 *                  poke's (KMM_LIVE publishes on slow paths only)
 *   quit           free everything and exit 0
 *
 * The answers are checked by the test too: "ok churn OPS" counts the
 * pairs the threads made (their blocks were checked on free).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void **blocks;
static size_t nblocks, cap;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double churn_until;

static void *churn(void *arg)
{
	unsigned long seed = (unsigned long)(uintptr_t)arg, ops = 0;
	void *slots[64] = { 0 };
	size_t sizes[64] = { 0 };
	while (now() < churn_until) {
		for (int k = 0; k < 1000; k++) {
			seed = seed * 6364136223846793005ul + 1442695040888963407ul;
			unsigned i = (unsigned)(seed >> 58);
			if (slots[i] != NULL) {
				unsigned char *p = slots[i];
				if (p[0] != (unsigned char)i || p[sizes[i] - 1] != (unsigned char)i) {
					fprintf(stderr, "livephases: block %u corrupted\n", i);
					abort();
				}
				free(p);
				slots[i] = NULL;
			} else {
				sizes[i] = 16 + (seed >> 20) % (i < 8 ? 200000 : 2000);
				unsigned char *p = malloc(sizes[i]);
				if (p == NULL)
					abort();
				memset(p, (int)i, sizes[i]);
				slots[i] = p;
				ops++;
			}
		}
	}
	for (int i = 0; i < 64; i++)
		free(slots[i]);
	return (void *)ops;
}

int main(void)
{
	char line[256];
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof line, stdin) != NULL) {
		unsigned long n, size;
		double secs;
		if (sscanf(line, "alloc %lu %lu", &n, &size) == 2) {
			for (unsigned long i = 0; i < n; i++) {
				if (nblocks == cap) {
					cap = cap ? 2 * cap : 1024;
					blocks = realloc(blocks, cap * sizeof *blocks);
				}
				blocks[nblocks] = malloc(size);
				memset(blocks[nblocks], 1, size);
				nblocks++;
			}
			printf("ok alloc %lu %lu\n", n, size);
		} else if (strncmp(line, "free", 4) == 0) {
			for (size_t i = 0; i < nblocks; i++)
				free(blocks[i]);
			nblocks = 0;
			printf("ok free\n");
		} else if (sscanf(line, "churn %lf", &secs) == 1) {
			pthread_t t[2];
			void *ops[2];
			churn_until = now() + secs;
			for (int i = 0; i < 2; i++)
				pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
			for (int i = 0; i < 2; i++)
				pthread_join(t[i], &ops[i]);
			printf("ok churn %lu\n", (unsigned long)(uintptr_t)ops[0] + (unsigned long)(uintptr_t)ops[1]);
		} else if (strncmp(line, "poke", 4) == 0) {
			struct timespec ts = { 0, 150000000 };
			nanosleep(&ts, NULL);
			for (int i = 0; i < 64; i++) {
				void *volatile p = malloc(8192);
				free(p);
			}
			printf("ok poke\n");
		} else if (strncmp(line, "quit", 4) == 0) {
			for (size_t i = 0; i < nblocks; i++)
				free(blocks[i]);
			free(blocks);
			printf("ok quit\n");
			return 0;
		} else {
			printf("unknown command\n");
		}
	}
	return 0;
}

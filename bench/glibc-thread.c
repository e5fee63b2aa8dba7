/*
 * bench/glibc-thread.c — workload "glibc-thread": threads replacing random
 * blocks of a private working set, after glibc's benchtests
 * bench-malloc-thread.
 *
 * glibc's benchmark starts N threads; each owns a working set of 1024 block
 * pointers, initially empty, and loops: pick a random slot, free its block,
 * allocate a new one of a random size into it.  The sizes come from a table
 * of random sizes computed once, distributed as 1/size between a few bytes
 * and 32 KiB (most blocks small, every size class visited), and each thread
 * picks table entries at random.  Nothing is shared between the threads,
 * so it measures each allocator's per-thread fast paths and how well they
 * scale, with a working set (about 4 MiB per thread) larger than any thread
 * cache.
 *
 * This workload does the same, with 4096 table sizes of 4..32768 bytes
 * (log-uniform, i.e. density 1/size) and 1024 slots per thread, and
 * -t N threads (default 2).  Differences from glibc's benchmark: the total
 * number of replacements is fixed (and shared out among the threads)
 * instead of each thread running for a fixed time; every block is written
 * (a word per 64-byte line and the last word) and checked before it is
 * freed.  The checksum depends on -t (the work is divided differently).
 */
#include "align.h"

#include <math.h>
#include <pthread.h>

#define OPS       4000000   /* replacements at scale 1, over all threads */
#define WORKSET   1024      /* slots per thread */
#define NSIZES    4096      /* the table of random sizes */
#define MINSIZE   4
#define MAXSIZE   32768

static size_t size_table[NSIZES];

struct worker {
	int id;
	uint64_t ops;
	uint64_t sum;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench_blk *ws;
	struct bench_rng rng = { 0x676c69626354ULL ^ bench_mix((uint64_t)w->id + 1) };
	uint64_t k, sum = 0;
	size_t i;

	ws = calloc(WORKSET, sizeof *ws);
	if (ws == NULL)
		bench_die("out of memory");
	for (k = 0; k < w->ops; k++) {
		struct bench_blk *b = &ws[bench_below(&rng, WORKSET)];
		size_t n = size_table[bench_below(&rng, NSIZES)];

		if (b->p != NULL)
			sum += bench_blk_put(b);
		bench_blk_get_al(b, n, ((uint64_t)w->id << 48) | k);
	}
	for (i = 0; i < WORKSET; i++)
		if (ws[i].p != NULL)
			sum += bench_blk_put(&ws[i]) * 3;
	free(ws);
	w->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rng rng = { 0x73697a6573ULL };
	struct worker *w;
	uint64_t total, sum = 0;
	int t;
	size_t i;

	bench_parse(argc, argv,
		    "Threads replacing random blocks (4..32768 bytes, density 1/size) in\n"
		    "private working sets of 1024 (glibc's bench-malloc-thread).", 1, &a);
	total = bench_scaled(OPS, a.scale);

	/* log-uniform sizes: exp of a uniform between log(MIN) and log(MAX+1) */
	for (i = 0; i < NSIZES; i++) {
		double u = (double)(bench_next(&rng) >> 11) * 0x1p-53;
		size_t n = (size_t)exp(log(MINSIZE) + u * (log(MAXSIZE + 1.0) - log(MINSIZE)));

		size_table[i] = n < MINSIZE ? MINSIZE : n > MAXSIZE ? MAXSIZE : n;
	}

	w = calloc((size_t)a.threads, sizeof *w);
	if (w == NULL)
		bench_die("out of memory");
	for (t = 0; t < a.threads; t++) {
		w[t].id = t;
		w[t].ops = bench_share(total, a.threads, t);
	}
	bench_run_threads(worker_main, w, sizeof *w, a.threads);
	for (t = 0; t < a.threads; t++)
		sum += bench_mix(w[t].sum + (uint64_t)t);
	free(w);
	bench_print_checksum(sum ^ total);
	return 0;
}

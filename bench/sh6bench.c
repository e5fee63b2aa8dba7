/*
 * bench/sh6bench.c — workload "sh6bench": after MicroQuill's SmartHeap
 * benchmark sh6bench, written from its description (not its code).
 *
 * Each pass allocates a large array of blocks of random size, 1..1000
 * bytes, then frees them all in one of three orders:
 *   - in allocation order (FIFO),
 *   - in reverse (LIFO),
 *   - every other one first; the holes are then filled with new blocks of
 *     new random sizes, and everything is freed in allocation order,
 * so the allocator sees long runs of allocations, then long runs of frees
 * that empty its pages and bins from the front, from the back, or
 * interleaved.  With -t N, N threads do passes side by side, each with its
 * own array: nothing is shared, so this measures per-thread caching and
 * how well a thread's freed memory comes back to it.
 *
 * The total number of passes is fixed whatever -t says; thread i does
 * passes i, i + N, i + 2N, ...  Each pass draws its sizes from a generator
 * seeded with the pass's number, so the checksum does not depend on -t.
 * Unlike the original, every block is written and checked before it is
 * freed, and the thread count does not multiply the work.
 */
#include "common.h"
#include "align.h"

#include <pthread.h>

#define PASSES  400         /* at scale 1, over all threads */
#define BLOCKS  20000       /* per pass */
#define MAXSIZE 1000

struct worker {
	int id, threads;
	uint64_t passes;        /* over all threads */
	uint64_t sum, blocks;
};

static void get(struct bench_blk *b, struct bench_rng *r, uint64_t tag)
{
	size_t n = bench_range(r, 1, MAXSIZE);

	bench_blk_get(b, n, tag);
	bench_check_align(b->p, n, bench_malloc_align(n), "malloc");
}

static uint64_t one_pass(struct bench_blk *arr, uint64_t pass, uint64_t *blocks)
{
	struct bench_rng rng = { bench_mix(pass ^ 0x7368366265ULL) };
	uint64_t sum = 0, tag = pass << 32;
	size_t i;

	for (i = 0; i < BLOCKS; i++)
		get(&arr[i], &rng, ++tag);
	*blocks += BLOCKS;
	switch (pass % 3) {
	case 0:
		for (i = 0; i < BLOCKS; i++)
			sum += bench_blk_put(&arr[i]);
		break;
	case 1:
		for (i = BLOCKS; i-- > 0;)
			sum += bench_blk_put(&arr[i]) * 3;
		break;
	default:
		for (i = 0; i < BLOCKS; i += 2)
			sum += bench_blk_put(&arr[i]) * 5;
		for (i = 0; i < BLOCKS; i += 2)
			get(&arr[i], &rng, ++tag);
		*blocks += (BLOCKS + 1) / 2;
		for (i = 0; i < BLOCKS; i++)
			sum += bench_blk_put(&arr[i]) * 7;
		break;
	}
	return bench_mix(sum + pass);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench_blk *arr = calloc(BLOCKS, sizeof *arr);
	uint64_t p;

	if (arr == NULL)
		bench_die("out of memory");
	for (p = (uint64_t)w->id; p < w->passes; p += (uint64_t)w->threads)
		w->sum += one_pass(arr, p, &w->blocks);
	free(arr);
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct worker *w;
	uint64_t passes, sum = 0, blocks = 0;
	int i;

	bench_parse(argc, argv,
		    "Passes allocating 20000 blocks of 1..1000 bytes into an array and\n"
		    "freeing them in order, in reverse, or every other one first\n"
		    "(sh6bench); threads do passes side by side, sharing nothing.", 1, &a);
	passes = bench_scaled(PASSES, a.scale);
	w = calloc((size_t)a.threads, sizeof *w);
	if (w == NULL)
		bench_die("out of memory");
	for (i = 0; i < a.threads; i++) {
		w[i].id = i;
		w[i].threads = a.threads;
		w[i].passes = passes;
	}
	bench_run_threads(worker_main, w, sizeof *w, a.threads);
	for (i = 0; i < a.threads; i++) {
		sum += w[i].sum;
		blocks += w[i].blocks;
	}
	free(w);
	bench_print_checksum(sum ^ blocks);
	return 0;
}

/*
 * bench/threads.c — workload "threads": independent threads, each churning
 * small blocks of its own.
 *
 * Models a server or a parallel program whose threads each allocate and free
 * their own short-lived objects and keep a working set of longer-lived ones,
 * with no memory passed between threads.  It shows how well the allocator's
 * per-thread caches and arenas keep threads out of each other's way (lock
 * contention, shared cache lines) and what that costs in memory.
 *
 * -t N (default 2) threads share a fixed total amount of work, so changing N
 * changes the parallelism, not the work done.
 */
#include "common.h"

#include <pthread.h>

#define ROUNDS    1400000   /* at scale 1, over all threads */
#define LIVE      2048      /* long-lived blocks per thread */
#define BURST     16        /* short-lived blocks per round, at most */

struct worker {
	int id;
	uint64_t rounds;
	uint64_t sum;
};

static size_t pick_size(struct bench_rng *r)
{
	uint64_t u = bench_below(r, 100);

	if (u < 70)
		return bench_range(r, 16, 128);
	if (u < 95)
		return bench_range(r, 129, 768);
	return bench_range(r, 769, 4096);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench_rng rng = { 0x74687265ULL + (uint64_t)w->id * 0x100000001b3ULL };
	struct bench_blk *live = calloc(LIVE, sizeof *live);
	struct bench_blk burst[BURST];
	uint64_t round, serial = (uint64_t)w->id << 40, sum = 0;
	size_t i, nb;

	if (live == NULL)
		bench_die("out of memory");
	for (round = 0; round < w->rounds; round++) {
		nb = 1 + (size_t)bench_below(&rng, BURST);
		for (i = 0; i < nb; i++)
			bench_blk_get(&burst[i], pick_size(&rng), ++serial);
		/* replace one long-lived block */
		i = (size_t)bench_below(&rng, LIVE);
		if (live[i].p != NULL)
			sum += bench_blk_put(&live[i]) * 5;
		bench_blk_get(&live[i], pick_size(&rng), ++serial);
		while (nb-- > 0)
			sum += bench_blk_put(&burst[nb]);
	}
	for (i = 0; i < LIVE; i++)
		if (live[i].p != NULL)
			sum += bench_blk_put(&live[i]) * 5;
	free(live);
	w->sum = sum ^ serial;
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct worker *w;
	uint64_t total, sum = 0;
	int i;

	bench_parse(argc, argv,
		    "Threads each allocating and freeing their own small blocks\n"
		    "(a fixed total amount of work shared between the threads).", 1, &a);
	total = bench_scaled(ROUNDS, a.scale);
	w = calloc((size_t)a.threads, sizeof *w);
	if (w == NULL)
		bench_die("out of memory");
	for (i = 0; i < a.threads; i++) {
		w[i].id = i;
		w[i].rounds = bench_share(total, a.threads, i);
	}
	bench_run_threads(worker_main, w, sizeof *w, a.threads);
	for (i = 0; i < a.threads; i++)
		sum += w[i].sum;
	free(w);
	bench_print_checksum(sum ^ total);
	return 0;
}

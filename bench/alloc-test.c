/*
 * bench/alloc-test.c — workload "alloc-test": random slots filled and
 * emptied with power-law block sizes, after the alloc-test of "Testing
 * Memory Allocators" (ithare.com), which mimalloc-bench runs as alloc-test1
 * (one thread) and alloc-testN (N threads).
 *
 * That test gives each thread an array of slots and repeatedly picks a
 * random slot: an empty slot gets a new block, a full one has its block
 * freed.  Block sizes follow a power law, so most are a few dozen bytes and
 * a few are tens of KiB, and the occupied half of the slots makes a large,
 * randomly fragmented heap whose blocks are touched all over (cache and TLB
 * misses dominate once the heap outgrows the caches).  Threads share
 * nothing.
 *
 * Here: 2^17 slots in all, split evenly between -t N threads (default 2;
 * `-t 1` is alloc-test1), 8 million slot visits at scale 1 shared out
 * among them; sizes 8..65536 bytes with P(size > x) = sqrt(8 / x) (a Pareto
 * law of index 1/2: median 32 bytes, 3.4 % above 4 KiB, mean about 700
 * bytes), so some 45 MiB are live in steady state.  Every block is written
 * (a word per 64-byte line and the last word) and checked before it is
 * freed, and must be aligned.  The total work and the total number of slots
 * do not depend on -t; the checksum does (the work is divided differently).
 *
 * Differences from the original: our own size law and parameters (the
 * original's exact distribution and its memory-touching pattern are not
 * reproduced), and a fixed amount of work instead of a timed run.
 */
#include "align.h"

#include <pthread.h>

#define VISITS    8000000   /* slot visits at scale 1, over all threads */
#define SLOTS     (1 << 17) /* slots, over all threads */
#define MINSIZE   8
#define MAXSIZE   65536

struct worker {
	int id;
	size_t nslots;
	uint64_t visits;
	uint64_t sum;
};

/* Pareto of index 1/2 from MINSIZE, redrawn above MAXSIZE: the inverse of
 * P(size > x) = sqrt(MINSIZE / x) is MINSIZE / u^2 for u uniform in (0, 1]. */
static size_t pick_size(struct bench_rng *r)
{
	for (;;) {
		double u = (double)((bench_next(r) >> 11) + 1) * 0x1p-53;
		double x = MINSIZE / (u * u);

		if (x <= MAXSIZE)
			return (size_t)x;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench_blk *slot;
	struct bench_rng rng = { 0x616c6c6f63ULL ^ bench_mix((uint64_t)w->id + 7) };
	uint64_t k, sum = 0;
	size_t i;

	slot = calloc(w->nslots, sizeof *slot);
	if (slot == NULL)
		bench_die("out of memory");
	for (k = 0; k < w->visits; k++) {
		struct bench_blk *b = &slot[bench_below(&rng, w->nslots)];

		if (b->p != NULL)
			sum += bench_blk_put(b);
		else
			bench_blk_get_al(b, pick_size(&rng), ((uint64_t)w->id << 48) | k);
	}
	for (i = 0; i < w->nslots; i++)
		if (slot[i].p != NULL)
			sum += bench_blk_put(&slot[i]) * 3;
	free(slot);
	w->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct worker *w;
	uint64_t total, sum = 0;
	int t;

	bench_parse(argc, argv,
		    "Threads filling and emptying random slots with power-law sized blocks\n"
		    "of 8..65536 bytes (alloc-test of \"Testing Memory Allocators\").", 1, &a);
	total = bench_scaled(VISITS, a.scale);

	w = calloc((size_t)a.threads, sizeof *w);
	if (w == NULL)
		bench_die("out of memory");
	for (t = 0; t < a.threads; t++) {
		w[t].id = t;
		w[t].nslots = (size_t)bench_share(SLOTS, a.threads, t);
		if (w[t].nslots == 0)
			w[t].nslots = 1;
		w[t].visits = bench_share(total, a.threads, t);
	}
	bench_run_threads(worker_main, w, sizeof *w, a.threads);
	for (t = 0; t < a.threads; t++)
		sum += bench_mix(w[t].sum + (uint64_t)t);
	free(w);
	bench_print_checksum(sum ^ total);
	return 0;
}

/*
 * bench/mixed.c — workload "mixed": mixed sizes with random lifetimes.
 *
 * A pool of slots, each holding one live block; every step picks a random
 * slot, frees what it holds and puts a new block of a random size there, so
 * lifetimes are random (geometric) and the heap is steadily fragmented.
 * Sizes are skewed towards small requests, as in most programs, with a tail
 * up to a few KiB and occasional buffers of 8..64 KiB.  A small part of the
 * pool turns over much faster than the rest, like temporaries next to data
 * structures.
 */
#include "common.h"

#define SLOTS     32768     /* live blocks */
#define HOT       512       /* the fast-turnover part of the pool */
#define STEPS     2500000   /* replacements at scale 1 */

static size_t pick_size(struct bench_rng *r)
{
	uint64_t u = bench_below(r, 1000);

	if (u < 500)
		return bench_range(r, 8, 64);
	if (u < 800)
		return bench_range(r, 65, 256);
	if (u < 950)
		return bench_range(r, 257, 1024);
	if (u < 995)
		return bench_range(r, 1025, 4096);
	return bench_range(r, 8192, 65536);
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rng rng = { 0x6d69786564ULL };
	static struct bench_blk pool[SLOTS];
	uint64_t steps, step, serial = 0, sum = 0;
	size_t i;

	bench_parse(argc, argv,
		    "Random replacement in a pool of live blocks; skewed sizes from\n"
		    "8 bytes to a few KiB, occasionally up to 64 KiB.", 0, &a);
	steps = bench_scaled(STEPS, a.scale);

	for (step = 0; step < steps; step++) {
		struct bench_blk *b;

		/* half of the steps hit the hot slots */
		if (bench_below(&rng, 2) == 0)
			b = &pool[bench_below(&rng, HOT)];
		else
			b = &pool[HOT + bench_below(&rng, SLOTS - HOT)];
		if (b->p != NULL)
			sum += bench_blk_put(b);
		bench_blk_get(b, pick_size(&rng), ++serial);
	}
	for (i = 0; i < SLOTS; i++)
		if (pool[i].p != NULL)
			sum += bench_blk_put(&pool[i]);
	bench_print_checksum(sum ^ serial);
	return 0;
}

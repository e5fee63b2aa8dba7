/*
 * bench/large.c — workload "large": big, short-lived buffers.
 *
 * Models I/O buffers, decoded images, temporary arrays: blocks of 16 KiB to
 * 4 MiB, a handful alive at a time, each filled and freed soon after.  Sizes
 * straddle the mmap threshold, so this is where an allocator's choice between
 * carving from the heap, caching freed memory and mapping fresh pages (and
 * the page faults each choice costs) shows, in time and in peak RSS.
 */
#include "common.h"

#define LIVE      8         /* buffers alive at a time */
#define STEPS     3000      /* allocations at scale 1 */

static size_t pick_size(struct bench_rng *r)
{
	/* log-uniform over 16 KiB .. 4 MiB */
	unsigned bits = 14 + (unsigned)bench_below(r, 8);

	return bench_range(r, (size_t)1 << bits, (size_t)2 << bits);
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rng rng = { 0x6c61726765ULL };
	struct bench_blk live[LIVE];
	uint64_t steps, step, sum = 0;
	size_t i;

	bench_parse(argc, argv,
		    "Buffers of 16 KiB..4 MiB, a few alive at a time, filled and freed.", 0, &a);
	steps = bench_scaled(STEPS, a.scale);
	memset(live, 0, sizeof live);

	for (step = 0; step < steps; step++) {
		struct bench_blk *b = &live[bench_below(&rng, LIVE)];

		if (b->p != NULL)
			sum += bench_blk_put(b);
		bench_blk_get(b, pick_size(&rng), step + 1);
	}
	for (i = 0; i < LIVE; i++)
		if (live[i].p != NULL)
			sum += bench_blk_put(&live[i]);
	bench_print_checksum(sum ^ steps);
	return 0;
}

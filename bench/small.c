/*
 * bench/small.c — workload "small": single-threaded malloc/free of 16..4096
 * byte blocks.
 *
 * Models the bulk of what ordinary programs do: short-lived small objects
 * allocated in bursts and freed soon after (in LIFO or FIFO order), while a
 * smaller set of longer-lived objects accumulates and is slowly replaced.
 * Sizes mix a strong preference for small requests (the tcache / fastbin
 * range) with a flat tail up to 4 KiB (small and large bins).
 */
#include "common.h"

#define BATCH     64        /* blocks allocated per burst */
#define KEEP      4096      /* long-lived blocks */
#define ROUNDS    120000    /* bursts at scale 1 */

static size_t pick_size(struct bench_rng *r)
{
	uint64_t u = bench_below(r, 100);

	if (u < 55)
		return bench_range(r, 16, 128);
	if (u < 85)
		return bench_range(r, 129, 1024);
	return bench_range(r, 1025, 4096);
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rng rng = { 0x736d616c6cULL };
	static struct bench_blk keep[KEEP];
	struct bench_blk batch[BATCH];
	uint64_t rounds, round, serial = 0, sum = 0;
	size_t i, k = 0;

	bench_parse(argc, argv,
		    "Single-threaded malloc/free of 16..4096-byte blocks in bursts,\n"
		    "with a pool of long-lived blocks replaced over time.", 0, &a);
	rounds = bench_scaled(ROUNDS, a.scale);

	for (round = 0; round < rounds; round++) {
		size_t nb = BATCH / 2 + (size_t)bench_below(&rng, BATCH / 2 + 1);

		for (i = 0; i < nb; i++)
			bench_blk_get(&batch[i], pick_size(&rng), ++serial);
		/* every burst promotes one block to the long-lived pool */
		if (keep[k].p != NULL)
			sum += bench_blk_put(&keep[k]) * 3;
		keep[k] = batch[nb - 1];
		k = (k + 1) % KEEP;
		nb--;
		if (round & 1) {
			for (i = nb; i-- > 0;)     /* LIFO: stack-like */
				sum += bench_blk_put(&batch[i]);
		} else {
			for (i = 0; i < nb; i++)   /* FIFO: queue-like */
				sum += bench_blk_put(&batch[i]);
		}
	}
	for (i = 0; i < KEEP; i++)
		if (keep[i].p != NULL)
			sum += bench_blk_put(&keep[i]) * 3;
	bench_print_checksum(sum ^ serial);
	return 0;
}

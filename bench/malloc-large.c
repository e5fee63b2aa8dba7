/*
 * bench/malloc-large.c — workload "malloc-large": many big blocks alive,
 * replaced at random, sparsely touched; after mimalloc-bench's malloc-large.
 *
 * mimalloc-bench's malloc-large keeps an array of a couple of dozen buffers
 * of 5 to 25 MiB and, many times over, replaces a random one with a new
 * buffer of a random size in that range.  This workload keeps 16 blocks of
 * 5..25 MiB alive; each step frees a random one and allocates a new one in
 * its place, writes one word in every 8th page of the new block (and its
 * last word), and before freeing a block checks every word written.
 *
 * Unlike `big` (four blocks, a dense prefix touched), the heap here holds
 * about 240 MiB of address space of which only an eighth is ever touched:
 * an allocator pays for the size of what it maps (mmap/munmap, page tables,
 * its own metadata per page or per block) more than for the memory used,
 * and one that keeps freed big blocks around to reuse them can reuse
 * blocks whose pages are mostly untouched.  Under glibc each block is an
 * mmap and each free a munmap until the dynamic mmap threshold grows past
 * the blocks' sizes (its maximum is 32 MiB on 64-bit targets), after which
 * they come from the heap.
 *
 * Differences from mimalloc-bench's: the number of steps is fixed (400 at
 * scale 1), and the new block is written sparsely and checked before it is
 * freed (mimalloc-bench's program does not touch the buffers).
 */
#include "align.h"

#define LIVE      16        /* blocks alive at a time */
#define STEPS     400       /* replacements at scale 1 */
#define PAGE      4096
#define STRIDE    (8 * PAGE)

struct large {
	unsigned char *p;
	size_t n;
	uint64_t tag;
};

static void get(struct large *b, struct bench_rng *r, uint64_t tag)
{
	b->n = bench_range(r, (size_t)5 << 20, (size_t)25 << 20);
	b->tag = tag;
	b->p = bench_malloc_al(b->n);
	bench_sparse_fill(b->p, b->n, b->n, STRIDE, tag);
}

static uint64_t put(struct large *b)
{
	uint64_t sum = bench_sparse_check(b->p, b->n, b->n, STRIDE, b->tag);

	free(b->p);
	b->p = NULL;
	return sum;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rng rng = { 0x6c61726765ULL };
	struct large live[LIVE];
	uint64_t steps, step, sum = 0;
	size_t i;

	bench_parse(argc, argv,
		    "Sixteen blocks of 5..25 MiB alive, a random one replaced each step, every\n"
		    "8th page touched (mimalloc-bench's malloc-large).", 0, &a);
	steps = bench_scaled(STEPS, a.scale);
	memset(live, 0, sizeof live);

	for (step = 0; step < steps; step++) {
		struct large *b = &live[bench_below(&rng, LIVE)];

		if (b->p != NULL)
			sum += put(b);
		get(b, &rng, step + 1);
	}
	for (i = 0; i < LIVE; i++)
		if (live[i].p != NULL)
			sum += put(&live[i]);
	bench_print_checksum(sum ^ steps);
	return 0;
}

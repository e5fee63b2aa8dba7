/*
 * bench/big.c — workload "big": big blocks, partly touched.
 *
 * Models decoded images, column buffers, per-request arenas of a server:
 * blocks of 5 to 25 MiB, four alive at a time, each allocated, partly used
 * and freed soon after.  A block's user writes one word in each page of a
 * random part of it (a quarter to all of its pages, from the start) and its
 * last word, as programs that size a buffer for the worst case do.
 *
 * Every one of these is above any mmap threshold: under glibc each malloc
 * is an mmap and each free a munmap (until the dynamic threshold moves them
 * into the heap, whose top is then grown and trimmed), and every touched
 * page is a fresh page fault.  An allocator that keeps freed big blocks
 * mapped and resident saves both — at the price of the memory it keeps,
 * which the peak RSS column shows.
 */
#include "common.h"

#define LIVE      4         /* blocks alive at a time */
#define STEPS     600       /* allocations at scale 1 */
#define PAGE      4096

struct big {
	unsigned char *p;
	size_t n, used;     /* size, and the touched prefix */
	uint64_t tag;
};

static void get(struct big *b, struct bench_rng *r, uint64_t tag)
{
	size_t pages;

	b->n = bench_range(r, (size_t)5 << 20, (size_t)25 << 20);
	pages = b->n / PAGE;
	b->used = (size_t)bench_range(r, pages / 4, pages) * PAGE;
	b->tag = tag;
	b->p = bench_malloc(b->n);
	bench_sparse_fill(b->p, b->n, b->used, PAGE, tag);
}

static uint64_t put(struct big *b)
{
	uint64_t sum = bench_sparse_check(b->p, b->n, b->used, PAGE, b->tag);

	free(b->p);
	b->p = NULL;
	return sum;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rng rng = { 0x626967626967ULL };
	struct big live[LIVE];
	uint64_t steps, step, sum = 0;
	size_t i;

	bench_parse(argc, argv, "Blocks of 5..25 MiB, four alive, partly touched and freed.", 0, &a);
	steps = bench_scaled(STEPS, a.scale);
	memset(live, 0, sizeof live);

	for (step = 0; step < steps; step++) {
		struct big *b = &live[bench_below(&rng, LIVE)];

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

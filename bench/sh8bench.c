/*
 * bench/sh8bench.c — workload "sh8bench": after MicroQuill's SmartHeap
 * benchmark sh8bench, written from its description (not its code).
 *
 * Like sh6bench (passes that fill an array with blocks, then free them all
 * in order, in reverse, or every other one first), but the blocks are freed
 * by a thread other than the one that allocated them, and they come from
 * several size classes: 8..64 bytes (50 %), 65..256 (30 %), 257..1024
 * (15 %) and 1025..4096 (5 %).  The N threads (-t) form a ring: thread i
 * fills an array and hands it to thread i + 1 through a one-place mailbox
 * (a mutex and a condition variable), then takes the array thread i - 1
 * handed it and frees that one's blocks.  In the every-other order the
 * freeing thread fills the holes with blocks of its own before freeing
 * everything, so remote frees and local allocations interleave in its heap.
 * This measures the cost of freeing another thread's memory (remote free
 * lists, locks on foreign arenas) and how that memory finds its way back to
 * the thread that allocates the next blocks.
 *
 * The total number of passes is fixed whatever -t says; thread i fills the
 * arrays of passes i, i + N, i + 2N, ...  Each pass draws its sizes from a
 * generator seeded with its number, which travels with the array, so the
 * checksum does not depend on -t.  With -t 1 the thread frees its own
 * arrays.  Every block is written and checked before it is freed.
 */
#include "common.h"
#include "align.h"

#include <pthread.h>

#define PASSES  600         /* at scale 1, over all threads */
#define BLOCKS  10000       /* per pass */

struct batch {
	uint64_t pass;
	struct bench_rng rng;   /* for the refill, seeded by the pass */
	struct bench_blk blk[BLOCKS];
};

struct mailbox {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct batch *b;
} __attribute__((aligned(64)));

struct worker {
	int id, threads;
	uint64_t make, take;    /* arrays to fill, and to free */
	struct mailbox *in, *out;
	uint64_t sum, blocks;
} __attribute__((aligned(64)));

static size_t pick_size(struct bench_rng *r)
{
	uint64_t u = bench_below(r, 100);

	if (u < 50)
		return bench_range(r, 8, 64);
	if (u < 80)
		return bench_range(r, 65, 256);
	if (u < 95)
		return bench_range(r, 257, 1024);
	return bench_range(r, 1025, 4096);
}

static void get(struct bench_blk *b, struct bench_rng *r, uint64_t tag)
{
	size_t n = pick_size(r);

	bench_blk_get(b, n, tag);
	bench_check_align(b->p, n, bench_malloc_align(n), "malloc");
}

static struct batch *fill(uint64_t pass)
{
	struct batch *b = bench_malloc(sizeof *b);
	struct bench_rng rng = { bench_mix(pass ^ 0x7368386265ULL) };
	size_t i;

	b->pass = pass;
	for (i = 0; i < BLOCKS; i++)
		get(&b->blk[i], &rng, (pass << 32) | (i + 1));
	b->rng.s = bench_next(&rng);
	return b;
}

static uint64_t drain(struct batch *b, uint64_t *blocks)
{
	uint64_t sum = 0, pass = b->pass;
	size_t i;

	switch (pass % 3) {
	case 0:
		for (i = 0; i < BLOCKS; i++)
			sum += bench_blk_put(&b->blk[i]);
		break;
	case 1:
		for (i = BLOCKS; i-- > 0;)
			sum += bench_blk_put(&b->blk[i]) * 3;
		break;
	default:
		for (i = 0; i < BLOCKS; i += 2)
			sum += bench_blk_put(&b->blk[i]) * 5;
		for (i = 0; i < BLOCKS; i += 2)
			get(&b->blk[i], &b->rng, (pass << 32) | (BLOCKS + i + 1));
		*blocks += (BLOCKS + 1) / 2;
		for (i = 0; i < BLOCKS; i++)
			sum += bench_blk_put(&b->blk[i]) * 7;
		break;
	}
	free(b);
	return bench_mix(sum + pass);
}

static void put_batch(struct mailbox *m, struct batch *b)
{
	pthread_mutex_lock(&m->lock);
	while (m->b != NULL)
		pthread_cond_wait(&m->cond, &m->lock);
	m->b = b;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static struct batch *take_batch(struct mailbox *m)
{
	struct batch *b;

	pthread_mutex_lock(&m->lock);
	while (m->b == NULL)
		pthread_cond_wait(&m->cond, &m->lock);
	b = m->b;
	m->b = NULL;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return b;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t k;

	/* Put first, then take.  The ring cannot deadlock: a thread waiting
	 * to put waits for its successor to take from its mailbox, and every
	 * thread empties its own mailbox right after each put. */
	for (k = 0; k < w->make || k < w->take; k++) {
		if (k < w->make) {
			put_batch(w->out, fill((uint64_t)w->id + k * (uint64_t)w->threads));
			w->blocks += BLOCKS;
		}
		if (k < w->take)
			w->sum += drain(take_batch(w->in), &w->blocks);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct worker *w;
	struct mailbox *box;
	uint64_t passes, sum = 0, blocks = 0;
	int i;

	bench_parse(argc, argv,
		    "Threads in a ring: each fills arrays of 10000 blocks (8 B..4 KiB in\n"
		    "four size classes) and hands them to the next, which frees them in\n"
		    "order, in reverse or every other one first (sh8bench).", 1, &a);
	passes = bench_scaled(PASSES, a.scale);
	w = aligned_alloc(64, (size_t)a.threads * sizeof *w);
	box = aligned_alloc(64, (size_t)a.threads * sizeof *box);
	if (w == NULL || box == NULL)
		bench_die("out of memory");
	memset(w, 0, (size_t)a.threads * sizeof *w);
	for (i = 0; i < a.threads; i++) {
		pthread_mutex_init(&box[i].lock, NULL);
		pthread_cond_init(&box[i].cond, NULL);
		box[i].b = NULL;
	}
	for (i = 0; i < a.threads; i++) {
		int prev = (i + a.threads - 1) % a.threads;

		w[i].id = i;
		w[i].threads = a.threads;
		w[i].make = bench_share(passes, a.threads, i);
		w[i].take = bench_share(passes, a.threads, prev);
		w[i].in = &box[i];
		w[i].out = &box[(i + 1) % a.threads];
	}
	bench_run_threads(worker_main, w, sizeof *w, a.threads);
	for (i = 0; i < a.threads; i++) {
		sum += w[i].sum;
		blocks += w[i].blocks;
	}
	for (i = 0; i < a.threads; i++)
		if (box[i].b != NULL)
			bench_die("an array was left in thread %d's mailbox", i);
	free(box);
	free(w);
	bench_print_checksum(sum ^ blocks);
	return 0;
}

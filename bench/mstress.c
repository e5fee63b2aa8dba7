/*
 * bench/mstress.c — workload "mstress": generations of threads that
 * allocate, free, keep and trade blocks; after mimalloc's stress test
 * (test-stress, "mstress" in mimalloc-bench).
 *
 * mimalloc's stress test runs a number of rounds; in each it starts N
 * threads that allocate and free blocks of random sizes (mostly under a
 * KiB, now and then much bigger, rarely up to a MiB or so) at random, keep
 * some of them, and exchange others with the other threads through a shared
 * array of transfer slots (a block put there is freed by whichever thread
 * takes it out); when the threads of a round have finished, part of what
 * they kept is still alive and is freed by the threads of later rounds, so
 * memory keeps being freed by threads other than the (by then exited) ones
 * that allocated it, and thread-local heaps must be abandoned and adopted.
 *
 * This workload: 10 rounds; in each, -t N threads (default 2) are started.
 * Thread i of a round adopts the live set that thread i of the previous
 * round left (its blocks were allocated by threads that have exited) and
 * does its share of the round's operations, each one at random:
 *   40 %  allocate a block into its live set (replacing a random one if
 *         the set is full),
 *   35 %  free a random block of its live set,
 *   15 %  replace a random block of its live set (free, then allocate),
 *   10 %  allocate a block and swap it into a random one of 1024 shared
 *         transfer slots (an atomic exchange), freeing what it took out,
 *         which some other thread, of this round or an earlier one,
 *         allocated.
 * It then frees half of its live set and leaves the other half to the next
 * round's thread i.  Between rounds the main thread frees the blocks in
 * half of the transfer slots.  The live sets hold 16384 blocks in all
 * (split between the threads).  Sizes: 16..1024 bytes (in steps of 8) for
 * 98 %, ten times that for 1.9 %, a thousand times that (16 KiB..1 MiB) for
 * 0.1 %.
 *
 * Every block is written (a word per 64-byte line and the last word) and
 * checked before it is freed, whoever frees it; a transferred block carries
 * its size and tag in its second and third words (it is at least 32 bytes
 * long).  The checksum is a sum over all blocks, so it does not depend on
 * which thread freed which block, only on the parameters (and on -t: each
 * thread draws from its own generator).  The total number of operations
 * is fixed (4 million at scale 1), whatever -t says.
 *
 * Differences from mimalloc's test: our own operation mix, sizes and
 * parameters; every block is checked; the work does not grow with the
 * thread count.
 */
#include "align.h"

#include <pthread.h>
#include <stdatomic.h>

#define ROUNDS    10
#define OPS       4000000   /* operations at scale 1, over all rounds and threads */
#define LIVE      16384     /* live-set capacity, over all threads */
#define TRANSFER  1024      /* shared transfer slots */

/* What thread i of a round inherits and passes on. */
struct lineage {
	int id;
	struct bench_blk *live;
	size_t nlive, cap;
	uint64_t serial;        /* blocks allocated by this lineage so far */
	uint64_t sum;           /* over the blocks its threads freed */
};

struct worker {
	struct lineage *lin;
	int round;
	uint64_t ops;
};

static unsigned char *_Atomic transfer[TRANSFER];
static pthread_mutex_t sum_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t transfer_sum;   /* transferred blocks freed (by anyone) */

static size_t pick_size(struct bench_rng *r)
{
	size_t n = 8 * bench_range(r, 2, 128);
	uint64_t c = bench_below(r, 1000);

	if (c == 0)
		n *= 1000;
	else if (c < 20)
		n *= 10;
	return n;
}

static uint64_t make_tag(struct lineage *l, int round)
{
	return ((uint64_t)l->id << 48) ^ ((uint64_t)round << 40) ^ ++l->serial;
}

/* A transferred block: pattern as usual, plus its size and tag at 8 and 16
 * (bench_fill writes only 0, 64, 128, ... and the last word, n - 8 >= 24). */
static unsigned char *transfer_get(size_t n, uint64_t tag)
{
	unsigned char *p;

	if (n < 32)
		n = 32;
	p = bench_malloc_al(n);
	bench_fill(p, n, tag);
	bench_store(p + 8, n);
	bench_store(p + 16, tag);
	return p;
}

static uint64_t transfer_put(unsigned char *p)
{
	size_t n = (size_t)bench_load(p + 8);
	uint64_t v;

	if (n < 32 || n > ((size_t)1 << 24))
		bench_die("transferred block %p has a corrupted size word (%zu)", (void *)p, n);
	v = bench_verify(p, n, bench_load(p + 16));
	free(p);
	return v;
}

static void live_free(struct lineage *l, size_t i, uint64_t *sum)
{
	*sum += bench_blk_put(&l->live[i]);
	l->live[i] = l->live[--l->nlive];
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct lineage *l = w->lin;
	struct bench_rng rng = { bench_mix(((uint64_t)l->id << 32) ^ (uint64_t)w->round ^ 0x6d737472ULL) };
	uint64_t k, sum = 0, tsum = 0;
	size_t keep;

	for (k = 0; k < w->ops; k++) {
		uint64_t c = bench_below(&rng, 100);

		if (c < 40 || l->nlive == 0) {
			size_t n = pick_size(&rng);

			if (l->nlive == l->cap)
				live_free(l, bench_below(&rng, l->nlive), &sum);
			bench_blk_get_al(&l->live[l->nlive++], n, make_tag(l, w->round));
		} else if (c < 75) {
			live_free(l, bench_below(&rng, l->nlive), &sum);
		} else if (c < 90) {
			struct bench_blk *b = &l->live[bench_below(&rng, l->nlive)];

			sum += bench_blk_put(b);
			bench_blk_get_al(b, pick_size(&rng), make_tag(l, w->round));
		} else {
			unsigned char *p = transfer_get(pick_size(&rng), make_tag(l, w->round));

			p = atomic_exchange(&transfer[bench_below(&rng, TRANSFER)], p);
			if (p != NULL)
				tsum += transfer_put(p);
		}
	}
	/* keep half for the next round's thread (the live set is in random
	 * order already: removals move the last block into the hole) */
	keep = l->nlive / 2;
	while (l->nlive > keep)
		live_free(l, l->nlive - 1, &sum);
	l->sum += sum;
	pthread_mutex_lock(&sum_lock);
	transfer_sum += tsum;
	pthread_mutex_unlock(&sum_lock);
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct lineage *lin;
	struct worker *w;
	uint64_t total, sum = 0;
	size_t i;
	int t, r, nt;

	bench_parse(argc, argv,
		    "Rounds of threads allocating, freeing, keeping and trading blocks through\n"
		    "shared slots; each round's survivors are freed by later rounds (mimalloc's\n"
		    "stress test).", 1, &a);
	total = bench_scaled(OPS, a.scale);
	nt = a.threads;
	lin = calloc((size_t)nt, sizeof *lin);
	w = calloc((size_t)nt, sizeof *w);
	if (lin == NULL || w == NULL)
		bench_die("out of memory");
	for (t = 0; t < nt; t++) {
		lin[t].id = t;
		lin[t].cap = (size_t)bench_share(LIVE, nt, t);
		if (lin[t].cap == 0)
			lin[t].cap = 1;
		lin[t].live = calloc(lin[t].cap, sizeof *lin[t].live);
		if (lin[t].live == NULL)
			bench_die("out of memory");
	}

	for (r = 0; r < ROUNDS; r++) {
		uint64_t round_ops = bench_share(total, ROUNDS, r);

		for (t = 0; t < nt; t++) {
			w[t].lin = &lin[t];
			w[t].round = r;
			w[t].ops = bench_share(round_ops, nt, t);
		}
		bench_run_threads(worker_main, w, sizeof *w, nt);
		/* the main thread frees half of the transferred blocks */
		for (i = (size_t)r & 1; i < TRANSFER; i += 2) {
			unsigned char *p = atomic_exchange(&transfer[i], NULL);

			if (p != NULL)
				transfer_sum += transfer_put(p);
		}
	}

	for (i = 0; i < TRANSFER; i++) {
		unsigned char *p = atomic_exchange(&transfer[i], NULL);

		if (p != NULL)
			transfer_sum += transfer_put(p);
	}
	for (t = 0; t < nt; t++) {
		struct lineage *l = &lin[t];

		while (l->nlive > 0)
			live_free(l, l->nlive - 1, &l->sum);
		free(l->live);
		sum += bench_mix(l->sum + l->serial);
	}
	free(w);
	free(lin);
	bench_print_checksum(sum ^ bench_mix(transfer_sum) ^ total);
	return 0;
}

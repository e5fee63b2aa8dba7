/*
 * bench/rptest.c — workload "rptest": threads allocating batches of blocks,
 * churning them, and passing some batches to another thread to free; after
 * rpmalloc's benchmark (rptest in mimalloc-bench).
 *
 * rpmalloc's benchmark runs N threads, each doing a number of loops; in a
 * loop a thread allocates a set of blocks of random sizes in a given range,
 * frees and reallocates some of them ("operations"), and frees the set,
 * except that every few loops (the cross-thread rate) it hands the set to
 * another thread, which frees it; the threads are stopped and new ones
 * started every few rounds, so blocks outlive the threads that allocated
 * them.
 *
 * This workload: 8 generations; in each, -t N threads (default 2) are
 * started and do their share of the generation's loops (2400 loops in all
 * at scale 1), then exit.  A loop of thread i:
 *   1. frees (checking them) all the batches in its mailbox, handed to it
 *      by thread i-1 of this generation or of an earlier one;
 *   2. allocates a batch of 512 blocks;
 *   3. 256 times frees a random block of the batch and allocates a new one
 *      in its place;
 *   4. every 2nd loop, puts the batch into the mailbox of thread i+1
 *      (mod N; with -t 1 its own), otherwise frees it in the order it was
 *      allocated.
 * Sizes: 90 % between 16 and 4096 bytes with a density falling linearly
 * to nothing at 4096 (mean about 1.4 KiB), 10 % uniform between 4 KiB and
 * 16000 bytes.  What is left in the mailboxes at the end is freed by the
 * main thread.
 *
 * Every block is written (a word per 64-byte line and the last word) and
 * checked before it is freed, by whichever thread frees it.  The checksum
 * is a sum over all blocks, so it depends only on the parameters (and on
 * -t, which divides the work differently).  The total number of loops is
 * fixed, whatever -t says.
 *
 * Differences from rpmalloc's benchmark: our own size distribution and
 * parameters, a fixed amount of work, mailboxes protected by a mutex (one
 * lock per batch of 512 blocks), every block checked.
 */
#include "align.h"

#include <pthread.h>

#define GENS      8
#define LOOPS     2400      /* loops at scale 1, over all generations and threads */
#define BATCH     512       /* blocks allocated per loop */
#define CHURN     256       /* frees and reallocations per loop */
#define CROSS     2         /* every CROSS-th loop's batch goes to another thread */

struct batch {
	struct batch *next;
	struct bench_blk blk[BATCH];
};

struct mailbox {
	pthread_mutex_t lock;
	struct batch *head;
	uint64_t sum;           /* over the blocks of batches taken out of it */
};

struct worker {
	int id, gen, nt;
	uint64_t loops;
	uint64_t serial;        /* across generations: blocks of lineage id */
	uint64_t sum;
};

static struct mailbox *mail;

static size_t pick_size(struct bench_rng *r)
{
	uint64_t a, b;

	if (bench_below(r, 10) == 0)
		return bench_range(r, 4097, 16000);
	/* the smaller of two uniforms: density falling linearly to 0 at 4096 */
	a = bench_below(r, 4096 - 16);
	b = bench_below(r, 4096 - 16);
	return 16 + (size_t)(a < b ? a : b);
}

static uint64_t drain(struct mailbox *m)
{
	struct batch *b, *next;
	uint64_t sum = 0;
	size_t i;

	pthread_mutex_lock(&m->lock);
	b = m->head;
	m->head = NULL;
	pthread_mutex_unlock(&m->lock);
	for (; b != NULL; b = next) {
		next = b->next;
		for (i = 0; i < BATCH; i++)
			sum += bench_blk_put(&b->blk[i]);
		free(b);
	}
	return sum;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench_rng rng = { bench_mix(((uint64_t)w->id << 32) ^ (uint64_t)w->gen ^ 0x7270746573ULL) };
	uint64_t k, sum = 0;
	size_t i, c;

	for (k = 0; k < w->loops; k++) {
		struct batch *b;

		sum += drain(&mail[w->id]);

		b = bench_malloc_al(sizeof *b);
		for (i = 0; i < BATCH; i++)
			bench_blk_get_al(&b->blk[i], pick_size(&rng), ((uint64_t)w->id << 48) | ++w->serial);
		for (c = 0; c < CHURN; c++) {
			struct bench_blk *x = &b->blk[bench_below(&rng, BATCH)];

			sum += bench_blk_put(x);
			bench_blk_get_al(x, pick_size(&rng), ((uint64_t)w->id << 48) | ++w->serial);
		}
		if (k % CROSS == CROSS - 1) {
			struct mailbox *m = &mail[(w->id + 1) % w->nt];

			pthread_mutex_lock(&m->lock);
			b->next = m->head;
			m->head = b;
			pthread_mutex_unlock(&m->lock);
		} else {
			for (i = 0; i < BATCH; i++)
				sum += bench_blk_put(&b->blk[i]);
			free(b);
		}
	}
	w->sum += sum;
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct worker *w;
	uint64_t total, sum = 0, serials = 0;
	int t, g, nt;

	bench_parse(argc, argv,
		    "Threads allocating batches of 16..16000-byte blocks, churning them and\n"
		    "handing every 2nd batch to the next thread; threads replaced every\n"
		    "generation (rpmalloc's benchmark).", 1, &a);
	total = bench_scaled(LOOPS, a.scale);
	nt = a.threads;
	w = calloc((size_t)nt, sizeof *w);
	mail = calloc((size_t)nt, sizeof *mail);
	if (w == NULL || mail == NULL)
		bench_die("out of memory");
	for (t = 0; t < nt; t++) {
		w[t].id = t;
		w[t].nt = nt;
		pthread_mutex_init(&mail[t].lock, NULL);
	}

	for (g = 0; g < GENS; g++) {
		uint64_t gen_loops = bench_share(total, GENS, g);

		for (t = 0; t < nt; t++) {
			w[t].gen = g;
			w[t].loops = bench_share(gen_loops, nt, t);
		}
		bench_run_threads(worker_main, w, sizeof *w, nt);
	}

	/* which thread freed a handed-over batch depends on the timing (the
	 * main thread frees what is left), so only the sum over all threads
	 * is deterministic */
	for (t = 0; t < nt; t++) {
		sum += drain(&mail[t]) + w[t].sum;
		serials += bench_mix(w[t].serial + (uint64_t)t);
		pthread_mutex_destroy(&mail[t].lock);
	}
	free(mail);
	free(w);
	bench_print_checksum(bench_mix(sum) ^ serials ^ total);
	return 0;
}

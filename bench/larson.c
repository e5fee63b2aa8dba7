/*
 * bench/larson.c — workload "larson": a server whose worker threads come
 * and go, in the manner of Larson & Krishnan's server benchmark.
 *
 * Models a server that keeps per-connection state in many small objects
 * (16..1000 bytes, now and then a bigger buffer of up to 32 KiB), replacing
 * them at random as requests come in, and that hands each connection's state
 * over to a fresh worker thread from time to time (thread-per-request
 * servers, thread pools that retire and respawn workers).  Each "lineage"
 * owns an array of slots; its thread repeatedly frees a random slot's block
 * and allocates a new one into it; after a fixed number of replacements it
 * starts a new thread, passes it the whole array and exits, and the new
 * thread joins it and carries on.  The initial blocks are allocated by the
 * main thread and the last ones freed by it.
 *
 * For the allocator this means: almost every block is freed by a thread
 * other than the one that allocated it (its allocating thread has usually
 * exited by then), threads are created and exit all the time (per-thread
 * caches and heaps must be set up, flushed and reused or leaked), and the
 * heap holds a randomly fragmented working set.
 *
 * -t N (default 2) lineages run side by side.  The total number of
 * replacements, the total number of slots (split between the lineages) and
 * the number of replacements per thread lifetime are fixed, so -t changes
 * the parallelism, not the work.  Each lineage draws its victims and sizes
 * from its own generator, which travels with the slot array from thread to
 * thread, so the checksum does not depend on which thread did what.
 */
#include "common.h"

#include <pthread.h>

#define OPS       6000000   /* replacements at scale 1, over all lineages */
#define SLOTS     8192      /* live blocks, over all lineages */
#define LIFE      20000     /* replacements per thread before it hands over */
#define MINSLOTS  64        /* slots per lineage at least */

struct lineage {
	int id;
	struct bench_blk *slot;
	size_t nslots;
	struct bench_rng rng;       /* travels with the slots */
	uint64_t serial;
	uint64_t left;              /* replacements still to do */
	uint64_t sum;
	uint64_t generations;       /* threads that worked on it */
	pthread_t prev;             /* the thread to join: predecessor, or last */
};

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done_count;

static size_t pick_size(struct bench_rng *r)
{
	if (bench_below(r, 128) == 0)
		return bench_range(r, 1001, 32768);
	return bench_range(r, 16, 1000);
}

static void fill_slot(struct lineage *l, size_t i)
{
	bench_blk_get(&l->slot[i], pick_size(&l->rng), ((uint64_t)l->id << 40) | ++l->serial);
}

static void *generation_main(void *arg)
{
	struct lineage *l = arg;
	uint64_t n, k, sum = 0;
	pthread_t next;
	int err;

	/* reap the thread that handed the slots over (not the first time) */
	if (l->generations > 0 && (err = pthread_join(l->prev, NULL)) != 0)
		bench_die("pthread_join: %s", strerror(err));
	l->generations++;

	n = l->left < LIFE ? l->left : LIFE;
	for (k = 0; k < n; k++) {
		size_t i = (size_t)bench_below(&l->rng, l->nslots);

		sum += bench_blk_put(&l->slot[i]);
		fill_slot(l, i);
	}
	l->sum += sum;
	l->left -= n;
	l->prev = pthread_self();

	if (l->left > 0) {
		/* hand over; l belongs to the new thread from here on */
		if ((err = pthread_create(&next, NULL, generation_main, l)) != 0)
			bench_die("pthread_create: %s", strerror(err));
	} else {
		pthread_mutex_lock(&done_lock);
		done_count++;
		pthread_cond_signal(&done_cond);
		pthread_mutex_unlock(&done_lock);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct lineage *lin;
	uint64_t total, sum = 0, gens = 0;
	size_t per, i;
	int t, nt, busy = 0, err;

	bench_parse(argc, argv,
		    "Server threads replacing random blocks in their slot arrays and\n"
		    "handing the arrays over to freshly created threads (Larson).", 1, &a);
	total = bench_scaled(OPS, a.scale);
	nt = a.threads;
	per = SLOTS / (size_t)nt < MINSLOTS ? MINSLOTS : SLOTS / (size_t)nt;
	lin = calloc((size_t)nt, sizeof *lin);
	if (lin == NULL)
		bench_die("out of memory");

	/* the main thread sets up every lineage's blocks, as in larson */
	for (t = 0; t < nt; t++) {
		struct lineage *l = &lin[t];

		l->id = t;
		l->rng.s = 0x6c6172736f6eULL + (uint64_t)t * 0x100000001b3ULL;
		l->nslots = per;
		l->slot = calloc(per, sizeof *l->slot);
		if (l->slot == NULL)
			bench_die("out of memory");
		for (i = 0; i < per; i++)
			fill_slot(l, i);
		l->left = total / (uint64_t)nt + ((uint64_t)t < total % (uint64_t)nt);
	}
	for (t = 0; t < nt; t++) {
		pthread_t first;

		if (lin[t].left == 0)
			continue;
		busy++;
		/* (joined by its successor, or stored in prev if it is the last) */
		if ((err = pthread_create(&first, NULL, generation_main, &lin[t])) != 0)
			bench_die("pthread_create: %s", strerror(err));
	}

	/* wait for every lineage's last thread, then join it */
	pthread_mutex_lock(&done_lock);
	while (done_count < busy)
		pthread_cond_wait(&done_cond, &done_lock);
	pthread_mutex_unlock(&done_lock);
	for (t = 0; t < nt; t++) {
		struct lineage *l = &lin[t];

		if (l->generations > 0 && (err = pthread_join(l->prev, NULL)) != 0)
			bench_die("pthread_join: %s", strerror(err));
		for (i = 0; i < l->nslots; i++)
			l->sum += bench_blk_put(&l->slot[i]) * 3;
		free(l->slot);
		sum += bench_mix(l->sum ^ l->serial);
		gens += l->generations;
	}
	free(lin);
	if (total > 0 && gens < total / LIFE)
		bench_die("only %" PRIu64 " threads ran", gens);
	bench_print_checksum(sum ^ total);
	return 0;
}

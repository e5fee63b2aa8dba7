/*
 * bench/xmalloc.c — workload "xmalloc": many-to-many hand-off of batches of
 * blocks between threads, in the style of Lever & Boreham's xmalloc-test.
 *
 * Models a pipeline or message-passing program in which any thread may
 * produce work items and any other thread may finish them: worker pools
 * sharing one job queue, actors, request objects created by I/O threads and
 * released by whichever worker completes them.  Each thread allocates a
 * batch of blocks of assorted sizes (mostly small), fills them and appends
 * the batch to one shared, mutex-protected queue; it then takes the oldest
 * batch that some other thread made, checks and frees its blocks and the
 * batch itself.  A thread with nothing to take makes another batch, or
 * waits if the queue is full.
 *
 * Unlike prodcons (fixed producer and consumer roles, one ring per
 * producer), every thread both allocates and frees, and a thread's blocks
 * are freed by all the others in no fixed pattern: memory keeps migrating
 * between the threads' caches and heaps in every direction, remote frees
 * arrive from several threads at once, and a thread's heap fills with
 * holes that others punched.  The queue is taken once per batch, so the
 * allocator, not the queue, is the bottleneck.
 *
 * -t N (default 2) threads share a fixed total number of blocks, so -t
 * changes the parallelism, not the work.  Sizes come from a generator per
 * producing thread, and the checksum sums values derived from each block's
 * tag and size, so it does not depend on which thread freed what.  With
 * -t 1 the single thread takes its own batches.
 */
#include "common.h"

#include <pthread.h>

#define BLOCKS    4000000   /* at scale 1, over all threads */
#define BATCH     256       /* blocks per batch */
#define QUEUED    4         /* batches queued per thread, at most */

struct batch {
	struct batch *next;
	int owner;
	size_t n;
	struct bench_blk blk[BATCH];
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct batch *head, **tailp;
	uint64_t len;           /* queued batches plus batches being made */
	uint64_t max;
	uint64_t taken, total;  /* batches taken so far, and in all */
	int waiting;
	int threads;
} q = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

struct worker {
	int id;
	uint64_t quota;         /* batches to make */
	uint64_t made;
	uint64_t sum;           /* over the batches it freed, plus its serial */
};

static size_t pick_size(struct bench_rng *r)
{
	uint64_t u = bench_below(r, 100);

	if (u < 45)
		return bench_range(r, 8, 64);
	if (u < 80)
		return bench_range(r, 65, 256);
	if (u < 96)
		return bench_range(r, 257, 1024);
	return bench_range(r, 1025, 4096);
}

/* The oldest queued batch not made by `self` (any batch with one thread);
 * called with the lock held. */
static struct batch *take_foreign(int self)
{
	struct batch **pp, *b;

	for (pp = &q.head; (b = *pp) != NULL; pp = &b->next) {
		if (b->owner != self || q.threads == 1) {
			*pp = b->next;
			if (q.tailp == &b->next)
				q.tailp = pp;
			q.len--;
			q.taken++;
			return b;
		}
	}
	return NULL;
}

static struct batch *make_batch(struct worker *w, struct bench_rng *rng, uint64_t *serial)
{
	struct batch *b = bench_malloc(sizeof *b);
	size_t i;

	b->next = NULL;
	b->owner = w->id;
	b->n = BATCH;
	for (i = 0; i < BATCH; i++)
		bench_blk_get(&b->blk[i], pick_size(rng), ((uint64_t)w->id << 40) | ++*serial);
	return b;
}

static uint64_t free_batch(struct batch *b)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < b->n; i++) {
		uint64_t tag = b->blk[i].tag;

		sum += bench_mix(bench_blk_put(&b->blk[i]) + tag);
	}
	free(b);
	return sum;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench_rng rng = { 0x786d616c6cULL + (uint64_t)w->id * 0x100000001b3ULL };
	uint64_t serial = 0, sum = 0;

	for (;;) {
		struct batch *b;
		int make;

		pthread_mutex_lock(&q.lock);
		for (;;) {
			b = take_foreign(w->id);
			make = w->made < w->quota && q.len < q.max;
			if (b != NULL || make || q.taken == q.total)
				break;
			q.waiting++;
			pthread_cond_wait(&q.cond, &q.lock);
			q.waiting--;
		}
		if (make)
			q.len++;        /* reserve its place */
		if (b != NULL && q.waiting > 0)
			pthread_cond_broadcast(&q.cond);  /* room, or all taken */
		pthread_mutex_unlock(&q.lock);
		if (b == NULL && !make)
			break;

		if (make) {
			struct batch *nb = make_batch(w, &rng, &serial);

			w->made++;
			pthread_mutex_lock(&q.lock);
			*q.tailp = nb;
			q.tailp = &nb->next;
			if (q.waiting > 0)
				pthread_cond_broadcast(&q.cond);
			pthread_mutex_unlock(&q.lock);
		}
		if (b != NULL)
			sum += free_batch(b);
	}
	/* a plain sum: it must not matter which thread freed which batch */
	w->sum = sum + bench_mix(serial);
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct worker *w;
	uint64_t batches, made = 0, sum = 0;
	int i;

	bench_parse(argc, argv,
		    "Threads allocating batches of blocks and passing them through one\n"
		    "shared queue to be freed by the other threads (xmalloc-test).", 1, &a);
	batches = (bench_scaled(BLOCKS, a.scale) + BATCH - 1) / BATCH;
	w = calloc((size_t)a.threads, sizeof *w);
	if (w == NULL)
		bench_die("out of memory");
	q.head = NULL;
	q.tailp = &q.head;
	q.max = (uint64_t)QUEUED * (uint64_t)a.threads;
	q.total = batches;
	q.threads = a.threads;
	for (i = 0; i < a.threads; i++) {
		w[i].id = i;
		w[i].quota = bench_share(batches, a.threads, i);
	}
	bench_run_threads(worker_main, w, sizeof *w, a.threads);
	for (i = 0; i < a.threads; i++) {
		sum += w[i].sum;
		made += w[i].made;
	}
	if (made != batches || q.taken != batches || q.head != NULL)
		bench_die("%" PRIu64 " batches made, %" PRIu64 " taken, %" PRIu64 " wanted",
			  made, q.taken, batches);
	free(w);
	bench_print_checksum(sum ^ batches);
	return 0;
}

/*
 * bench/cache-thrash.c — workload "cache-thrash": active false sharing,
 * after the cache-thrash test of the Hoard allocator's benchmark suite.
 *
 * Models worker threads that each keep allocating a tiny object (a counter,
 * a lock word, a small accumulator), update it many times and free it,
 * sharing nothing with each other.  An allocator that serves concurrent
 * threads from one heap can give two threads neighbouring objects in one
 * cache line: the program has no sharing of its own, but the line bounces
 * between the cores on every write ("active" false sharing, caused by the
 * allocator alone).  An allocator with per-thread heaps or caches that keep
 * threads in lines of their own runs at the speed of the cache.
 *
 * Each object is OBJSIZE bytes; every iteration allocates one, writes each
 * of its bytes WRITES times (reading each write back), checks the last
 * values and frees it.  -t N (default 2) threads share a fixed total number
 * of iterations, so -t changes the parallelism, not the work; the values
 * written depend only on the iteration's number, so the checksum depends
 * only on the scale.  The effect needs threads on different cores: with
 * more threads than cores, or -t 1, there is nothing to see.
 */
#include "common.h"

#include <pthread.h>

#define ITERS     1000000   /* objects at scale 1, over all threads */
#define WRITES    100       /* writes to each byte of an object */
#define OBJSIZE   8         /* bytes per object */

struct worker {
	uint64_t first, end;    /* iterations [first, end) */
	uint64_t sum;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t i, sum = 0;

	for (i = w->first; i < w->end; i++) {
		unsigned char *p = bench_malloc(OBJSIZE);

		sum += bench_hammer(p, OBJSIZE, WRITES, i);
		free(p);
	}
	w->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct worker *w;
	uint64_t total, next = 0, sum = 0;
	int i;

	bench_parse(argc, argv,
		    "Threads each allocating, writing hard and freeing small objects,\n"
		    "nothing shared (Hoard's cache-thrash: active false sharing).", 1, &a);
	total = bench_scaled(ITERS, a.scale);
	w = calloc((size_t)a.threads, sizeof *w);
	if (w == NULL)
		bench_die("out of memory");
	for (i = 0; i < a.threads; i++) {
		w[i].first = next;
		next += bench_share(total, a.threads, i);
		w[i].end = next;
	}
	bench_run_threads(worker_main, w, sizeof *w, a.threads);
	for (i = 0; i < a.threads; i++) {
		sum += w[i].sum;
	}
	free(w);
	bench_print_checksum(sum ^ total);
	return 0;
}

/*
 * bench/cache-scratch.c — workload "cache-scratch": passive false sharing,
 * after the cache-scratch test of the Hoard allocator's benchmark suite.
 *
 * Models a program whose main thread sets up a small object for each worker
 * (a context, a counter, a request) and hands it over; each worker frees it
 * and from then on keeps allocating, heavily updating and freeing small
 * objects of the same size (scratch counters, iterators, accumulators).
 * The main thread allocated the handed-over objects one after another, so
 * several of them share a cache line.  An allocator that lets a worker's
 * freed object, or the line it sits in, be handed back to that worker puts
 * two threads' hot objects into one cache line: the line then bounces
 * between the cores on every write ("passive" false sharing, since the
 * program never shares anything itself).  An allocator that returns freed
 * blocks to the heap they came from, or gives each thread memory of its own,
 * runs at the speed of the cache.
 *
 * Each object is OBJSIZE bytes; every iteration allocates one, writes each
 * of its bytes WRITES times (reading each write back), checks the last
 * values and frees it.  -t N (default 2) threads share a fixed total number
 * of iterations, so -t changes the parallelism, not the work.  The values
 * written depend only on the iteration's number, so the checksum depends
 * only on the scale and the thread count (through the handed-over objects).
 * The effect needs threads on different cores: with more threads than
 * cores, or -t 1, there is nothing to see.
 */
#include "common.h"

#include <pthread.h>

#define ITERS     400000    /* objects at scale 1, over all threads */
#define WRITES    100       /* writes to each byte of an object */
#define OBJSIZE   8         /* bytes per object */

struct worker {
	int id;
	unsigned char *handed;  /* the main thread's object, freed first */
	uint64_t first, end;    /* iterations [first, end) */
	uint64_t sum;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t i, sum;

	sum = bench_verify(w->handed, OBJSIZE, (uint64_t)w->id);
	free(w->handed);
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
		    "The main thread hands each thread a small object, which it frees;\n"
		    "then each thread allocates, writes hard and frees small objects\n"
		    "(Hoard's cache-scratch: passive false sharing).", 1, &a);
	total = bench_scaled(ITERS, a.scale);
	w = calloc((size_t)a.threads, sizeof *w);
	if (w == NULL)
		bench_die("out of memory");
	/* one after another, so that they are likely to share cache lines */
	for (i = 0; i < a.threads; i++) {
		w[i].handed = bench_malloc(OBJSIZE);
		bench_fill(w[i].handed, OBJSIZE, (uint64_t)i);
	}
	for (i = 0; i < a.threads; i++) {
		w[i].id = i;
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

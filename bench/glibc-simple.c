/*
 * bench/glibc-simple.c — workload "glibc-simple": batches of same-sized
 * blocks allocated and freed again, after glibc's benchtests
 * bench-malloc-simple.
 *
 * glibc's benchmark times the simplest possible use of malloc: for each of
 * a few block sizes and batch sizes, allocate a batch of that many blocks
 * of that size, free them all in the order they were allocated, and repeat
 * many times; it does so once in the main thread (main arena) and once in a
 * second thread (a thread arena).  This workload does the same: sizes 16,
 * 64, 256, 1024 and 4096 bytes, batches of 1, 32 and 1024 blocks, each
 * combination for the same number of allocations (600000 at scale 1)
 * except the batches of 1024, which get 1/32 of that (about 18 batches), so
 * that the fast paths are not drowned in the cost of the big batches' page
 * faults; first in the main thread and then in a freshly created thread
 * (the program has one running thread at a time, so it is a
 * single-threaded workload).
 *
 * What it shows: the fast path (a batch of 1 is malloc/free of the same
 * block over and over: thread cache hits), a thread cache that overflows
 * (32 blocks), and a batch that never fits in any cache (1024 blocks: 16 KiB
 * to 4 MiB of live data).  A batch of 1024 blocks of 4 KiB grows glibc's
 * heap top by 4 MiB and frees it again, past M_TRIM_THRESHOLD, so glibc
 * trims the heap (brk or madvise) and grows it again (page faults) in every
 * iteration; an allocator that keeps a little freed memory around does not.
 *
 * Differences from glibc's benchmark: every block is written (a word per
 * 64-byte line and the last word) and checked before it is freed, and the
 * number of iterations is fixed instead of measured against a clock (and
 * smaller for the batches of 1024).
 */
#include "align.h"

#include <pthread.h>

#define ALLOCS    600000    /* allocations per (size, batch) at scale 1 ... */
#define BIGSHARE  32        /* ... but 1/32 of that for the batches of 1024 */
#define MAXBATCH  1024

static const size_t sizes[] = { 16, 64, 256, 1024, 4096 };
static const size_t batches[] = { 1, 32, 1024 };
#define NSIZES   (sizeof sizes / sizeof sizes[0])
#define NBATCHES (sizeof batches / sizeof batches[0])

struct job {
	uint64_t allocs;        /* per combination */
	uint64_t salt;          /* main thread or second thread */
	uint64_t sum;
};

static uint64_t one_combination(size_t size, size_t batch, uint64_t iters, uint64_t salt)
{
	void *blk[MAXBATCH];
	uint64_t it, sum = 0;
	size_t i;

	for (it = 0; it < iters; it++) {
		uint64_t tag = salt ^ (it << 16);

		for (i = 0; i < batch; i++) {
			blk[i] = bench_malloc_al(size);
			bench_fill(blk[i], size, tag + i);
		}
		for (i = 0; i < batch; i++) {
			sum += bench_verify(blk[i], size, tag + i);
			free(blk[i]);
		}
	}
	return sum;
}

static void *run(void *arg)
{
	struct job *j = arg;
	size_t s, b;

	for (s = 0; s < NSIZES; s++)
		for (b = 0; b < NBATCHES; b++) {
			uint64_t allocs = batches[b] == MAXBATCH ? j->allocs / BIGSHARE : j->allocs;
			uint64_t iters = allocs / batches[b];

			if (j->allocs > 0 && iters == 0)
				iters = 1;
			j->sum = j->sum * 31 +
				 one_combination(sizes[s], batches[b], iters,
						 j->salt ^ ((uint64_t)(s * NBATCHES + b) << 56));
		}
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct job main_job = { 0 }, thread_job = { 0 };
	pthread_t th;
	int err;

	bench_parse(argc, argv,
		    "Batches of 1, 32 or 1024 blocks of 16..4096 bytes, allocated and freed\n"
		    "in order, in the main thread and then in a second one (glibc's\n"
		    "bench-malloc-simple).", 0, &a);
	main_job.allocs = thread_job.allocs = bench_scaled(ALLOCS, a.scale);
	main_job.salt = 0x6d61696eULL;
	thread_job.salt = 0x746872656164ULL;

	run(&main_job);
	if ((err = pthread_create(&th, NULL, run, &thread_job)) != 0)
		bench_die("pthread_create: %s", strerror(err));
	if ((err = pthread_join(th, NULL)) != 0)
		bench_die("pthread_join: %s", strerror(err));

	bench_print_checksum(bench_mix(main_job.sum) ^ thread_job.sum ^ main_job.allocs);
	return 0;
}

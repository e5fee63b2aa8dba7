/*
 * bench/aligned.c — workload "aligned": churn of aligned allocations.
 *
 * Models programs that ask for aligned memory all the time: cache-line
 * aligned per-thread or per-core structures (64), SIMD buffers (32, 64),
 * page-aligned I/O buffers (4096, O_DIRECT), allocators and arenas built on
 * top of malloc.  A pool of POOL live blocks is replaced at random; each
 * new block comes from one of:
 *   - posix_memalign(64, n)                          30 %
 *   - posix_memalign(4096, n)                        15 %
 *   - aligned_alloc(A, n rounded up to a multiple of A), A = 32..4096   35 %
 *   - memalign(A, n), A = 16..4096                   20 %
 * (A a power of two, uniform in its range) with n from 16 bytes to 64 KiB,
 * log-uniform, so most blocks are small next to their alignment: an
 * allocator that pads every aligned request, or carves it from a
 * fresh page, pays for it in peak RSS and page faults.  Every block's
 * alignment is checked, and its contents before it is freed (with free).
 *
 * -s scales the number of replacements.
 */
#include "common.h"
#include "align.h"

#include <errno.h>
#include <malloc.h>

#define POOL   2048
#define STEPS  700000       /* replacements at scale 1 */

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rng rng = { 0x616c69676eULL };
	static struct bench_blk pool[POOL];
	uint64_t steps, step, serial = 0, sum = 0, kinds[4] = { 0 };
	size_t i;

	bench_parse(argc, argv,
		    "A pool of blocks from posix_memalign (64, 4096), aligned_alloc\n"
		    "(32..4096) and memalign (16..4096), 16 B..64 KiB, replaced at random.", 0, &a);
	steps = bench_scaled(STEPS, a.scale);

	for (step = 0; step < steps; step++) {
		struct bench_blk *b = &pool[bench_below(&rng, POOL)];
		uint64_t u = bench_below(&rng, 100);
		unsigned bits = 4 + (unsigned)bench_below(&rng, 12);        /* 16 B..64 KiB */
		size_t n = bench_range(&rng, (size_t)1 << bits, (size_t)2 << bits), al;
		const char *fn;
		void *p = NULL;
		int err = 0, kind;

		if (b->p != NULL)
			sum += bench_blk_put(b);
		if (u < 30) {
			kind = 0;
			al = 64;
			fn = "posix_memalign(64)";
			err = posix_memalign(&p, al, n);
		} else if (u < 45) {
			kind = 1;
			al = 4096;
			fn = "posix_memalign(4096)";
			err = posix_memalign(&p, al, n);
		} else if (u < 80) {
			kind = 2;
			al = (size_t)32 << bench_below(&rng, 8);               /* 32..4096 */
			n = (n + al - 1) & ~(al - 1);
			fn = "aligned_alloc";
			p = aligned_alloc(al, n);
		} else {
			kind = 3;
			al = (size_t)16 << bench_below(&rng, 9);               /* 16..4096 */
			fn = "memalign";
			p = memalign(al, n);
		}
		if (err != 0 || p == NULL)
			bench_die("%s(%zu bytes, alignment %zu) failed: %s", fn, n, al,
				  strerror(err ? err : ENOMEM));
		bench_check_align(p, n, al, fn);
		kinds[kind]++;
		b->p = p;
		b->n = n;
		b->tag = ++serial;
		bench_fill(p, n, serial);
	}
	for (i = 0; i < POOL; i++)
		if (pool[i].p != NULL)
			sum += bench_blk_put(&pool[i]);
	bench_print_checksum(sum ^ serial ^ (kinds[1] << 20) ^ (kinds[2] << 40));
	return 0;
}

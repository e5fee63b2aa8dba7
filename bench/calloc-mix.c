/*
 * bench/calloc-mix.c — workload "calloc-mix": calloc of small, medium and
 * large arrays.
 *
 * Models programs that allocate zeroed arrays and structures: hash tables
 * and bitmaps, matrices and image planes, arrays of structs that start out
 * empty.  A pool of POOL live blocks is replaced at random; each new block
 * is a calloc(count, elem) with an element size from 1 to 64 bytes and a
 * total size from one of three classes:
 *   - small, 16..512 bytes (88 %): recycled heap memory, which calloc must
 *     clear itself;
 *   - medium, 1..64 KiB (11.8 %): heap memory too, or a fresh mapping;
 *   - large, 256 KiB..4 MiB (0.2 %, log-uniform): usually a fresh mapping,
 *     already zero, which an allocator that knows it can skip clearing
 *     (and whose pages it should not touch), or recycled memory that it
 *     must clear.
 * Every new block is checked to be zero: every byte of small and medium
 * blocks; one word in every 512 bytes, plus the first and the last word,
 * of large ones.  Then it is written (a word in every 64-byte line, which
 * includes every sampled word, so memory handed out again without being
 * cleared is caught) and checked again before it is freed.
 *
 * It also checks once that a calloc whose count times size overflows
 * fails.
 *
 * -s scales the number of replacements.
 */
#include "common.h"
#include "align.h"

#define POOL   1024
#define STEPS  150000       /* replacements at scale 1 */

enum { SMALL, MEDIUM, LARGE };

static const size_t elems[] = { 1, 2, 4, 8, 12, 16, 24, 32, 48, 64 };

/* Is the whole block zero?  Words first, bytes at the end. */
static int all_zero(const unsigned char *p, size_t n)
{
	uint64_t acc = 0;
	size_t off;

	for (off = 0; off + 8 <= n; off += 8)
		acc |= bench_load(p + off);
	for (; off < n; off++)
		acc |= p[off];
	return acc == 0;
}

/* Sampled: the first and last word and one in every 512 bytes. */
static int sampled_zero(const unsigned char *p, size_t n)
{
	uint64_t acc = bench_load(p) | bench_load(p + n - 8);
	size_t off;

	for (off = 512; off + 8 <= n; off += 512)
		acc |= bench_load(p + off);
	return acc == 0;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rng rng = { 0x63616c6c6f63ULL };
	static struct bench_blk pool[POOL];
	uint64_t steps, step, serial = 0, sum = 0, classes[3] = { 0 };
	volatile size_t huge = SIZE_MAX / 16 + 2;   /* volatile: no compile-time warning */
	size_t i;
	void *p;

	bench_parse(argc, argv,
		    "A pool of calloc'ed arrays replaced at random: 16..512 B, 1..64 KiB\n"
		    "and 256 KiB..4 MiB, each checked to be zero, written and checked.", 0, &a);
	steps = bench_scaled(STEPS, a.scale);

	p = calloc(huge, 16);
	if (p != NULL)
		bench_die("calloc(%zu, 16) (overflowing) returned %p", huge, p);

	for (step = 0; step < steps; step++) {
		struct bench_blk *b = &pool[bench_below(&rng, POOL)];
		uint64_t u = bench_below(&rng, 1000);
		size_t elem = elems[bench_below(&rng, sizeof elems / sizeof elems[0])];
		size_t want, count, n;
		int cls;

		if (b->p != NULL)
			sum += bench_blk_put(b);
		if (u < 880) {
			cls = SMALL;
			want = bench_range(&rng, 16, 512);
		} else if (u < 998) {
			cls = MEDIUM;
			want = bench_range(&rng, 1024, 65536);
		} else {
			unsigned bits = 18 + (unsigned)bench_below(&rng, 4);   /* 256 KiB..4 MiB */

			cls = LARGE;
			want = bench_range(&rng, (size_t)1 << bits, (size_t)1 << (bits + 1));
		}
		count = (want + elem - 1) / elem;
		n = count * elem;
		p = calloc(count, elem);
		if (p == NULL)
			bench_die("calloc(%zu, %zu) failed", count, elem);
		bench_check_align(p, n, bench_malloc_align(n), "calloc");
		if (cls == LARGE ? !sampled_zero(p, n) : !all_zero(p, n))
			bench_die("calloc(%zu, %zu) returned %p, not all zero", count, elem, p);
		classes[cls]++;
		b->p = p;
		b->n = n;
		b->tag = ++serial;
		bench_fill(p, n, serial);
	}
	for (i = 0; i < POOL; i++)
		if (pool[i].p != NULL)
			sum += bench_blk_put(&pool[i]);
	bench_print_checksum(sum ^ serial ^ (classes[LARGE] << 40) ^ (classes[MEDIUM] << 20));
	return 0;
}

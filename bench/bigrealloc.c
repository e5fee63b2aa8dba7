/*
 * bench/bigrealloc.c — workload "bigrealloc": big buffers grown by realloc.
 *
 * Models reading a large file or a network response into one buffer,
 * serialising into a growing output, building a big array by appending:
 * three buffers grow side by side, each by appends of 64..128 KiB (the
 * buffer reallocated to the exact new length every time), up to 8..32 MiB;
 * then the buffer is checked and freed and a new one starts.
 *
 * Once a buffer is past the mmap threshold every realloc is a realloc of a
 * big block: glibc remaps it (mremap, which may move it, still without
 * copying), kmm grows its vmalloc area in place when the range after it is
 * free or moves its page tables.  The appended bytes are fresh page faults
 * under any allocator that gets new pages from the OS.
 *
 * Verification: each append is written with a known pattern (one word per
 * 64-byte line); after every realloc the first and last word of the old
 * contents are checked, and the whole buffer before it is freed.
 */
#include "common.h"

#define ACTIVE    3         /* buffers growing at the same time */
#define BUILDS    30        /* buffers built at scale 1 */

struct buffer {
	unsigned char *p;
	size_t len, target;
	uint64_t id;
};

static uint64_t word(uint64_t id, size_t off)
{
	return bench_mix(id ^ ((uint64_t)off << 20));
}

static void start(struct buffer *b, struct bench_rng *r, uint64_t id)
{
	b->p = NULL;
	b->len = 0;
	b->target = bench_range(r, (size_t)8 << 20, (size_t)32 << 20);
	b->id = id;
}

static void append(struct buffer *b, struct bench_rng *r)
{
	size_t add = bench_range(r, (size_t)64 << 10, (size_t)128 << 10) & ~(size_t)63;
	size_t old = b->len;
	unsigned char *p = realloc(b->p, old + add);

	if (p == NULL)
		bench_die("realloc(%zu) failed", old + add);
	if (old > 0 && (bench_load(p) != word(b->id, 0) ||
			bench_load(p + old - 64) != word(b->id, old - 64)))
		bench_die("realloc lost data: buffer %" PRIu64 " of %zu bytes", b->id, old);
	for (size_t off = old; off < old + add; off += 64)
		bench_store(p + off, word(b->id, off));
	b->p = p;
	b->len = old + add;
}

static uint64_t finish(struct buffer *b)
{
	uint64_t sum = 0;

	for (size_t off = 0; off < b->len; off += 64) {
		uint64_t got = bench_load(b->p + off);

		if (got != word(b->id, off))
			bench_die("buffer %" PRIu64 " (%zu bytes) corrupted at %zu", b->id, b->len, off);
		sum += got;
	}
	free(b->p);
	b->p = NULL;
	return sum ^ b->len;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rng rng = { 0x7265616c6c6f63ULL };
	struct buffer buf[ACTIVE];
	uint64_t builds, started = 0, done = 0, sum = 0;
	size_t i;

	bench_parse(argc, argv, "Three buffers grown by 64..128 KiB reallocs up to 8..32 MiB.", 0, &a);
	builds = bench_scaled(BUILDS, a.scale);
	for (i = 0; i < ACTIVE; i++)
		start(&buf[i], &rng, ++started);

	while (done < builds) {
		struct buffer *b = &buf[bench_below(&rng, ACTIVE)];

		append(b, &rng);
		if (b->len >= b->target) {
			sum += finish(b);
			done++;
			start(b, &rng, ++started);
		}
	}
	for (i = 0; i < ACTIVE; i++)
		if (buf[i].p != NULL)
			sum += finish(&buf[i]);
	bench_print_checksum(sum ^ builds);
	return 0;
}

/*
 * bench/common.h — helpers shared by the benchmark workloads.
 *
 * Every workload writes into each block it gets from the allocator, checks
 * the block still holds what was written before giving it back, and folds
 * the values it read into a checksum that it prints at the end.  The checksum
 * depends only on the workload's parameters (scale, threads), never on the
 * addresses or timing, so bench/runner can require every allocator to print
 * the same one: an allocator that hands out overlapping blocks, loses data
 * in realloc or never really maps memory cannot pass unnoticed.
 *
 * Command line shared by all workloads:
 *   -s SCALE   multiply the amount of work (default 1.0)
 *   -t N       worker threads, for the threaded workloads (default 2)
 *   -h         usage
 * Output: one line "checksum <16 hex digits>" on stdout; exit status 0.
 * Any verification failure prints a message on stderr and exits 1.
 */
#ifndef KMM_BENCH_COMMON_H
#define KMM_BENCH_COMMON_H

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct bench_args {
	double scale;
	int threads;
};

static void bench_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void bench_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Parse -s/-t/-h.  `what` is a one-line description for the usage text;
 * `threaded` says whether -t means anything to this workload. */
static void bench_parse(int argc, char **argv, const char *what, int threaded,
			struct bench_args *a)
{
	int c;
	char *end;

	a->scale = 1.0;
	a->threads = 2;
	while ((c = getopt(argc, argv, "s:t:h")) != -1) {
		switch (c) {
		case 's':
			a->scale = strtod(optarg, &end);
			if (*end != '\0' || !(a->scale >= 0.0) || a->scale > 1e6)
				bench_die("bad scale '%s'", optarg);
			break;
		case 't':
			a->threads = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || a->threads < 1 || a->threads > 1024)
				bench_die("bad thread count '%s' (1..1024)", optarg);
			break;
		case 'h':
			printf("usage: %s [-s SCALE]%s\n%s\n"
			       "  -s SCALE  multiply the amount of work (default 1)\n"
			       "%s"
			       "Prints \"checksum <hex>\"; exits 1 if any block was corrupted.\n",
			       argv[0], threaded ? " [-t THREADS]" : "", what,
			       threaded ? "  -t N      number of threads (default 2)\n" : "");
			exit(0);
		default:
			exit(2);
		}
	}
	if (optind != argc)
		bench_die("unexpected argument '%s' (try -h)", argv[optind]);
}

/* Scale an iteration count; at least 1 unless the scale is exactly 0. */
static inline uint64_t bench_scaled(uint64_t n, double scale)
{
	double v = (double)n * scale;

	if (scale == 0.0)
		return 0;
	return v < 1.0 ? 1 : (uint64_t)v;
}

/* A 64-bit mixing function (a xorshift-multiply finaliser). */
static inline uint64_t bench_mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ULL;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dULL;
	x ^= x >> 33;
	return x;
}

/* Small, fast, deterministic generator (one per thread). */
struct bench_rng {
	uint64_t s;
};

static inline uint64_t bench_next(struct bench_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return bench_mix(r->s);
}

/* Uniform in [0, n). */
static inline uint64_t bench_below(struct bench_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)bench_next(r) * n) >> 64);
}

/* Uniform in [lo, hi]. */
static inline size_t bench_range(struct bench_rng *r, size_t lo, size_t hi)
{
	return lo + (size_t)bench_below(r, (uint64_t)(hi - lo) + 1);
}

static inline void bench_store(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, sizeof v);
}

static inline uint64_t bench_load(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof v);
	return v;
}

/*
 * Mark a block: one 64-bit word at the start of every 64-byte line and one
 * at the very end, each derived from `tag` and its offset.  Every cache line
 * (and so every page) of the block is written, as a real program would,
 * without turning the benchmark into a memset benchmark.
 */
static inline void bench_fill(void *block, size_t n, uint64_t tag)
{
	unsigned char *p = block;
	size_t off;

	if (n < 8) {
		for (off = 0; off < n; off++)
			p[off] = (unsigned char)bench_mix(tag + off);
		return;
	}
	for (off = 0; off + 8 <= n; off += 64)
		bench_store(p + off, bench_mix(tag ^ off));
	bench_store(p + n - 8, bench_mix(tag ^ (n - 8)) ^ 0x5a5a5a5a5a5a5a5aULL);
}

/* Check a block marked by bench_fill; return a value to fold into a checksum. */
static inline uint64_t bench_verify(const void *block, size_t n, uint64_t tag)
{
	const unsigned char *p = block;
	uint64_t sum = 0, want, got;
	size_t off;

	if (n < 8) {
		for (off = 0; off < n; off++) {
			if (p[off] != (unsigned char)bench_mix(tag + off))
				bench_die("block %p (%zu bytes) corrupted at byte %zu", block, n, off);
			sum = sum * 31 + p[off];
		}
		return sum;
	}
	want = bench_mix(tag ^ (n - 8)) ^ 0x5a5a5a5a5a5a5a5aULL;
	got = bench_load(p + n - 8);
	if (got != want)
		bench_die("block %p (%zu bytes) corrupted at its last word", block, n);
	sum = got;
	for (off = 0; off + 8 <= n - 8; off += 64) {
		got = bench_load(p + off);
		if (got != bench_mix(tag ^ off))
			bench_die("block %p (%zu bytes) corrupted at offset %zu", block, n, off);
		sum += got;
	}
	return sum;
}

static inline void *bench_malloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		bench_die("malloc(%zu) failed", n);
	return p;
}

/* A block a workload holds: its memory, size, and the tag its pattern is
 * derived from. */
struct bench_blk {
	void *p;
	size_t n;
	uint64_t tag;
};

/* Allocate n bytes for b and write its pattern. */
static inline void bench_blk_get(struct bench_blk *b, size_t n, uint64_t tag)
{
	b->n = n;
	b->tag = tag;
	b->p = bench_malloc(n);
	bench_fill(b->p, n, tag);
}

/* Check b's pattern and free it; returns what bench_verify returned. */
static inline uint64_t bench_blk_put(struct bench_blk *b)
{
	uint64_t v = bench_verify(b->p, b->n, b->tag);

	free(b->p);
	b->p = NULL;
	return v;
}

static inline void bench_print_checksum(uint64_t sum)
{
	printf("checksum %016" PRIx64 "\n", sum);
	if (fflush(stdout) != 0)
		exit(1);
}

/* Big blocks touched sparsely, as programs touch big buffers: one word
 * every `stride` bytes of the first `used` bytes, and the last word of the
 * n-byte block.  bench_sparse_fill writes them; bench_sparse_check checks
 * them (dies on a difference) and returns a checksum term. */
static inline void bench_sparse_fill(unsigned char *p, size_t n, size_t used, size_t stride, uint64_t tag)
{
	for (size_t off = 0; off + 8 <= used; off += stride)
		bench_store(p + off, bench_mix(tag ^ off));
	bench_store(p + n - 8, bench_mix(tag ^ n));
}

static inline uint64_t bench_sparse_check(const unsigned char *p, size_t n, size_t used, size_t stride,
					  uint64_t tag)
{
	uint64_t sum = bench_load(p + n - 8);

	if (sum != bench_mix(tag ^ n))
		bench_die("block %p (%zu bytes) corrupted at its last word", (const void *)p, n);
	for (size_t off = 0; off + 8 <= used; off += stride) {
		uint64_t got = bench_load(p + off);

		if (got != bench_mix(tag ^ off))
			bench_die("block %p (%zu bytes) corrupted at offset %zu", (const void *)p, n, off);
		sum += got;
	}
	return sum;
}

/* Run fn once per worker, each in a thread of its own: the n workers are
 * the objects of `size` bytes at `workers`; all threads start before the
 * first is joined.  Dies if a thread cannot be created or joined. */
static inline void bench_run_threads(void *(*fn)(void *), void *workers, size_t size, int n)
{
	pthread_t *th = calloc((size_t)n, sizeof *th);
	int i, err;

	if (th == NULL)
		bench_die("out of memory");
	for (i = 0; i < n; i++)
		if ((err = pthread_create(&th[i], NULL, fn, (char *)workers + (size_t)i * size)) != 0)
			bench_die("pthread_create: %s", strerror(err));
	for (i = 0; i < n; i++)
		if ((err = pthread_join(th[i], NULL)) != 0)
			bench_die("pthread_join: %s", strerror(err));
	free(th);
}

/* Part i of `total` units of work shared out among `parts` threads: the
 * parts differ by at most one unit and add up to total. */
static inline uint64_t bench_share(uint64_t total, int parts, int i)
{
	return total / (uint64_t)parts + ((uint64_t)i < total % (uint64_t)parts);
}

/* Write every byte of the `size`-byte object p `writes` times, reading each
 * value back, then check the final values; returns a checksum term.
 * volatile, so that every write really goes to memory (the false-sharing
 * workloads measure exactly those stores). */
static inline uint64_t bench_hammer(unsigned char *p, unsigned size, unsigned writes, uint64_t iter)
{
	volatile unsigned char *v = p;
	uint64_t sum = 0, salt = bench_mix(iter);
	unsigned r, k;

	for (r = 0; r < writes; r++) {
		for (k = 0; k < size; k++) {
			v[k] = (unsigned char)(salt + r + k);
			sum += v[k];
		}
	}
	for (k = 0; k < size; k++)
		if (v[k] != (unsigned char)(salt + writes - 1 + k))
			bench_die("object %p (%u bytes) corrupted at byte %u", (void *)p, size, k);
	return sum * 0x9e3779b97f4a7c15ULL + salt;
}

#endif /* KMM_BENCH_COMMON_H */

/*
 * bench/fragment.c — workload "fragment": holes that later requests cannot
 * use.
 *
 * The classic fragmentation pattern: allocate many blocks of one size, free
 * every other one, then ask for blocks bigger than the holes just made, so
 * no hole can serve them and the heap must grow; repeat with growing sizes.
 * A round allocates VOLUME bytes' worth of blocks of its size and frees
 * every other one; the sizes grow by half from 16 bytes to 32 KiB over the
 * rounds of a cycle, so every round's holes are too small for all the
 * rounds after it.  At the end of a cycle the surviving blocks are freed,
 * except one in PIN_EVERY, which lives on for PIN_CYCLES more cycles: the
 * next cycle starts again with small blocks, which could reuse the holes
 * and the freed survivors' memory, but the pinned blocks scattered through
 * it keep pages, spans and runs partly in use, so that memory can neither
 * be returned to the kernel whole nor reused by a size-segregated allocator
 * for other sizes unless it manages its free space across size classes.
 *
 * What it measures is mostly peak RSS: an allocator that reuses the holes
 * and the freed survivors' memory for the next cycle stays near the live
 * data (about half of a cycle's volume plus the pins); one that cannot
 * grows by up to the whole volume of a cycle.  Time is the cost of many
 * small allocations and of the page faults of a growing heap.
 *
 * Each cycle's sizes start 8 bytes above the last's (16, 24, 32, 40, then
 * 16 again), so consecutive cycles ask for different sizes, and often
 * different size classes, than the pinned blocks have.
 *
 * -s scales the number of cycles; the shape of a cycle stays the same, so
 * peak RSS at any scale of 1 or more is comparable.
 */
#include "common.h"
#include "align.h"

#define VOLUME     (4u << 20)   /* bytes allocated per round */
#define FIRST      16           /* size of the first round's blocks */
#define MAXSIZE    32768        /* no round's blocks are bigger */
#define CYCLES     10           /* at scale 1 */
#define PIN_EVERY  16           /* one survivor in PIN_EVERY is pinned */
#define PIN_CYCLES 2            /* for this many more cycles */
#define MAXROUNDS  32
#define SHIFTS     4            /* cycles start at 16, 24, 32, 40 bytes */

struct pin {
	void *p;
	size_t n;
	uint64_t tag;
};

static size_t size_of[SHIFTS][MAXROUNDS], count_of[SHIFTS][MAXROUNDS];
static int rounds_of[SHIFTS];

static inline uint64_t tag_of(uint64_t cycle, int round, size_t i)
{
	return 0x667261670000000ULL ^ (cycle << 40) ^ ((uint64_t)round << 32) ^ i;
}

static void *get(size_t n, uint64_t tag)
{
	void *p = bench_malloc(n);

	bench_check_align(p, n, bench_malloc_align(n), "malloc");
	bench_fill(p, n, tag);
	return p;
}

static uint64_t put(void *p, size_t n, uint64_t tag)
{
	uint64_t v = bench_verify(p, n, tag);

	free(p);
	return v;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	void **slot;
	struct pin *pins[PIN_CYCLES + 1];
	size_t npins[PIN_CYCLES + 1] = { 0 }, maxpins = 0, total = 0, s, i, k;
	uint64_t cycles, c, sum = 0, allocs = 0;

	bench_parse(argc, argv,
		    "Rounds of blocks of growing size (16 B..32 KiB), every other one\n"
		    "freed, so the holes are too small for the next rounds; one survivor\n"
		    "in 16 pinned across cycles.  Measures peak RSS above all.", 0, &a);
	cycles = bench_scaled(CYCLES, a.scale);

	/* cycle c's rounds start at FIRST + 8 * (c % SHIFTS) bytes, so
	 * consecutive cycles use different sizes (and often size classes) */
	for (k = 0; k < SHIFTS; k++) {
		size_t tot = 0, pinned = 0;
		int r;

		for (s = FIRST + 8 * k; s <= MAXSIZE && rounds_of[k] < MAXROUNDS; s += s / 2 + 8) {
			r = rounds_of[k]++;
			size_of[k][r] = s;
			count_of[k][r] = VOLUME / s;
			tot += count_of[k][r];
			pinned += count_of[k][r] / 2 / PIN_EVERY + 1;
		}
		if (tot > total)
			total = tot;
		if (pinned > maxpins)
			maxpins = pinned;
	}
	/* the program's own tables, the same for every allocator */
	slot = calloc(total, sizeof *slot);
	if (slot == NULL)
		bench_die("out of memory");
	for (k = 0; k <= PIN_CYCLES; k++)
		if ((pins[k] = calloc(maxpins, sizeof *pins[k])) == NULL)
			bench_die("out of memory");

	for (c = 0; c < cycles; c++) {
		struct pin *mine = pins[c % (PIN_CYCLES + 1)];
		size_t *nmine = &npins[c % (PIN_CYCLES + 1)];
		const size_t *size = size_of[c % SHIFTS], *count = count_of[c % SHIFTS];
		int r, rounds = rounds_of[c % SHIFTS];
		void **t;

		/* the pins of PIN_CYCLES cycles ago go now */
		for (i = 0; i < *nmine; i++)
			sum += put(mine[i].p, mine[i].n, mine[i].tag);
		*nmine = 0;

		for (r = 0, t = slot; r < rounds; t += count[r], r++) {
			s = size[r];
			for (i = 0; i < count[r]; i++)
				t[i] = get(s, tag_of(c, r, i));
			allocs += count[r];
			/* every other one: holes of exactly s bytes between live blocks */
			for (i = 1; i < count[r]; i += 2) {
				sum += put(t[i], s, tag_of(c, r, i));
				t[i] = NULL;
			}
		}
		/* the survivors go, but for one in PIN_EVERY */
		for (r = 0, t = slot; r < rounds; t += count[r], r++) {
			s = size[r];
			for (i = 0; i < count[r]; i += 2) {
				if ((i / 2) % PIN_EVERY == PIN_EVERY / 2) {
					mine[*nmine].p = t[i];
					mine[*nmine].n = s;
					mine[*nmine].tag = tag_of(c, r, i);
					++*nmine;
				} else {
					sum += put(t[i], s, tag_of(c, r, i)) * 3;
				}
				t[i] = NULL;
			}
		}
	}
	for (k = 0; k <= PIN_CYCLES; k++) {
		for (i = 0; i < npins[k]; i++)
			sum += put(pins[k][i].p, pins[k][i].n, pins[k][i].tag);
		free(pins[k]);
	}
	free(slot);
	bench_print_checksum(sum ^ allocs ^ ((uint64_t)rounds_of[0] << 56));
	return 0;
}

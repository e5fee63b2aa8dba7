/*
 * free_and_sbrk.c — does free() lower the program break?
 *
 * After the idea of the free_and_sbrk program in The Linux Programming
 * Interface (ch. 7), which the seed slides run under strace: allocate
 * num-allocs blocks of block-size bytes, free every step-th block from
 * number min to number max (counting from 1), and print the program break
 * at the start, after the allocations and after the frees.
 *
 * What to look for:
 *   free_and_sbrk 1000 10240 2        every second block freed: the freed
 *                                     blocks sit between blocks in use, so
 *                                     the break does not move
 *   free_and_sbrk 1000 10240 1 1 999  all but the last: the last block
 *                                     still pins the top, no move
 *   free_and_sbrk 1000 10240 1 500 1000  the top half: the free space at
 *                                     the top passes the trim threshold
 *                                     (128 KiB): free() lowers the break
 * Under strace (`strace -e trace=brk ./free_and_sbrk 1000 10240 1 500`)
 * each growth and each lowering of the break is one brk(...) line.  Blocks
 * of 128 KiB or more do not come from the heap at all (mmap under glibc, a
 * vmalloc area under kmm), so they never move the break.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ALLOCS 100000

static char outbuf[8192];       /* printf must not malloc (see first_malloc.c) */
static char *blocks[MAX_ALLOCS]; /* static: the array itself is not on the heap */

static void usage(FILE *f)
{
	fprintf(f,
"usage: free_and_sbrk num-allocs block-size [step [min [max]]]\n"
"\n"
"Allocates num-allocs blocks of block-size bytes, then frees every step-th\n"
"block from number min to number max (default: step 1, min 1, max\n"
"num-allocs: all of them), printing the program break at the start, after\n"
"the allocations and after the frees (as offsets from the start).  Freeing\n"
"blocks in the middle leaves the break where it is; freeing the blocks at\n"
"the top lowers it once the free space there passes 128 KiB.\n"
"num-allocs is at most %d.\n"
"\n"
"Try:  ./free_and_sbrk 1000 10240 2\n"
"      ./free_and_sbrk 1000 10240 1 500\n"
"      strace -e trace=brk ./free_and_sbrk 1000 10240 1 500\n"
"      LD_PRELOAD=/path/to/libkmm.so ./free_and_sbrk 1000 10240 1 500\n",
		MAX_ALLOCS);
}

/* A whole decimal number in [lo, hi], or exit with a message. */
static long number(const char *s, const char *what, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "free_and_sbrk: %s must be a number from %ld to %ld, not '%s'\n",
			what, lo, hi, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 3 || argc > 6) {
		usage(stderr);
		return 2;
	}
	setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);

	long num = number(argv[1], "num-allocs", 1, MAX_ALLOCS);
	long size = number(argv[2], "block-size", 1, 1L << 30);
	long step = argc > 3 ? number(argv[3], "step", 1, num) : 1;
	long min = argc > 4 ? number(argv[4], "min", 1, num) : 1;
	long max = argc > 5 ? number(argv[5], "max", min, num) : num;

	char *start = sbrk(0);
	printf("initial program break:     %p (\"start\")\n", (void *)start);

	printf("allocating %ld blocks of %ld bytes\n", num, size);
	for (long i = 0; i < num; i++) {
		blocks[i] = malloc((size_t)size);
		if (!blocks[i]) {
			perror("malloc");
			return 1;
		}
	}
	char *peak = sbrk(0);
	printf("program break is now:      start + %#tx (%td KiB)\n", peak - start,
	       (peak - start) / 1024);

	printf("freeing blocks from %ld to %ld in steps of %ld\n", min, max, step);
	long freed = 0, lowered = 0;
	for (long i = min - 1; i < max; i += step) {
		char *before = sbrk(0);
		free(blocks[i]);
		freed++;
		if ((char *)sbrk(0) < before)
			lowered++;
	}
	char *after = sbrk(0);
	printf("after free(), break is:    start + %#tx (%td KiB)\n", after - start,
	       (after - start) / 1024);

	if ((size_t)(peak - start) < (size_t)num * (size_t)size)
		printf("%ld blocks freed.  The heap grew by less than the blocks take: blocks of\n"
		       "128 KiB or more are not on the heap, each has a mapping of its own (glibc:\n"
		       "mmap; kmm: a vmalloc area), and free() releases them without touching\n"
		       "the break.  (The first malloc still set the heap up: 0x21000.)\n", freed);
	else if (after < peak)
		printf("%ld blocks freed; %ld of the frees lowered the break, by %td KiB in all:\n"
		       "the freed blocks at the top merged into free space there, which passed\n"
		       "the 128 KiB trim threshold, and free() gave it back to the kernel.\n",
		       freed, lowered, (peak - after) / 1024);
	else
		printf("%ld blocks freed; the break did not move: the freed blocks are not at\n"
		       "the top of the heap (a block in use sits above them), or the free space\n"
		       "at the top stayed under the 128 KiB trim threshold.  The memory stays\n"
		       "with malloc, for reuse.\n", freed);
	return 0;
}

/*
 * trim.c — free() giving heap memory back: the trim threshold.
 *
 * The seed slides: "The heap can be trimmed only if memory is freed at the
 * top end."  Free space at the end of the heap (the "top chunk") goes back
 * to the kernel when it grows past the trim threshold (M_TRIM_THRESHOLD,
 * 128 KiB by default): free() then lowers the break with brk(), keeping
 * 128 KiB (M_TOP_PAD) for the next mallocs.
 *
 * Part 1: allocate 64 KiB blocks until the heap has grown by 1 MiB, then
 * free them in reverse order.  Each freed block borders the top chunk and
 * merges into it; every time the top passes 128 KiB, free() trims: the
 * break goes down several times and ends 128 KiB (and a little) above the
 * start.
 *
 * Part 2: the same after mallopt(M_TRIM_THRESHOLD, 64 MiB): the top never
 * reaches the threshold, so the memory stays (no brk at all while
 * freeing), until malloc_trim(0) asks for it to be given back.
 *
 * Under strace (`strace -e trace=brk ./trim`): the growing brk(...) lines
 * while allocating, then one shrinking brk(...) per trim this program
 * counts, none in part 2 until malloc_trim.  kmm's heap (LD_PRELOAD) does
 * the same arithmetic: the same lines.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK   (64 * 1024)     /* under the 128 KiB mmap threshold: from the heap */
#define GROWTH  (1024 * 1024)   /* allocate until the break has grown this much */
#define MAXBLK  64

static char outbuf[8192];       /* printf must not malloc (see first_malloc.c) */
static char *start;             /* the initial break */
static void *blocks[MAXBLK];    /* static: the array itself is not on the heap */

static const char *size_str(size_t n)
{
	static char bufs[4][64];
	static unsigned i;
	char *b = bufs[i++ % 4];

	if (n == 0)
		snprintf(b, 64, "0");
	else if (n % 4096 == 0)
		snprintf(b, 64, "%#zx = %zu KiB", n, n / 1024);
	else
		snprintf(b, 64, "%#zx = %zu bytes", n, n);
	return b;
}

static void say_break(const char *when)
{
	char *now = sbrk(0);
	printf("  %-28s start + %s\n", when, size_str((size_t)(now - start)));
}

/* Allocate blocks until the break is `growth` bytes above where it was;
 * return how many. */
static int fill(size_t growth)
{
	char *base = sbrk(0);
	int n = 0;

	while ((size_t)((char *)sbrk(0) - base) < growth && n < MAXBLK) {
		blocks[n] = malloc(BLOCK);
		if (!blocks[n]) {
			perror("malloc");
			exit(1);
		}
		n++;
	}
	return n;
}

/* Free blocks[n-1] .. blocks[0]; return how many times the break went down. */
static int free_reverse(int n)
{
	int trims = 0;

	for (int i = n - 1; i >= 0; i--) {
		char *before = sbrk(0);
		free(blocks[i]);
		if ((char *)sbrk(0) < before)
			trims++;
	}
	return trims;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: trim\n"
"\n"
"Shows free() giving memory back to the kernel: %d KiB blocks are allocated\n"
"until the heap has grown by 1 MiB, then freed from the last one down.  Each\n"
"time the free space at the end of the heap passes the trim threshold\n"
"(128 KiB), free() lowers the program break.  Then again with the trim\n"
"threshold raised by mallopt(M_TRIM_THRESHOLD): the memory stays, until\n"
"malloc_trim(0).  Offsets are from the initial break.\n"
"\n"
"Try:  strace -e trace=brk ./trim\n"
"      LD_PRELOAD=/path/to/libkmm.so ./trim\n", BLOCK / 1024);
}

/* One round: grow the heap by GROWTH, free it all last first, and report
 * the break at each step and what was kept at the top. */
static void grow_and_free(const char *verdict)
{
	say_break("break before:");
	int n = fill(GROWTH);
	printf("  allocated %d blocks of %d KiB\n", n, BLOCK / 1024);
	say_break("break at its peak:");
	int trims = free_reverse(n);
	printf("  freed them, last first: the break went down %d times\n", trims);
	say_break("break after:");
	printf("  free space kept at the top (mallinfo2 keepcost): %s\n",
	       size_str(mallinfo2().keepcost));
	printf("  -> %s\n", verdict);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);
	start = sbrk(0);

	printf("Part 1: the default trim threshold (128 KiB)\n");
	grow_and_free("trimmed back: what is left is the 128 KiB top pad and a little");

	printf("\nPart 2: mallopt(M_TRIM_THRESHOLD, 64 MiB)\n");
	if (mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024) != 1)
		printf("  mallopt failed\n");
	grow_and_free("kept: the top never reached the raised threshold");
	malloc_trim(0);
	say_break("after malloc_trim(0):");
	printf("  -> malloc_trim gives the free top back on request\n");
	return 0;
}

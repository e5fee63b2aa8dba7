/*
 * first_malloc.c — how far the first malloc() moves the program break, and
 * how the heap grows after that.
 *
 * The seed slides ("strace observation: allocate space via malloc()") show
 * a program's first small malloc() growing the heap by 0x21000 bytes
 * (132 KiB, 33 pages): 0x555555559000 -> 0x55555557a000.  That number is
 * glibc's arithmetic, which kmm's heap copies.  The first call first sets
 * up malloc's per-thread cache (tcache), a 0x290-byte chunk, and the heap
 * is still empty, so malloc asks the kernel for
 *
 *     0x290        the tcache
 *   + 128 KiB      "top pad": room for the next mallocs, so they need no system call
 *   + 32           room for a minimal free chunk at the end
 *   = 0x202b0, rounded up to whole pages = 0x21000
 *
 * and the 1 KiB block (a 0x410-byte chunk: 1024 + 8 of header, rounded to
 * 16) is cut from the 128 KiB left over.
 *
 * Everything above the blocks handed out so far is the "top chunk".  When
 * it is used up, malloc grows the break again by (request + 128 KiB + 32 -
 * what was left of the top), rounded up to pages: for 1 KiB blocks, 0x21000
 * again.
 *
 * This program reads the break with sbrk(0) before the first malloc, after
 * it, and then after each 1 KiB malloc, reporting every growth.
 *
 * Under strace (`strace -e trace=brk ./first_malloc`) look for:
 *   brk(NULL)          = B           twice: the dynamic loader at start-up,
 *                                    then our first sbrk(0) reading the break
 *   brk(B + 0x21000)   = B + 0x21000 the first malloc (the seed's line)
 *   one more brk(...) line per growth this program reports.
 * Under kmm (LD_PRELOAD=libkmm.so) the numbers are the same.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK   1024    /* the size of every block */
#define GROWTHS 5       /* how many growths after the first one to report */
#define STILL_MAX 65536L /* blocks without a growth before giving up (64 MiB) */

/* stdout writes from a static buffer: if printf had to malloc its buffer,
 * it would move the very break we are watching. */
static char outbuf[8192];

/* A size in words: "0x21000 = 132 KiB = 33 pages". */
static const char *size_str(size_t n)
{
	static char bufs[4][64];
	static unsigned i;
	char *b = bufs[i++ % 4];

	if (n % 4096 == 0)
		snprintf(b, 64, "%#zx = %zu KiB = %zu pages", n, n / 1024, n / 4096);
	else if (n % 1024 == 0)
		snprintf(b, 64, "%#zx = %zu KiB", n, n / 1024);
	else
		snprintf(b, 64, "%#zx = %zu bytes", n, n);
	return b;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: first_malloc\n"
"\n"
"Shows how the first malloc() grows the program break (the end of the heap):\n"
"by 0x21000 bytes (132 KiB = 33 pages), the seed's strace line, because\n"
"malloc asks for 128 KiB more than it needs (the top pad).  Then it keeps\n"
"allocating %d-byte blocks and reports the next %d growths of the break.\n"
"Offsets are printed from the initial break, so runs can be compared.\n"
"\n"
"Try:  strace -e trace=brk ./first_malloc\n"
"      LD_PRELOAD=/path/to/libkmm.so ./first_malloc\n", BLOCK, GROWTHS);
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

	/* 1. The break before any malloc: the heap is still empty. */
	char *start = sbrk(0);
	printf("initial program break:  %p  (\"start\" below)\n", (void *)start);

	/* 2. The first malloc. */
	char *p = malloc(BLOCK);
	char *brk1 = sbrk(0);
	if (!p) {
		perror("malloc");
		return 1;
	}
	printf("\nmalloc(%d), the program's first malloc:\n", BLOCK);
	printf("  the block is at start + %#tx (after malloc's 0x290-byte tcache and a 16-byte header)\n",
	       p - start);
	if (brk1 == start) {
		printf("  the break did not move: something grew the heap before main()\n");
	} else {
		printf("  the break grew by %s\n", size_str((size_t)(brk1 - start)));
		printf("  %p -> %p  (the seed: 0x555555559000 -> 0x55555557a000, +0x21000)\n",
		       (void *)start, (void *)brk1);
		printf("  that is 0x290 for malloc's tcache + 128 KiB of top pad + 32, in whole pages;\n"
		       "  this block was cut from that\n");
	}

	/* 3. Keep allocating until the break has grown GROWTHS more times. */
	printf("\nnow malloc(%d) again and again (never freed):\n", BLOCK);
	char *brk = brk1;
	long blocks = 1, since = 0;
	for (int g = 1; g <= GROWTHS;) {
		if (!malloc(BLOCK)) {
			perror("malloc");
			return 1;
		}
		blocks++;
		since++;
		char *now = sbrk(0);
		if (now == brk && since == STILL_MAX) {
			/* kmm's default profile serves small blocks from slabs,
			 * which do not live on the break */
			printf("  the break has not moved in %ld blocks (%s): this malloc does not take\n"
			       "  small blocks from the break (kmm's default profile serves them from\n"
			       "  slabs; KMM_OPTIONS=profile=glibc behaves as glibc does); stopping\n",
			       since, size_str((size_t)since * BLOCK));
			break;
		}
		if (now != brk) {
			printf("  growth %d: after %ld more blocks, the break grew by %s; now start + %#tx\n",
			       g, since, size_str((size_t)(now - brk)), now - start);
			brk = now;
			since = 0;
			g++;
		}
	}

	/* 4. What malloc says about its heap. */
	struct mallinfo2 mi = mallinfo2();
	printf("\n%ld blocks of %d bytes; mallinfo2() says:\n", blocks, BLOCK);
	printf("  arena    = %s  (all the heap got from brk: the break - start)\n",
	       size_str(mi.arena));
	printf("  uordblks = %s  (in use: the blocks, their headers, the tcache)\n",
	       size_str(mi.uordblks));
	printf("  keepcost = %s  (the top chunk: free space at the end of the heap)\n",
	       size_str(mi.keepcost));
	printf("\nEach growth is one brk() system call in strace; between them malloc\n"
	       "serves blocks from the top chunk without asking the kernel.\n");
	return 0;
}
